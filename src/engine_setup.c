/* Building and freeing an engine: one owner for every allocation, range
 * checks of every index before the first evaluation, workspaces sized once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "engine_person.h"

/* Draws per block: long enough for SIMD loops, short enough that a thread's
 * workspace stays in cache. */
#define ICLV_BLOCK 64

/* Arrays an engine owns: plan, data, draws and view (under 64) and the
 * Hessian's (engine_hessian.c, 15), plus the workspace arrays of each
 * thread (16, and 9 for the Hessian). */
#define ICLV_FIXED_ALLOCS 80
#define ICLV_THREAD_ALLOCS 28

iclv_engine *iclv_engine_new(int n_threads) {
  iclv_engine *e = calloc(1, sizeof(iclv_engine));
  if (e == NULL) return NULL;
  e->max_allocs = ICLV_FIXED_ALLOCS + ICLV_THREAD_ALLOCS * (n_threads < 1 ? 1 : n_threads);
  e->allocs = calloc((size_t) e->max_allocs, sizeof(void *));
  if (e->allocs == NULL) {
    free(e);
    return NULL;
  }
  return e;
}

void *iclv_engine_alloc(iclv_engine *e, size_t count, size_t size) {
  if (e->n_allocs >= e->max_allocs) return NULL;
  if (count == 0) count = 1; /* a valid pointer even for empty arrays */
  void *ptr = calloc(count, size);
  if (ptr == NULL) return NULL;
  e->allocs[e->n_allocs++] = ptr;
  e->host_bytes += count * size;
  return ptr;
}

void iclv_engine_alloc_message(const iclv_engine *e, char *msg, size_t len) {
  if (e->n_allocs >= e->max_allocs)
    snprintf(msg, len,
             "internal error: the engine's table of %d arrays is full (raise "
             "ICLV_FIXED_ALLOCS or ICLV_THREAD_ALLOCS in src/engine_setup.c)",
             e->max_allocs);
  else
    snprintf(msg, len, "out of memory building the engine (%.1f MB allocated so far)",
             (double) e->host_bytes / 1048576.0);
}

void iclv_engine_free(iclv_engine *e) {
  if (e == NULL) return;
  for (int i = 0; i < e->n_allocs; i++) free(e->allocs[i]);
  free(e->allocs);
  free(e);
}

#define FAIL(...)                           \
  do {                                      \
    snprintf(err, errlen, __VA_ARGS__);     \
    return 1;                               \
  } while (0)

static int check_params(const int *index, int count, int n_par, int allow_absent,
                        const char *what, char *err, size_t errlen) {
  for (int i = 0; i < count; i++)
    if (index[i] < (allow_absent ? -1 : 0) || index[i] >= n_par)
      FAIL("plan: %s[%d] = %d is not a parameter index (0..%d)", what, i, index[i], n_par - 1);
  return 0;
}

static int check_range(const int *index, int count, int lo, int hi, const char *what,
                       char *err, size_t errlen) {
  for (int i = 0; i < count; i++)
    if (index[i] < lo || index[i] > hi)
      FAIL("%s[%d] = %d is outside %d..%d", what, i, index[i], lo, hi);
  return 0;
}

static int check_ptr(const int *ptr, int n, int total, const char *what, char *err,
                     size_t errlen) {
  if (ptr[0] != 0 || ptr[n] != total) FAIL("%s does not span its %d entries", what, total);
  for (int i = 0; i < n; i++)
    if (ptr[i + 1] < ptr[i]) FAIL("%s decreases at %d", what, i);
  return 0;
}

