/* A seeded random driver for the pure-C engine (src/engine.c,
 * src/engine_setup.c): random plans, data, draws and theta, built the way
 * src/engine_glue.c builds them; valid ones must validate, evaluate to a
 * finite log-likelihood and gradient (checked against central differences)
 * and predict; each is then corrupted once (an index out of its range, a
 * CSR pointer out of order, an answer outside its categories, a choice of an
 * unavailable alternative, ...) and iclv_engine_validate() must reject it.
 * Everything is built through iclv_engine_alloc(), so iclv_engine_free()
 * must free it all (LeakSanitizer checks).
 *
 * Build and run (from the package root):
 *   gcc -std=c99 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
 *       -fno-sanitize-recover=undefined -Isrc -o /tmp/fuzz_engine \
 *       tools/fuzz/fuzz_engine.c src/engine.c src/engine_setup.c -lm
 *   /tmp/fuzz_engine [seconds=60] [seed=1]
 * With ICLV_FUZZ_EVAL_ACCEPTED=1 in the environment, a corrupted engine that
 * validate accepts is evaluated anyway (the sanitizers then show what the
 * missing check lets through). Exit status: 0 when nothing was found.
 *
 * The driver is a test tool, not package code: it prints with printf. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"

/* ---- a small seeded generator (xorshift64*) ------------------------------ */

static unsigned long long rng_state = 88172645463325252ULL;