int iclv_engine_validate(const iclv_engine *e, char *err, size_t errlen) {
  const iclv_plan *p = &e->plan;
  const iclv_data *d = &e->data;
  const int L = p->n_lv, K = p->n_ind, P = p->n_par;
  /* The CSR pointers first: every check below uses them. The glue makes each
   * array as long as its pointer's last entry, so 0 first and no decrease
   * keep every range inside its array. */
  if (check_ptr(p->lv_cov_ptr, L, p->lv_cov_ptr[L], "plan: lv_cov_ptr", err, errlen) ||
      check_ptr(p->lv_path_ptr, L, p->lv_path_ptr[L], "plan: lv_path_ptr", err, errlen) ||
      check_ptr(p->ind_load_ptr, K, p->ind_load_ptr[K], "plan: ind_load_ptr", err, errlen) ||
      check_ptr(p->ind_thr_ptr, K, p->ind_thr_ptr[K], "plan: ind_thr_ptr", err, errlen))
    return 1;
  if (check_params(p->lv_alpha, L, P, 1, "lv_alpha", err, errlen) ||
      check_params(p->lv_sigma, L, P, 1, "lv_sigma", err, errlen) ||
      check_params(p->lv_cov_par, p->lv_cov_ptr[L], P, 0, "lv_cov_par", err, errlen) ||
      check_range(p->lv_cov_col, p->lv_cov_ptr[L], 0, p->n_cov - 1, "lv_cov_col", err, errlen) ||
      check_params(p->lv_path_par, p->lv_path_ptr[L], P, 0, "lv_path_par", err, errlen) ||
      check_params(p->ind_intercept, K, P, 1, "ind_intercept", err, errlen) ||
      check_params(p->ind_scale, K, P, 1, "ind_scale", err, errlen) ||
      check_params(p->ind_load_par, p->ind_load_ptr[K], P, 0, "ind_load_par", err, errlen) ||
      check_range(p->ind_load_lv, p->ind_load_ptr[K], 0, L - 1, "ind_load_lv", err, errlen) ||
      check_params(p->ind_thr_par, p->ind_thr_ptr[K], P, 0, "ind_thr_par", err, errlen) ||
      check_range(p->ind_family, K, 0, 2, "ind_family", err, errlen) ||
      check_params(p->util_par, p->n_term, P, 1, "util_par", err, errlen) ||
      check_range(p->util_alt, p->n_term, 0, p->n_alt - 1, "util_alt", err, errlen) ||
      check_range(p->util_lv, p->n_term, -1, L - 1, "util_lv", err, errlen))
    return 1;
  for (int l = 0; l < L; l++)
    ICLV_CSR_FOR(i, p->lv_path_ptr, l)
      if (p->lv_path_from[i] < 0 || p->lv_path_from[i] >= l)
        FAIL("plan: latent variable %d depends on %d, which does not come before it", l,
             p->lv_path_from[i]);
  if (check_ptr(p->lv_chol_ptr, L, p->lv_chol_ptr[L], "plan: lv_chol_ptr", err, errlen) ||
      check_params(p->lv_chol_par, p->lv_chol_ptr[L], P, 0, "lv_chol_par", err, errlen) ||
      check_range(p->lv_kind, L, ICLV_DIM_LATENT, ICLV_DIM_TRIANGULAR, "lv_kind", err, errlen))
    return 1;
  for (int l = 0; l < L; l++)
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
      if (p->lv_chol_from[i] < 0 || p->lv_chol_from[i] >= l ||
          iclv_dim_maps_draw(p->lv_kind[l]) || iclv_dim_maps_draw(p->lv_kind[p->lv_chol_from[i]]))
        FAIL("plan: dimension %d has a Cholesky entry on %d, which is not an earlier normal-based dimension",
             l, p->lv_chol_from[i]);
  for (int m = 0; m < p->n_term; m++)
    if (p->util_par[m] < 0 && p->util_lv[m] < 0)
      FAIL("plan: utility term %d has neither a coefficient nor a dimension", m + 1);
  for (int k = 0; k < K; k++) {
    if (ICLV_CSR_COUNT(p->ind_load_ptr, k) == 0)
      FAIL("plan: indicator %d has no loading", k + 1);
    int n_thr = ICLV_CSR_COUNT(p->ind_thr_ptr, k);
    int want = p->ind_family[k] == 2 ? 0 : p->ind_ncat[k] - 1;
    if (n_thr != want || (p->ind_family[k] != 2 && p->ind_ncat[k] < 2))
      FAIL("plan: indicator %d has %d thresholds for %d categories", k, n_thr, p->ind_ncat[k]);
  }
  for (int n = 0; n < d->n_indiv; n++)
    for (int k = 0; k < K; k++) {
      int a = d->ind_cat[(size_t) n * K + k];
      if (p->ind_family[k] != 2 && (a < 0 || a > p->ind_ncat[k]))
        FAIL("data: individual %d has answer %d to indicator %d (%d categories)", n + 1, a,
             k + 1, p->ind_ncat[k]);
    }
  if (check_ptr(d->task_ptr, d->n_indiv, d->n_tasks, "task_ptr", err, errlen) ||
      check_range(d->avail_alt, d->avail_ptr[d->n_tasks], 0, p->n_alt - 1, "avail", err, errlen))
    return 1;
  for (int t = 0; t < d->n_tasks; t++) {
    int chosen_available = 0;
    ICLV_CSR_FOR(a, d->avail_ptr, t)
      chosen_available |= d->avail_alt[a] == d->choice[t];
    if (!chosen_available) FAIL("data: task %d chooses an unavailable alternative", t + 1);
  }
  return 0;
}

#define ALLOC(ptr, count) ICLV_ENGINE_ALLOC(e, ptr, count, err, errlen)

int iclv_draws_alloc(iclv_engine *e, char *err, size_t errlen) {
  iclv_draws *dr = &e->draws;
  const int N = e->data.n_indiv;
#define ALLOC_DRAWS(type, name, count) \
  dr->name = NULL;                     \
  if ((count) > 0) ALLOC(dr->name, (count));
  ICLV_DRAWS_ARRAYS(ALLOC_DRAWS)
#undef ALLOC_DRAWS
  return 0;
}

int iclv_engine_finish(iclv_engine *e, int n_threads, char *err, size_t errlen) {
  iclv_plan *p = &e->plan;
  iclv_data *d = &e->data;
  const int L = p->n_lv, K = p->n_ind, J = p->n_alt;

  /* Utility terms grouped by alternative. */
  ALLOC(p->alt_term_ptr, J + 1);
  ALLOC(p->alt_term, p->n_term);
  for (int m = 0; m < p->n_term; m++) p->alt_term_ptr[p->util_alt[m] + 1]++;
  for (int j = 0; j < J; j++) p->alt_term_ptr[j + 1] += p->alt_term_ptr[j];
  for (int j = 0, i = 0; j < J; j++)
    for (int m = 0; m < p->n_term; m++)
      if (p->util_alt[m] == j) p->alt_term[i++] = m;

  d->max_tasks = 0;
  for (int n = 0; n < d->n_indiv; n++) {
    int t = ICLV_CSR_COUNT(d->task_ptr, n);
    if (t > d->max_tasks) d->max_tasks = t;
  }

  ALLOC(p->alt_n_fixed, J);
  for (int m = 0; m < p->n_term; m++)
    if (p->util_lv[m] < 0) p->alt_n_fixed[p->util_alt[m]]++;

  /* Each indicator's bounds in the view: -inf, its thresholds, +inf. */
  ALLOC(p->ind_tau_ptr, K + 1);
  for (int k = 0; k < K; k++)
    p->ind_tau_ptr[k + 1] = p->ind_tau_ptr[k] + ICLV_CSR_COUNT(p->ind_thr_ptr, k) + 2;
  iclv_theta_view *v = &e->view;
#define ALLOC_VIEW(type, name, count) ALLOC(v->name, count);
  ICLV_VIEW_ARRAYS(ALLOC_VIEW)
#undef ALLOC_VIEW

  e->block = e->draws.n_draws < ICLV_BLOCK ? e->draws.n_draws : ICLV_BLOCK;
  e->n_threads = n_threads < 1 ? 1 : n_threads;
  ALLOC(e->ws, e->n_threads);
  const size_t B = (size_t) e->block;
  for (int t = 0; t < e->n_threads; t++) {
    iclv_workspace *w = e->ws + t;
    ALLOC(w->lv, L * B);
    ALLOC(w->dlv, L * B);
    ALLOC(w->draw_value, L * B);
    ALLOC(w->mu, B);
    ALLOC(w->loglik_draw, B);
    ALLOC(w->weight, B);
    ALLOC(w->d_tau_hi, K * B);
    ALLOC(w->d_tau_lo, K * B);
    ALLOC(w->d_mu, K * B);
    ALLOC(w->d_scale, K * B);
    ALLOC(w->util, J * B);
    ALLOC(w->util_max, B);
    ALLOC(w->util_sum, B);
    ALLOC(w->choice_dv, (size_t) d->max_tasks * J * B);
    ALLOC(w->lv_mean, L);
    ALLOC(w->task_base, (size_t) d->max_tasks * J);
    ALLOC(w->post, 4 * L);
  }
  ALLOC(e->loglik_indiv, d->n_indiv);
  ALLOC(e->nonpositive, d->n_indiv);
  ALLOC(e->grad_indiv, (size_t) d->n_indiv * p->n_par);
  return 0;
}