static unsigned long long rng_next(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

/* Uniform integer in lo..hi (inclusive). */
static int rng_int(int lo, int hi) {
  return lo + (int) (rng_next() % (unsigned long long) (hi - lo + 1));
}

static double rng_unif(double lo, double hi) {
  return lo + (hi - lo) * ((double) (rng_next() >> 11) / 9007199254740992.0);
}

static double rng_normal(void) {
  double u = rng_unif(1e-12, 1.0), v = rng_unif(0.0, 1.0);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- building a random valid engine -------------------------------------- */

#define MAX_ITEMS 64
#define ALLOC(e, n, type) ((type *) iclv_engine_alloc((e), (size_t) (n), sizeof(type)))

/* Parameter kinds, to draw valid theta. */
enum { K_FREE, K_SCALE, K_THRESHOLD };

typedef struct fuzz_case {
  iclv_engine *e;
  int n_threshold_sets;
  int par_kind[512];
  /* threshold parameters of each indicator in order (for valid theta) */
  int symmetric[MAX_ITEMS];
  int signed_weights;
} fuzz_case;

static int new_param(fuzz_case *fc, int kind) {
  iclv_plan *p = &fc->e->plan;
  fc->par_kind[p->n_par] = kind;
  return p->n_par++;
}

/* Builds plan, data and draws; NULL when out of memory. */
static iclv_engine *build_engine(fuzz_case *fc) {
  iclv_engine *e = iclv_engine_new(1);
  if (e == NULL) return NULL;
  fc->e = e;
  fc->signed_weights = 0;
  iclv_plan *p = &e->plan;
  const int L = rng_int(1, 3), K = rng_int(1, 6), C = rng_int(0, 2);
  const int J = rng_int(0, 1) ? rng_int(2, 3) : 0;
  const int M = J ? rng_int(0, 5) : 0;
  p->n_lv = L;
  p->n_ind = K;
  p->n_cov = C;
  p->n_alt = J;
  p->n_term = M;
  p->n_par = 0;

  p->lv_alpha = ALLOC(e, L, int);
  p->lv_sigma = ALLOC(e, L, int);
  p->lv_cov_ptr = ALLOC(e, L + 1, int);
  p->lv_path_ptr = ALLOC(e, L + 1, int);
  int cov_count[3], path_count[3], n_cov = 0, n_path = 0;
  for (int l = 0; l < L; l++) {
    cov_count[l] = rng_int(0, C);
    path_count[l] = rng_int(0, l);
    n_cov += cov_count[l];
    n_path += path_count[l];
    p->lv_cov_ptr[l + 1] = n_cov;
    p->lv_path_ptr[l + 1] = n_path;
  }
  p->lv_cov_col = ALLOC(e, n_cov, int);
  p->lv_cov_par = ALLOC(e, n_cov, int);
  p->lv_path_from = ALLOC(e, n_path, int);
  p->lv_path_par = ALLOC(e, n_path, int);
  for (int l = 0; l < L; l++) {
    p->lv_alpha[l] = rng_int(0, 3) == 0 ? new_param(fc, K_FREE) : -1;
    p->lv_sigma[l] = rng_int(0, 1) ? new_param(fc, K_SCALE) : -1;
    for (int i = p->lv_cov_ptr[l]; i < p->lv_cov_ptr[l + 1]; i++) {
      p->lv_cov_col[i] = rng_int(0, C - 1);
      p->lv_cov_par[i] = new_param(fc, K_FREE);
    }
    for (int i = p->lv_path_ptr[l]; i < p->lv_path_ptr[l + 1]; i++) {
      p->lv_path_from[i] = rng_int(0, l - 1);
      p->lv_path_par[i] = new_param(fc, K_FREE);
    }
  }

  p->ind_family = ALLOC(e, K, int);
  p->ind_ncat = ALLOC(e, K, int);
  p->ind_intercept = ALLOC(e, K, int);
  p->ind_scale = ALLOC(e, K, int);
  p->ind_load_ptr = ALLOC(e, K + 1, int);
  p->ind_thr_ptr = ALLOC(e, K + 1, int);
  int n_load = 0, n_thr = 0;
  for (int k = 0; k < K; k++) {
    p->ind_family[k] = rng_int(0, 2);
    p->ind_ncat[k] = p->ind_family[k] == 2 ? 0 : rng_int(2, 5);
    n_load += rng_int(1, L < 2 ? L : 2);
    n_thr += p->ind_family[k] == 2 ? 0 : p->ind_ncat[k] - 1;
    p->ind_load_ptr[k + 1] = n_load;
    p->ind_thr_ptr[k + 1] = n_thr;
  }
  p->ind_load_lv = ALLOC(e, n_load, int);
  p->ind_load_par = ALLOC(e, n_load, int);
  p->ind_thr_par = ALLOC(e, n_thr, int);
  p->ind_thr_sign = ALLOC(e, n_thr, double);
  for (int k = 0; k < K; k++) {
    p->ind_intercept[k] = rng_int(0, 2) == 0 ? new_param(fc, K_FREE) : -1;
    p->ind_scale[k] = rng_int(0, 1) || p->ind_family[k] == 2 ? new_param(fc, K_SCALE) : -1;
    for (int i = p->ind_load_ptr[k]; i < p->ind_load_ptr[k + 1]; i++) {
      p->ind_load_lv[i] = (i - p->ind_load_ptr[k] + rng_int(0, L - 1)) % L;
      p->ind_load_par[i] = new_param(fc, K_FREE);
    }
    const int first = p->ind_thr_ptr[k], count = p->ind_thr_ptr[k + 1] - first;
    fc->symmetric[k] = count > 0 && rng_int(0, 3) == 0;
    if (!fc->symmetric[k]) {
      for (int j = 0; j < count; j++) {
        p->ind_thr_par[first + j] = new_param(fc, K_THRESHOLD);
        p->ind_thr_sign[first + j] = 1.0;
      }
    } else {
      /* Upper half are parameters; the lower half mirror them; an odd
       * middle is 0 (sign 0, pointing at any parameter of the set). */
      const int half = count / 2;
      int upper[4];
      for (int j = 0; j < half; j++) upper[j] = new_param(fc, K_THRESHOLD);
      int anchor = half > 0 ? upper[0] : new_param(fc, K_FREE);
      for (int j = 0; j < count; j++) {
        const int from_top = count - 1 - j;
        if (j >= count - half) {
          p->ind_thr_par[first + j] = upper[j - (count - half)];
          p->ind_thr_sign[first + j] = 1.0;
        } else if (from_top >= count - half) {
          p->ind_thr_par[first + j] = upper[half - 1 - j];
          p->ind_thr_sign[first + j] = -1.0;
        } else {
          p->ind_thr_par[first + j] = anchor;
          p->ind_thr_sign[first + j] = 0.0;
        }
      }
    }
  }

  p->util_alt = ALLOC(e, M, int);
  p->util_par = ALLOC(e, M, int);
  p->util_lv = ALLOC(e, M, int);
  for (int m = 0; m < M; m++) {
    p->util_alt[m] = rng_int(0, J - 1);
    p->util_par[m] = m > 0 && rng_int(0, 3) == 0 ? p->util_par[rng_int(0, m - 1)]
                                                 : new_param(fc, K_FREE);
    p->util_lv[m] = rng_int(0, 2) == 0 ? rng_int(0, L - 1) : -1;
  }
  if (p->n_par == 0) new_param(fc, K_FREE);

  /* Data, as engine_glue.c lays it out. */
  iclv_data *d = &e->data;
  const int N = rng_int(1, 8);
  d->n_indiv = N;
  d->ind_cat = ALLOC(e, (size_t) N * K, int);
  d->ind_value = ALLOC(e, (size_t) N * K, double);
  d->covariates = ALLOC(e, (size_t) N * C, double);
  d->task_ptr = ALLOC(e, N + 1, int);
  for (int n = 0; n < N; n++) {
    d->task_ptr[n + 1] = d->task_ptr[n] + (J ? rng_int(0, 3) : 0);
    for (int k = 0; k < K; k++) {
      const int missing = rng_int(0, 9) == 0;
      d->ind_cat[n * K + k] = p->ind_family[k] == 2 || missing ? 0 : rng_int(1, p->ind_ncat[k]);
      d->ind_value[n * K + k] = p->ind_family[k] != 2 ? 0.0 : missing ? NAN : 2.0 * rng_normal();
    }
    for (int c = 0; c < C; c++) d->covariates[n * C + c] = rng_normal();
  }
  const int T = d->task_ptr[N];
  d->n_tasks = T;
  d->choice = ALLOC(e, T, int);
  d->term_value = ALLOC(e, (size_t) T * M, double);
  d->avail_ptr = ALLOC(e, T + 1, int);
  d->avail_alt = ALLOC(e, (size_t) T * J, int);
  for (int t = 0, i = 0; t < T; t++) {
    const int start = i;
    for (int j = 0; j < J; j++)
      if (rng_int(0, 3) > 0) d->avail_alt[i++] = j;
    if (i == start) d->avail_alt[i++] = rng_int(0, J - 1);
    d->avail_ptr[t + 1] = i;
    d->choice[t] = d->avail_alt[rng_int(start, i - 1)];
    for (int m = 0; m < M; m++) d->term_value[(size_t) t * M + m] = rng_int(0, 4) ? rng_normal() : 1.0;
  }

  /* Draws [n][d][r] and log weights (shared, or per individual, sometimes
   * signed as sparse grids have them). */
  iclv_draws *dr = &e->draws;
  const int R = rng_int(0, 3) == 0 ? rng_int(60, 140) : rng_int(1, 12);
  dr->n_draws = R;
  dr->n_dim = L;
  dr->eta = ALLOC(e, (size_t) N * L * R, double);
  for (size_t i = 0; i < (size_t) N * L * R; i++) dr->eta[i] = rng_normal();
  const int per_indiv = N > 1 && rng_int(0, 3) == 0;
  dr->weight_stride = per_indiv ? (size_t) R : 0;
  const size_t n_weights = per_indiv ? (size_t) N * R : (size_t) R;
  dr->log_weight = ALLOC(e, n_weights, double);
  if (rng_int(0, 9) == 0) {
    fc->signed_weights = 1;
    dr->weight_sign = ALLOC(e, n_weights, double);
    for (size_t i = 0; i < n_weights; i++) dr->weight_sign[i] = rng_int(0, 3) ? 1.0 : -1.0;
  }
  for (size_t i = 0; i < n_weights; i++) dr->log_weight[i] = log(rng_unif(0.2, 1.0) / R);
  return e;
}

/* Valid theta: scales positive, each indicator's thresholds increasing. */
static void draw_theta(const fuzz_case *fc, double *theta) {
  const iclv_plan *p = &fc->e->plan;
  for (int i = 0; i < p->n_par; i++)
    theta[i] = fc->par_kind[i] == K_SCALE ? rng_unif(0.4, 2.0) : rng_unif(-1.2, 1.2);
  for (int k = 0; k < p->n_ind; k++) {
    const int first = p->ind_thr_ptr[k], count = p->ind_thr_ptr[k + 1] - first;
    if (fc->symmetric[k]) {
      double value = 0.0;
      for (int j = count - count / 2; j < count; j++) {
        value += rng_unif(0.3, 1.0);
        theta[p->ind_thr_par[first + j]] = value;
      }
    } else {
      double value = rng_unif(-2.0, -0.5);
      for (int j = 0; j < count; j++) {
        theta[p->ind_thr_par[first + j]] = value;
        value += rng_unif(0.3, 1.2);
      }
    }
  }
}

/* ---- checks ---------------------------------------------------------------- */

static long n_findings = 0;

static void finding(unsigned long long seed, const char *what) {
  n_findings++;
  if (n_findings <= 50) printf("FINDING (case seed %llu): %s\n", seed, what);
}

static int all_finite(const double *x, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* Evaluates a valid engine: finite results, gradient against central
 * differences, the gradient identical without the scores' reuse, predictions. */
static void check_valid(fuzz_case *fc, unsigned long long seed) {
  iclv_engine *e = fc->e;
  const int P = e->plan.n_par;
  double theta[512], grad[512], grad_nochoice[512];
  draw_theta(fc, theta);
  const double ll = iclv_engine_eval(e, theta, 1, 1, 1, grad);
  if (!isfinite(ll) || !all_finite(grad, P)) finding(seed, "non-finite log-likelihood or gradient");
  const double ll_plain = iclv_engine_eval(e, theta, 0, 1, 1, NULL);
  if (ll_plain != ll) finding(seed, "log-likelihood differs with and without the gradient");
  const double ll_nochoice = iclv_engine_eval(e, theta, 1, 0, 1, grad_nochoice);
  if (!isfinite(ll_nochoice) || !all_finite(grad_nochoice, P))
    finding(seed, "non-finite results with the choice part off");
  if (!fc->signed_weights) {
    for (int trial = 0; trial < 3; trial++) {
      const int i = rng_int(0, P - 1);
      const double h = 1e-6 * (1.0 + fabs(theta[i])), saved = theta[i];
      theta[i] = saved + h;
      const double up = iclv_engine_eval(e, theta, 0, 1, 1, NULL);
      theta[i] = saved - h;
      const double down = iclv_engine_eval(e, theta, 0, 1, 1, NULL);
      theta[i] = saved;
      const double fd = (up - down) / (2.0 * h);
      /* Moving a threshold past its neighbour leaves the domain: skip those. */
      if (isfinite(fd) && fabs(fd - grad[i]) > 1e-4 * (1.0 + fabs(fd))) {
        char what[160];
        snprintf(what, sizeof what, "gradient[%d] = %.10g but central differences give %.10g", i,
                 grad[i], fd);
        finding(seed, what);
      }
    }
  }
  const int N = e->data.n_indiv, L = e->plan.n_lv;
  double *mean = calloc((size_t) N * L, sizeof(double)), *sd = calloc((size_t) N * L, sizeof(double));
  double *prob = calloc((size_t) e->data.n_tasks * e->plan.n_alt + 1, sizeof(double));
  if (mean && sd && prob) {
    iclv_predict_out out = {mean, sd, NULL, NULL, NULL, prob};
    iclv_engine_predict(e, theta, 1, &out);
    if (!fc->signed_weights && (!all_finite(mean, N * L) || !all_finite(sd, N * L)))
      finding(seed, "non-finite posterior moments");
  }
  free(mean);
  free(sd);
  free(prob);
}

/* ---- corruptions that the contract forbids ---------------------------------- */

#define N_MUTATIONS 14
static const char *mutation_names[N_MUTATIONS] = {
  "parameter index out of range", "absent (-1) where a parameter is required",
  "covariate column out of range", "loading on a latent variable out of range",
  "path from a later latent variable", "indicator family out of range",
  "categories not matching the thresholds", "answer outside the categories",
  "task pointer out of order", "choice of an unavailable alternative",
  "utility alternative out of range", "utility latent variable out of range",
  "CSR pointer of the plan out of order", "CSR pointer of the plan not starting at 0"};

/* Applies mutation `kind`; 0 when this engine has nothing to corrupt that way. */
static int mutate(iclv_engine *e, int kind) {
  iclv_plan *p = &e->plan;
  iclv_data *d = &e->data;
  const int L = p->n_lv, K = p->n_ind, P = p->n_par;
  const int bad_par = rng_int(0, 1) ? P + rng_int(0, 5) : -2 - rng_int(0, 5);
  switch (kind) {
  case 0: {
    int *arrays[] = {p->lv_alpha, p->lv_sigma, p->ind_intercept, p->ind_scale, p->lv_cov_par,
                     p->lv_path_par, p->ind_load_par, p->ind_thr_par, p->util_par};
    int counts[] = {L, L, K, K, p->lv_cov_ptr[L], p->lv_path_ptr[L], p->ind_load_ptr[K],
                    p->ind_thr_ptr[K], p->n_term};
    const int a = rng_int(0, 8);
    if (counts[a] == 0) return 0;
    arrays[a][rng_int(0, counts[a] - 1)] = bad_par;
    return 1;
  }
  case 1: {
    int *arrays[] = {p->lv_cov_par, p->lv_path_par, p->ind_load_par, p->ind_thr_par, p->util_par};
    int counts[] = {p->lv_cov_ptr[L], p->lv_path_ptr[L], p->ind_load_ptr[K], p->ind_thr_ptr[K],
                    p->n_term};
    const int a = rng_int(0, 4);
    if (counts[a] == 0) return 0;
    arrays[a][rng_int(0, counts[a] - 1)] = -1;
    return 1;
  }
  case 2:
    if (p->lv_cov_ptr[L] == 0) return 0;
    p->lv_cov_col[rng_int(0, p->lv_cov_ptr[L] - 1)] = rng_int(0, 1) ? p->n_cov + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  case 3:
    p->ind_load_lv[rng_int(0, p->ind_load_ptr[K] - 1)] = rng_int(0, 1) ? L + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  case 4: {
    if (p->lv_path_ptr[L] == 0) return 0;
    const int i = rng_int(0, p->lv_path_ptr[L] - 1);
    int l = 0;
    while (p->lv_path_ptr[l + 1] <= i) l++;
    p->lv_path_from[i] = rng_int(0, 1) ? l + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  }
  case 5:
    p->ind_family[rng_int(0, K - 1)] = rng_int(0, 1) ? 3 + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  case 6: {
    const int k = rng_int(0, K - 1);
    if (p->ind_family[k] == 2) return 0;
    p->ind_ncat[k] += rng_int(0, 1) ? 1 + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  }
  case 7: {
    const int k = rng_int(0, K - 1), n = rng_int(0, d->n_indiv - 1);
    if (p->ind_family[k] == 2) return 0;
    d->ind_cat[n * K + k] = rng_int(0, 1) ? p->ind_ncat[k] + 1 + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  }
  case 8: {
    const int n = rng_int(0, d->n_indiv);
    if (n == 0 || n == d->n_indiv) {
      d->task_ptr[n] += rng_int(0, 1) ? 1 + rng_int(0, 2) : -1 - rng_int(0, 2);
    } else {
      if (rng_int(0, 1)) d->task_ptr[n] = d->task_ptr[n + 1] + 1 + rng_int(0, 2);
      else d->task_ptr[n] = d->task_ptr[n - 1] - 1 - rng_int(0, 2);
    }
    return 1;
  }
  case 9: {
    if (d->n_tasks == 0) return 0;
    const int t = rng_int(0, d->n_tasks - 1);
    if (rng_int(0, 1)) {
      d->choice[t] = rng_int(0, 1) ? p->n_alt + rng_int(0, 3) : -1 - rng_int(0, 3);
      return 1;
    }
    for (int j = 0; j < p->n_alt; j++) {
      int available = 0;
      for (int a = d->avail_ptr[t]; a < d->avail_ptr[t + 1]; a++) available |= d->avail_alt[a] == j;
      if (!available) {
        d->choice[t] = j;
        return 1;
      }
    }
    return 0;
  }
  case 10:
    if (p->n_term == 0) return 0;
    p->util_alt[rng_int(0, p->n_term - 1)] = rng_int(0, 1) ? p->n_alt + rng_int(0, 3) : -1 - rng_int(0, 3);
    return 1;
  case 11:
    if (p->n_term == 0) return 0;
    p->util_lv[rng_int(0, p->n_term - 1)] = rng_int(0, 1) ? L + rng_int(0, 3) : -2 - rng_int(0, 3);
    return 1;
  case 12:
  case 13: {
    /* The glue checks that each array's length is the pointer's last entry,
     * so only the first and the interior entries can be wrong. */
    int *ptrs[] = {p->lv_cov_ptr, p->lv_path_ptr, p->ind_load_ptr, p->ind_thr_ptr};
    const int sizes[] = {L, L, K, K};
    const int a = rng_int(0, 3), n = sizes[a];
    int *ptr = ptrs[a];
    if (kind == 13) {
      ptr[0] = rng_int(0, 1) ? -1 - rng_int(0, 3) : ptr[1] + 1 + rng_int(0, 2);
      return 1;
    }
    if (n < 2) return 0;
    const int i = rng_int(1, n - 1);
    ptr[i] = rng_int(0, 1) ? ptr[i + 1] + 1 + rng_int(0, 2) : ptr[i - 1] - 1 - rng_int(0, 2);
    return 1;
  }
  }
  return 0;
}

int main(int argc, char **argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 60.0;
  const unsigned long long seed0 = argc > 2 ? strtoull(argv[2], NULL, 10) : 1ULL;
  const int eval_accepted = getenv("ICLV_FUZZ_EVAL_ACCEPTED") != NULL;
  long n_valid = 0, n_mutated = 0, rejected[N_MUTATIONS] = {0}, accepted[N_MUTATIONS] = {0};
  char err[512];
  const clock_t start = clock();
  unsigned long long iteration = 0;
  static fuzz_case fc;

  while ((double) (clock() - start) / CLOCKS_PER_SEC < seconds) {
    const unsigned long long seed = seed0 * 1000003ULL + iteration++;
    /* A valid engine. */
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1ULL;
    iclv_engine *e = build_engine(&fc);
    if (e == NULL) {
      finding(seed, "out of memory building an engine");
      continue;
    }
    if (iclv_engine_validate(e, err, sizeof err) != 0) {
      char what[600];
      snprintf(what, sizeof what, "a valid engine was rejected: %s", err);
      finding(seed, what);
    } else if (iclv_engine_finish(e, 1, err, sizeof err) != 0) {
      finding(seed, "finish failed on a valid engine");
    } else {
      check_valid(&fc, seed);
      n_valid++;
    }
    iclv_engine_free(e);

    /* The same engine, corrupted once. */
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1ULL;
    e = build_engine(&fc);
    if (e == NULL) continue;
    const int kind = (int) (seed % N_MUTATIONS);
    if (mutate(e, kind)) {
      n_mutated++;
      if (iclv_engine_validate(e, err, sizeof err) != 0) {
        rejected[kind]++;
      } else {
        accepted[kind]++;
        char what[200];
        snprintf(what, sizeof what, "validate accepted a corrupted engine (%s)", mutation_names[kind]);
        finding(seed, what);
        if (eval_accepted && iclv_engine_finish(e, 1, err, sizeof err) == 0) {
          double theta[512], grad[512];
          draw_theta(&fc, theta);
          iclv_engine_eval(e, theta, 1, 1, 1, grad);
        }
      }
    }
    iclv_engine_free(e);
  }

  printf("iterations: %llu (seeds %llu..%llu)\n", iteration, seed0 * 1000003ULL,
         seed0 * 1000003ULL + iteration - 1);
  printf("valid engines evaluated: %ld\n", n_valid);
  printf("corrupted engines: %ld\n", n_mutated);
  for (int k = 0; k < N_MUTATIONS; k++)
    printf("  %-45s rejected %6ld  accepted %6ld\n", mutation_names[k], rejected[k], accepted[k]);
  printf("findings: %ld\n", n_findings);
  return n_findings > 0;
}
