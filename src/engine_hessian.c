/* The Hessian of the simulated log-likelihood on the CPU (vignette
 * "likelihood", section 7), by the missing-information identity per person:
 *   H_n = sum_r p_r (g_r g_r' + H_r) - s_n s_n',
 * p_r the point's normalised weight, g_r and H_r the gradient and Hessian of
 * its log-likelihood l_r, s_n the person's score. Everything runs over the
 * person's slots (the wanted parameters its log-likelihood depends on) and,
 * per block of draws, over the arrays the gradient pass of engine.c leaves:
 * the dimensions' values V_l (latent variables and random coefficients),
 * the cells' first derivatives, the choices' 1[j = y] - P_j and the
 * dimensions' final adjoints d_l (dl/dz_l: a lognormal's is already
 * multiplied by beta). The accumulator holds sum_r w_r (g_r g_r' + H_r) with
 * the online softmax's weights (rescaled with them); at the person's end it
 * is divided by their sum and s_n s_n' subtracted.
 *
 * H_r, written once per kind of term:
 * - each answered indicator: J' F J, F the cell's second derivatives in
 *   (mu, s, tau_hi, tau_lo) (iclv_math.h), J their gradients in theta, where
 *   grad mu = e_a + sum_l (LV_l e_zeta_l + zeta_l D_l) and D_l = d V_l /
 *   d theta (structural parameters only: a random coefficient's location,
 *   spread and Cholesky entries among them; D_l = g'(z_l) dz_l); plus dl/dmu
 *   (e_zeta_l D_l' + D_l e_zeta_l');
 * - each task: -sum_j P_j (grad V_j - vbar)(grad V_j - vbar)', vbar =
 *   sum_j P_j grad V_j; plus (1[j = y] - P_j) x value (e_beta D_l' + D_l
 *   e_beta') for a term with a latent variable (a random coefficient's
 *   terms have coefficient 1 and no such term);
 * - each path B_lm: d_l (e_B D_m' + D_m e_B') (d_l collects every second
 *   derivative of V_l from the terms that use it);
 * - each lognormal coefficient: d_l dz_l dz_l' (beta = +-exp(z) has
 *   d2 beta = beta dz dz', and d_l is dl/dbeta x beta).
 * The accumulator keeps the upper triangle; a symmetric pair term
 * c (e_i e_j' + e_j e_i') adds c at (i, j), or 2c when i = j (one parameter
 * in two roles, such as a symmetric set's mirrored thresholds).
 *
 * Every function below but the entry points is inlined into
 * iclv_hessian_block(), which is compiled for AVX2 as well (engine_block.h). */
#include <string.h>
#include "engine.h"
#include "engine_block.h"
#include "engine_hessian.h"
#include "engine_person.h"

/* ---- setup (main thread, once per engine) --------------------------------- */

/* The ordinal of structural parameter `par` (added when new); -1 for none.
 * `ordinal` maps parameters to ordinals (-1: none yet). */
static int struct_ordinal(iclv_hessian *h, int *ordinal, int par) {
  if (par < 0) return -1;
  if (ordinal[par] < 0) {
    ordinal[par] = h->n_struct;
    h->struct_par[h->n_struct++] = par;
  }
  return ordinal[par];
}

/* Adds ordinal s to the reach list being built (mark: ordinals already in). */
static void reach_add(iclv_hessian *h, int *mark, int *count, int s) {
  if (s < 0 || mark[s]) return;
  mark[s] = 1;
  h->reach[(*count)++] = s;
}

/* The structural parameters, each dimension's reach (the ordinals of its
 * own parameters, a random coefficient's Cholesky entries among them, and of
 * those of the latent variables its paths come from), the distinct utility
 * coefficients and the rows the scratch gradients need. `scratch`: n_par
 * ints. */
static void hessian_structure(const iclv_plan *p, iclv_hessian *h, int *scratch) {
  const int L = p->n_lv, P = p->n_par;
  for (int i = 0; i < P; i++) scratch[i] = -1;
  h->n_struct = 0;
  for (int l = 0; l < L; l++) {
    h->lv_alpha_s[l] = struct_ordinal(h, scratch, p->lv_alpha[l]);
    h->lv_sigma_s[l] = struct_ordinal(h, scratch, p->lv_sigma[l]);
    ICLV_CSR_FOR(i, p->lv_cov_ptr, l) h->lv_cov_s[i] = struct_ordinal(h, scratch, p->lv_cov_par[i]);
    ICLV_CSR_FOR(i, p->lv_path_ptr, l)
      h->lv_path_s[i] = struct_ordinal(h, scratch, p->lv_path_par[i]);
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
      h->lv_chol_s[i] = struct_ordinal(h, scratch, p->lv_chol_par[i]);
  }
  for (int i = 0; i < P; i++) scratch[i] = 0;
  int count = 0;
  h->reach_ptr[0] = 0;
  for (int l = 0; l < L; l++) {
    reach_add(h, scratch, &count, h->lv_alpha_s[l]);
    reach_add(h, scratch, &count, h->lv_sigma_s[l]);
    ICLV_CSR_FOR(i, p->lv_cov_ptr, l) reach_add(h, scratch, &count, h->lv_cov_s[i]);
    ICLV_CSR_FOR(i, p->lv_path_ptr, l) {
      reach_add(h, scratch, &count, h->lv_path_s[i]);
      ICLV_CSR_FOR(j, h->reach_ptr, p->lv_path_from[i]) reach_add(h, scratch, &count, h->reach[j]);
    }
    /* A Cholesky entry multiplies the other dimension's raw draw, which no
     * parameter moves: only the entry itself joins the reach. */
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l) reach_add(h, scratch, &count, h->lv_chol_s[i]);
    h->reach_ptr[l + 1] = count;
    ICLV_CSR_FOR(j, h->reach_ptr, l) scratch[h->reach[j]] = 0;
  }
  for (int i = 0; i < P; i++) scratch[i] = 0;
  h->n_choice = 0;
  for (int m = 0; m < p->n_term; m++) {
    const int par = p->util_par[m]; /* -1: a random coefficient's term, coefficient 1 */
    if (par >= 0 && !scratch[par]) {
      scratch[par] = 1;
      h->choice_par[h->n_choice++] = par;
    }
  }
  int rows = h->n_choice;
  for (int k = 0; k < p->n_ind; k++)
    if (1 + ICLV_CSR_COUNT(p->ind_load_ptr, k) > rows) rows = 1 + ICLV_CSR_COUNT(p->ind_load_ptr, k);
  h->n_rows = rows + h->n_struct;
}

int iclv_engine_hessian_setup(iclv_engine *e, const int *want, char *err, size_t errlen) {
  const iclv_plan *p = &e->plan;
  const int P = p->n_par, L = p->n_lv;
  if (e->hess == NULL) {
    iclv_hessian *h;
    ICLV_ENGINE_ALLOC(e, h, 1, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->struct_par, P, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->lv_alpha_s, L, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->lv_sigma_s, L, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->lv_cov_s, p->lv_cov_ptr[L], err, errlen);
    ICLV_ENGINE_ALLOC(e, h->lv_path_s, p->lv_path_ptr[L], err, errlen);
    ICLV_ENGINE_ALLOC(e, h->lv_chol_s, p->lv_chol_ptr[L], err, errlen);
    ICLV_ENGINE_ALLOC(e, h->reach_ptr, L + 1, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->reach, (size_t) L * P, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->choice_par, P, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->want, P, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->total, (size_t) P * P, err, errlen);
    hessian_structure(p, h, h->want);
    const size_t B = (size_t) e->block, S = (size_t) h->n_struct;
    const size_t rows = (size_t) h->n_rows;
    ICLV_ENGINE_ALLOC(e, h->ws, e->n_threads, err, errlen);
    for (int t = 0; t < e->n_threads; t++) {
      iclv_hess_workspace *w = h->ws + t;
      ICLV_ENGINE_ALLOC(e, w->slot, P, err, errlen);
      for (int i = 0; i < P; i++) w->slot[i] = -1;
      ICLV_ENGINE_ALLOC(e, w->slots, P, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->acc, (size_t) P * P, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->g, (size_t) P * B, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->wg, (size_t) P * B, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->d_lv, (size_t) L * S * B, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->rows, ((size_t) p->n_alt + 1) * rows * B, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->row_slot, rows, err, errlen);
      ICLV_ENGINE_ALLOC(e, w->coef, 12 * B, err, errlen);
    }
    h->n_pool = 2 * e->n_threads;
    ICLV_ENGINE_ALLOC(e, h->pool, (size_t) h->n_pool * P * P, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->pool_free, h->n_pool, err, errlen);
    ICLV_ENGINE_ALLOC(e, h->chunk_buf, (e->data.n_indiv + ICLV_HESSIAN_CHUNK - 1) / ICLV_HESSIAN_CHUNK,
                      err, errlen);
    /* Published last: a failure above leaves no half-built Hessian behind
     * (its arrays are the engine's, freed with it). */
    e->hess = h;
  }
  iclv_hessian *h = e->hess;
  h->n_want = 0;
  for (int i = 0; i < P; i++) h->want[i] = want[i] ? h->n_want++ : -1;
  return 0;
}

/* ---- the accumulator --------------------------------------------------------- */

/* c (e_i e_j' + e_j e_i') */
static inline void acc_pair(iclv_hess_workspace *hw, int i, int j, double c) {
  const int m = hw->m;
  if (i == j) hw->acc[(size_t) i * m + i] += 2.0 * c;
  else if (i < j) hw->acc[(size_t) i * m + j] += c;
  else hw->acc[(size_t) j * m + i] += c;
}

/* The (i, j) entry of an outer product u u' (i, j: distinct rows of u, or
 * the same one for its diagonal). */
static inline void acc_outer(iclv_hess_workspace *hw, int i, int j, double c) {
  const int m = hw->m;
  if (i <= j) hw->acc[(size_t) i * m + j] += c;
  else hw->acc[(size_t) j * m + i] += c;
}

/* The slot of parameter `par` for this person, or -1. */
static inline int slot_of(const iclv_hess_workspace *hw, int par) {
  return par >= 0 ? hw->slot[par] : -1;
}

/* ---- one person -------------------------------------------------------------- */

void iclv_hessian_person_begin(const iclv_engine *e, iclv_hess_workspace *hw, int n,
                               int with_choice) {
  const iclv_plan *p = &e->plan;
  const iclv_hessian *h = e->hess;
  const int K = p->n_ind, P = p->n_par;
  const int *answer = e->data.ind_cat + (size_t) n * K;
  const double *value = e->data.ind_value + (size_t) n * K;
  int *slot = hw->slot;
#define TOUCH(par)                                            \
  do {                                                        \
    const int par_ = (par);                                   \
    if (par_ >= 0 && h->want[par_] >= 0) slot[par_] = 0;      \
  } while (0)
  for (int k = 0; k < K; k++) {
    if (!iclv_answered(p, answer, value, k)) continue;
    TOUCH(p->ind_intercept[k]);
    TOUCH(p->ind_scale[k]);
    ICLV_CSR_FOR(i, p->ind_load_ptr, k) TOUCH(p->ind_load_par[i]);
    if (p->ind_family[k] == ICLV_FAMILY_CONTINUOUS) continue;
    const iclv_cell_thresholds thr = iclv_cell_thresholds_of(p, k, answer[k]);
    if (thr.hi >= 0) TOUCH(p->ind_thr_par[thr.hi]);
    if (thr.lo >= 0) TOUCH(p->ind_thr_par[thr.lo]);
  }
  for (int s = 0; s < h->n_struct; s++) TOUCH(h->struct_par[s]);
  if (with_choice && ICLV_CSR_COUNT(e->data.task_ptr, n) > 0)
    for (int c = 0; c < h->n_choice; c++) TOUCH(h->choice_par[c]);
#undef TOUCH
  int m = 0;
  for (int par = 0; par < P; par++)
    if (slot[par] >= 0) {
      slot[par] = m;
      hw->slots[m++] = par;
    }
  hw->m = m;
  memset(hw->acc, 0, sizeof(double) * m * m);
}

void iclv_hessian_rescale(iclv_hess_workspace *hw, double factor) {
  const size_t count = (size_t) hw->m * hw->m;
  for (size_t i = 0; i < count; i++) hw->acc[i] *= factor;
}

void iclv_hessian_person_end(iclv_hess_workspace *hw, const double *score, double sum,
                             int nonpositive) {
  const int m = hw->m;
  for (int i = 0; i < m; i++) {
    const double si = score[hw->slots[i]];
    double *row = hw->acc + (size_t) i * m;
    for (int j = i; j < m; j++)
      row[j] = nonpositive ? 0.0 : row[j] / sum - si * score[hw->slots[j]];
  }
}

void iclv_hessian_person_add(const iclv_engine *e, iclv_hess_workspace *hw, double *chunk) {
  const iclv_hessian *h = e->hess;
  const int m = hw->m, W = h->n_want;
  for (int i = 0; i < m; i++) {
    double *sum = chunk + (size_t) h->want[hw->slots[i]] * W;
    const double *row = hw->acc + (size_t) i * m;
    for (int j = i; j < m; j++) sum[h->want[hw->slots[j]]] += row[j];
  }
  for (int i = 0; i < m; i++) hw->slot[hw->slots[i]] = -1;
  hw->m = 0;
}

/* ---- the persons' sum, in chunk order ------------------------------------------ */

static double *pool_buffer(const iclv_hessian *h, int index) {
  return h->pool + (size_t) index * h->n_want * h->n_want;
}

void iclv_hessian_reset(iclv_hessian *h, int n_chunks) {
  const size_t W2 = (size_t) h->n_want * h->n_want;
  memset(h->total, 0, sizeof(double) * W2);
  memset(h->pool, 0, sizeof(double) * W2 * h->n_pool);
  for (int i = 0; i < h->n_pool; i++) h->pool_free[i] = i;
  h->n_free = h->n_pool;
  for (int c = 0; c < n_chunks; c++) h->chunk_buf[c] = -1;
  h->next_chunk = h->next_merge = 0;
}

int iclv_hessian_next_chunk(iclv_hessian *h, int n_chunks, double **buffer) {
  for (;;) {
    int chunk = -2, index = -1;
#ifdef _OPENMP
#pragma omp critical(iclv_hessian_pool)
#endif
    {
      if (h->next_chunk >= n_chunks) {
        chunk = -1;
      } else if (h->n_free > 0) {
        chunk = h->next_chunk++;
        index = h->pool_free[--h->n_free];
      }
    }
    if (chunk == -1) return -1;
    if (chunk >= 0) {
      *buffer = pool_buffer(h, index);
      return chunk;
    }
    /* Every buffer holds a finished chunk waiting for an earlier one, whose
     * thread holds a buffer of its own: wait for it to finish. */
  }
}

void iclv_hessian_chunk_done(iclv_hessian *h, int n_chunks, int chunk, double *buffer) {
  const int W = h->n_want;
#ifdef _OPENMP
#pragma omp critical(iclv_hessian_pool)
#endif
  {
    h->chunk_buf[chunk] = (int) ((buffer - h->pool) / ((size_t) W * W));
    while (h->next_merge < n_chunks && h->chunk_buf[h->next_merge] >= 0) {
      const int index = h->chunk_buf[h->next_merge];
      double *sum = pool_buffer(h, index);
      for (int i = 0; i < W; i++) {
        double *total = h->total + (size_t) i * W, *row = sum + (size_t) i * W;
        for (int j = i; j < W; j++) {
          total[j] += row[j];
          row[j] = 0.0;
        }
      }
      h->pool_free[h->n_free++] = index;
      h->next_merge++;
    }
  }
}

/* ---- one block of draws ------------------------------------------------------- */

typedef struct hblock {
  const iclv_engine *e;
  const iclv_inputs *in;
  const iclv_workspace *ws;
  iclv_hess_workspace *hw;
  int n, r0, nb, B;
  const double *w; /* the points' weights */
} hblock;

/* acc_r += coef x_r y_r */
ICLV_ALWAYS_INLINE void add_product(double *restrict acc, double coef, const double *restrict x,
                                    const double *restrict y, int nb) {
#pragma omp simd
  for (int r = 0; r < nb; r++) acc[r] += coef * x[r] * y[r];
}

ICLV_ALWAYS_INLINE void add_constant(double *restrict acc, double c, int nb) {
#pragma omp simd
  for (int r = 0; r < nb; r++) acc[r] += c;
}

ICLV_ALWAYS_INLINE double block_total(const double *restrict x, int nb) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int r = 0; r < nb; r++) s += x[r];
  return s;
}

/* Row s (a structural ordinal) of D_l = d V_l / d theta, over the block. */
static inline double *d_lv_row(const hblock *b, int l, int s) {
  return b->hw->d_lv + ((size_t) l * b->e->hess->n_struct + s) * b->B;
}

static inline const double *lv_row(const hblock *b, int l) {
  return b->ws->lv + (size_t) l * b->B;
}

/* The raw draws xi of dimension l over the block. */
static inline const double *eta_row(const hblock *b, int l) {
  const iclv_engine *e = b->e;
  return e->draws.eta + ((size_t) b->n * e->plan.n_lv + l) * e->draws.n_draws + b->r0;
}

/* What the spread of dimension l multiplies: the raw draws, or h(xi) of a
 * uniform or triangular coefficient (the workspace's, from block_latent()
 * of engine.c). */
static inline const double *spread_row(const hblock *b, int l) {
  if (iclv_dim_maps_draw(b->e->plan.lv_kind[l])) return b->ws->draw_value + (size_t) l * b->B;
  return eta_row(b, l);
}

/* dz_l = d z_l / d theta into D_l's rows, from the dimensions before it:
 * z_l = alpha + sum_c x_c gamma_c + sigma h(xi_l) + sum_m B_lm V_m
 * + sum_c L_c xi_c. */
ICLV_ALWAYS_INLINE void underlying_jacobian(const hblock *b, int l) {
  const iclv_plan *p = &b->e->plan;
  const iclv_hessian *h = b->e->hess;
  const int nb = b->nb;
  const double *x = b->e->data.covariates + (size_t) b->n * p->n_cov;
  ICLV_CSR_FOR(j, h->reach_ptr, l) memset(d_lv_row(b, l, h->reach[j]), 0, sizeof(double) * nb);
  if (h->lv_alpha_s[l] >= 0) add_constant(d_lv_row(b, l, h->lv_alpha_s[l]), 1.0, nb);
  ICLV_CSR_FOR(i, p->lv_cov_ptr, l)
    add_constant(d_lv_row(b, l, h->lv_cov_s[i]), x[p->lv_cov_col[i]], nb);
  if (h->lv_sigma_s[l] >= 0) add_to(d_lv_row(b, l, h->lv_sigma_s[l]), 1.0, spread_row(b, l), nb);
  ICLV_CSR_FOR(i, p->lv_path_ptr, l) {
    const int from = p->lv_path_from[i];
    add_to(d_lv_row(b, l, h->lv_path_s[i]), 1.0, lv_row(b, from), nb);
    ICLV_CSR_FOR(j, h->reach_ptr, from)
      add_to(d_lv_row(b, l, h->reach[j]), b->in->view.lv_path[i], d_lv_row(b, from, h->reach[j]),
             nb);
  }
  ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
    add_to(d_lv_row(b, l, h->lv_chol_s[i]), 1.0, eta_row(b, p->lv_chol_from[i]), nb);
}

/* A lognormal coefficient's curvature (section 7.1a), with D_l's rows still
 * dz_l: beta = +-exp(z) has d2 beta = beta dz dz', and the final adjoint d_l
 * (ws->dlv) is already dl/dz = dl/dbeta x beta, so H_r gains d_l dz dz'. */
ICLV_ALWAYS_INLINE void lognormal_curvature(const hblock *b, int l) {
  const iclv_hessian *h = b->e->hess;
  const int nb = b->nb;
  double *restrict c = b->hw->coef;
  const double *restrict dl = b->ws->dlv + (size_t) l * b->B;
#pragma omp simd
  for (int r = 0; r < nb; r++) c[r] = b->w[r] * dl[r];
  ICLV_CSR_FOR(i, h->reach_ptr, l) {
    const int si = slot_of(b->hw, h->struct_par[h->reach[i]]);
    if (si < 0) continue;
    for (int j = i; j < h->reach_ptr[l + 1]; j++) {
      const int sj = slot_of(b->hw, h->struct_par[h->reach[j]]);
      if (sj >= 0)
        acc_outer(b->hw, si, sj,
                  weighted_sum2(c, d_lv_row(b, l, h->reach[i]), d_lv_row(b, l, h->reach[j]), nb));
    }
  }
}

/* D_l = d V_l / d theta for every dimension, forward in order (V_l the
 * latent variable, or the coefficient beta = g(z_l)): D_l = g'(z_l) dz_l,
 * sections 7.1 and 7.1a. A lognormal's d_l dz dz' is taken on the way,
 * while dz is at hand. */
ICLV_ALWAYS_INLINE void latent_jacobian(const hblock *b) {
  const iclv_plan *p = &b->e->plan;
  const iclv_hessian *h = b->e->hess;
  const int nb = b->nb;
  for (int l = 0; l < p->n_lv; l++) {
    underlying_jacobian(b, l);
    if (!iclv_dim_is_lognormal(p->lv_kind[l])) continue;
    lognormal_curvature(b, l);
    const double *beta = lv_row(b, l); /* g'(z) = beta */
    ICLV_CSR_FOR(j, h->reach_ptr, l) {
      double *restrict row = d_lv_row(b, l, h->reach[j]);
#pragma omp simd
      for (int r = 0; r < nb; r++) row[r] *= beta[r];
    }
  }
}

/* acc_j += sum_r wg_r g_jr for j = i..m-1 (row i of sum_r w_r g_r g_r'), four
 * j at a time so that each wg_r is loaded once for four products. */
ICLV_ALWAYS_INLINE void outer_row(double *restrict acc, const double *restrict wg,
                                  const double *restrict g, int i, int m, int B, int nb) {
  int j = i;
  for (; j + 3 < m; j += 4) {
    const double *g0 = g + (size_t) j * B, *g1 = g0 + B, *g2 = g1 + B, *g3 = g2 + B;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int r = 0; r < nb; r++) {
      s0 += wg[r] * g0[r];
      s1 += wg[r] * g1[r];
      s2 += wg[r] * g2[r];
      s3 += wg[r] * g3[r];
    }
    acc[j] += s0;
    acc[j + 1] += s1;
    acc[j + 2] += s2;
    acc[j + 3] += s3;
  }
  for (; j < m; j++) acc[j] += weighted_sum(wg, g + (size_t) j * B, nb);
}

/* The point gradient's row of parameter `par`, or NULL when it has no slot. */
static inline double *g_row(const hblock *b, int par) {
  const int s = slot_of(b->hw, par);
  return s >= 0 ? b->hw->g + (size_t) s * b->B : NULL;
}

#define G_ADD_TO(par, coef, x)                          \
  do {                                                  \
    double *row_ = g_row(b, (par));                     \
    if (row_) add_to(row_, (coef), (x), nb);            \
  } while (0)
#define G_ADD_PRODUCT(par, coef, x, y)                  \
  do {                                                  \
    double *row_ = g_row(b, (par));                     \
    if (row_) add_product(row_, (coef), (x), (y), nb);  \
  } while (0)

/* g_r over the slots (the chain rule of sections 5.1-5.3a, point by point),
 * then acc += sum_r w_r g_r g_r'. */
ICLV_ALWAYS_INLINE void point_gradients(const hblock *b, int with_choice) {
  const iclv_engine *e = b->e;
  const iclv_plan *p = &e->plan;
  const iclv_data *d = &e->data;
  iclv_hess_workspace *hw = b->hw;
  const int K = p->n_ind, J = p->n_alt, B = b->B, nb = b->nb, m = hw->m;
  const int *answer = d->ind_cat + (size_t) b->n * K;
  const double *value = d->ind_value + (size_t) b->n * K;
  for (int i = 0; i < m; i++) memset(hw->g + (size_t) i * B, 0, sizeof(double) * nb);

  for (int k = 0; k < K; k++) {
    if (!iclv_answered(p, answer, value, k)) continue;
    const size_t at = (size_t) k * B;
    const double *d_mu = b->ws->d_mu + at;
    G_ADD_TO(p->ind_intercept[k], 1.0, d_mu);
    G_ADD_TO(p->ind_scale[k], 1.0, b->ws->d_scale + at);
    if (p->ind_family[k] != ICLV_FAMILY_CONTINUOUS) {
      const iclv_cell_thresholds thr = iclv_cell_thresholds_of(p, k, answer[k]);
      if (thr.hi >= 0)
        G_ADD_TO(p->ind_thr_par[thr.hi], p->ind_thr_sign[thr.hi], b->ws->d_tau_hi + at);
      if (thr.lo >= 0)
        G_ADD_TO(p->ind_thr_par[thr.lo], p->ind_thr_sign[thr.lo], b->ws->d_tau_lo + at);
    }
    ICLV_CSR_FOR(i, p->ind_load_ptr, k)
      G_ADD_PRODUCT(p->ind_load_par[i], 1.0, d_mu, lv_row(b, p->ind_load_lv[i]));
  }
  if (with_choice)
    for (int t = d->task_ptr[b->n], tl = 0; t < d->task_ptr[b->n + 1]; t++, tl++) {
      const double *term_value = d->term_value + (size_t) t * p->n_term;
      ICLV_CSR_FOR(a, d->avail_ptr, t) {
        const int j = d->avail_alt[a];
        const double *dv = b->ws->choice_dv + ((size_t) tl * J + j) * B;
        ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
          const int term = p->alt_term[i], l = p->util_lv[term], par = p->util_par[term];
          /* A random coefficient's term has no coefficient of its own: its
           * dimension's rows (below) carry it. */
          if (par < 0) continue;
          if (l < 0) G_ADD_TO(par, term_value[term], dv);
          else G_ADD_PRODUCT(par, term_value[term], dv, lv_row(b, l));
        }
      }
    }
  const double *x = d->covariates + (size_t) b->n * p->n_cov;
  for (int l = 0; l < p->n_lv; l++) {
    const double *dl = b->ws->dlv + (size_t) l * B;
    G_ADD_TO(p->lv_alpha[l], 1.0, dl);
    ICLV_CSR_FOR(i, p->lv_cov_ptr, l) G_ADD_TO(p->lv_cov_par[i], x[p->lv_cov_col[i]], dl);
    G_ADD_PRODUCT(p->lv_sigma[l], 1.0, dl, spread_row(b, l));
    ICLV_CSR_FOR(i, p->lv_path_ptr, l)
      G_ADD_PRODUCT(p->lv_path_par[i], 1.0, dl, lv_row(b, p->lv_path_from[i]));
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
      G_ADD_PRODUCT(p->lv_chol_par[i], 1.0, dl, eta_row(b, p->lv_chol_from[i]));
  }

  for (int i = 0; i < m; i++) {
    double *restrict wg = hw->wg + (size_t) i * B;
    const double *restrict g = hw->g + (size_t) i * B;
#pragma omp simd
    for (int r = 0; r < nb; r++) wg[r] = b->w[r] * g[r];
  }
  for (int i = 0; i < m; i++)
    outer_row(hw->acc + (size_t) i * m, hw->wg + (size_t) i * B, hw->g, i, m, B, nb);
}

/* ---- rows: gradients of one mu_k or of a task's utilities over some slots -- */

/* The row of slot s among the first *q (added, zeroed when `rows` is given,
 * when new and `add`); -1 for s < 0, or when absent and not added. */
ICLV_ALWAYS_INLINE int row_of(const hblock *b, int *q, int s, int add, double *rows) {
  if (s < 0) return -1;
  int *row_slot = b->hw->row_slot;
  for (int i = 0; i < *q; i++)
    if (row_slot[i] == s) return i;
  if (!add) return -1;
  row_slot[*q] = s;
  if (rows) memset(rows + (size_t) *q * b->B, 0, sizeof(double) * b->nb);
  return (*q)++;
}

/* acc += sum_r c_r X_r X_r' over the q rows of X (their slots in row_slot). */
ICLV_ALWAYS_INLINE void acc_rows_outer(const hblock *b, const double *c, const double *rows, int q) {
  const int B = b->B, nb = b->nb;
  const int *row_slot = b->hw->row_slot;
  for (int i = 0; i < q; i++)
    for (int j = i; j < q; j++)
      acc_outer(b->hw, row_slot[i], row_slot[j],
                weighted_sum2(c, rows + (size_t) i * B, rows + (size_t) j * B, nb));
}

/* acc += sign sum_r c_r (X_r e_s' + e_s X_r') for slot s (none when -1). */
ICLV_ALWAYS_INLINE void acc_rows_pair(const hblock *b, const double *c, const double *rows, int q,
                                      int s, double sign) {
  if (s < 0) return;
  for (int i = 0; i < q; i++)
    acc_pair(b->hw, b->hw->row_slot[i], s,
             sign * weighted_sum(c, rows + (size_t) i * b->B, b->nb));
}

/* ---- indicators ------------------------------------------------------------------- */

/* The weighted second derivatives w_r F_r of an ordered cell, into coef's
 * rows mm, ms, ss, mh, ml, sh, sl, hh, ll, hl; `logit` a constant. */
ICLV_ALWAYS_INLINE void ordered_coefs(int logit, int has_lo, int has_hi, int nb, double tau_lo,
                                      double tau_hi, double inv_scale, const double *restrict w,
                                      const double *restrict mu, const double *restrict d_hi,
                                      const double *restrict d_lo, double *restrict coef,
                                      int B) {
#pragma omp simd
  for (int r = 0; r < nb; r++) {
    const double lo = iclv_cell_bound(logit, has_lo, tau_lo, mu[r], inv_scale);
    const double hi = iclv_cell_bound(logit, has_hi, tau_hi, mu[r], inv_scale);
    const iclv_cell2 c = iclv_ordered_cell_second(logit, lo, hi, d_lo[r], d_hi[r], inv_scale);
    coef[r] = w[r] * c.mm;
    coef[B + r] = w[r] * c.ms;
    coef[2 * B + r] = w[r] * c.ss;
    coef[3 * B + r] = w[r] * c.mh;
    coef[4 * B + r] = w[r] * c.ml;
    coef[5 * B + r] = w[r] * c.sh;
    coef[6 * B + r] = w[r] * c.sl;
    coef[7 * B + r] = w[r] * c.hh;
    coef[8 * B + r] = w[r] * c.ll;
    coef[9 * B + r] = w[r] * c.hl;
  }
}

/* ordered_coefs() with the kind of category (first, last, inner) as a
 * constant too, so that the loop has no branch on it and vectorises. */
ICLV_ALWAYS_INLINE void category_coefs(int logit, int answer, int n_cat, int nb, const double *tau,
                                       double inv_scale, const double *restrict w,
                                       const double *restrict mu, const double *restrict d_hi,
                                       const double *restrict d_lo, double *restrict coef, int B) {
  const double tau_lo = tau[answer - 1], tau_hi = tau[answer];
  if (answer == 1)
    ordered_coefs(logit, 0, 1, nb, tau_lo, tau_hi, inv_scale, w, mu, d_hi, d_lo, coef, B);
  else if (answer == n_cat)
    ordered_coefs(logit, 1, 0, nb, tau_lo, tau_hi, inv_scale, w, mu, d_hi, d_lo, coef, B);
  else
    ordered_coefs(logit, 1, 1, nb, tau_lo, tau_hi, inv_scale, w, mu, d_hi, d_lo, coef, B);
}

enum { C_MM, C_MS, C_SS, C_MH, C_ML, C_SH, C_SL, C_HH, C_LL, C_HL, C_MU };

/* Indicator k's cell: J' F J and dl/dmu (e_zeta D_l' + D_l e_zeta'). */
ICLV_ALWAYS_INLINE void indicator_curvature(const hblock *b, int k) {
  const iclv_engine *e = b->e;
  const iclv_plan *p = &e->plan;
  const iclv_theta_view *v = &b->in->view;
  const iclv_hessian *h = e->hess;
  iclv_hess_workspace *hw = b->hw;
  const int B = b->B, nb = b->nb;
  const int answer = e->data.ind_cat[(size_t) b->n * p->n_ind + k];
  const double *w = b->w;
  const size_t at = (size_t) k * B;
  const double *d_mu = b->ws->d_mu + at;
  double *coef = hw->coef, *mu = coef + (size_t) C_MU * B;
  const double inv_scale = v->ind_inv_scale[k];

  /* mu_k at the block's points (as block_mu() of engine.c) */
  const double intercept = v->ind_intercept[k];
  for (int r = 0; r < nb; r++) mu[r] = intercept;
  ICLV_CSR_FOR(i, p->ind_load_ptr, k) add_to(mu, v->ind_load[i], lv_row(b, p->ind_load_lv[i]), nb);

  int s_hi = -1, s_lo = -1;
  double sign_hi = 0.0, sign_lo = 0.0;
  if (p->ind_family[k] == ICLV_FAMILY_CONTINUOUS) {
    const double y = e->data.ind_value[(size_t) b->n * p->n_ind + k];
#pragma omp simd
    for (int r = 0; r < nb; r++) {
      const iclv_cell2 c = iclv_normal_density_second((y - mu[r]) * inv_scale, inv_scale);
      coef[r] = w[r] * c.mm;
      coef[B + r] = w[r] * c.ms;
      coef[2 * B + r] = w[r] * c.ss;
    }
  } else {
    const double *tau = v->ind_tau + p->ind_tau_ptr[k];
    const double *d_hi = b->ws->d_tau_hi + at, *d_lo = b->ws->d_tau_lo + at;
    if (p->ind_family[k] == ICLV_FAMILY_LOGIT)
      category_coefs(1, answer, p->ind_ncat[k], nb, tau, inv_scale, w, mu, d_hi, d_lo, coef, B);
    else
      category_coefs(0, answer, p->ind_ncat[k], nb, tau, inv_scale, w, mu, d_hi, d_lo, coef, B);
    const iclv_cell_thresholds thr = iclv_cell_thresholds_of(p, k, answer);
    if (thr.hi >= 0) {
      s_hi = slot_of(hw, p->ind_thr_par[thr.hi]);
      sign_hi = p->ind_thr_sign[thr.hi];
    }
    if (thr.lo >= 0) {
      s_lo = slot_of(hw, p->ind_thr_par[thr.lo]);
      sign_lo = p->ind_thr_sign[thr.lo];
    }
  }

  /* grad mu over its slots: intercept, loadings, structural parameters. */
  double *rows = hw->rows;
  int q = 0;
  int row = row_of(b, &q, slot_of(hw, p->ind_intercept[k]), 1, rows);
  if (row >= 0) add_constant(rows + (size_t) row * B, 1.0, nb);
  ICLV_CSR_FOR(i, p->ind_load_ptr, k) {
    const int l = p->ind_load_lv[i];
    row = row_of(b, &q, slot_of(hw, p->ind_load_par[i]), 1, rows);
    if (row >= 0) add_to(rows + (size_t) row * B, 1.0, lv_row(b, l), nb);
    ICLV_CSR_FOR(j, h->reach_ptr, l) {
      row = row_of(b, &q, slot_of(hw, h->struct_par[h->reach[j]]), 1, rows);
      if (row >= 0) add_to(rows + (size_t) row * B, v->ind_load[i], d_lv_row(b, l, h->reach[j]), nb);
    }
  }

  const int s_scale = slot_of(hw, p->ind_scale[k]);
  acc_rows_outer(b, coef + C_MM * B, rows, q);
  acc_rows_pair(b, coef + C_MS * B, rows, q, s_scale, 1.0);
  acc_rows_pair(b, coef + C_MH * B, rows, q, s_hi, sign_hi);
  acc_rows_pair(b, coef + C_ML * B, rows, q, s_lo, sign_lo);
  if (s_scale >= 0) {
    acc_outer(hw, s_scale, s_scale, block_total(coef + C_SS * B, nb));
    if (s_hi >= 0) acc_pair(hw, s_scale, s_hi, sign_hi * block_total(coef + C_SH * B, nb));
    if (s_lo >= 0) acc_pair(hw, s_scale, s_lo, sign_lo * block_total(coef + C_SL * B, nb));
  }
  if (s_hi >= 0) acc_outer(hw, s_hi, s_hi, sign_hi * sign_hi * block_total(coef + C_HH * B, nb));
  if (s_lo >= 0) acc_outer(hw, s_lo, s_lo, sign_lo * sign_lo * block_total(coef + C_LL * B, nb));
  if (s_hi >= 0 && s_lo >= 0)
    acc_pair(hw, s_hi, s_lo, sign_hi * sign_lo * block_total(coef + C_HL * B, nb));

  /* dl/dmu times the second derivatives of mu: zeta_l against D_l. */
  ICLV_CSR_FOR(i, p->ind_load_ptr, k) {
    const int z = slot_of(hw, p->ind_load_par[i]), l = p->ind_load_lv[i];
    if (z < 0) continue;
    ICLV_CSR_FOR(j, h->reach_ptr, l) {
      const int s = slot_of(hw, h->struct_par[h->reach[j]]);
      if (s >= 0) acc_pair(hw, z, s, weighted_sum2(w, d_mu, d_lv_row(b, l, h->reach[j]), nb));
    }
  }
}

/* ---- structural paths ---------------------------------------------------------------- */

/* d_l (e_B D_m' + D_m e_B') for each path B_lm, d_l the final adjoint. */
ICLV_ALWAYS_INLINE void latent_curvature(const hblock *b) {
  const iclv_plan *p = &b->e->plan;
  const iclv_hessian *h = b->e->hess;
  for (int l = 0; l < p->n_lv; l++) {
    const double *dl = b->ws->dlv + (size_t) l * b->B;
    ICLV_CSR_FOR(i, p->lv_path_ptr, l) {
      const int s_path = slot_of(b->hw, p->lv_path_par[i]), from = p->lv_path_from[i];
      if (s_path < 0) continue;
      ICLV_CSR_FOR(j, h->reach_ptr, from) {
        const int s = slot_of(b->hw, h->struct_par[h->reach[j]]);
        if (s >= 0)
          acc_pair(b->hw, s_path, s, weighted_sum2(b->w, dl, d_lv_row(b, from, h->reach[j]), b->nb));
      }
    }
  }
}

/* ---- choices ------------------------------------------------------------------------------ */

/* The slot of term `term`'s coefficient; -1 without one (a random
 * coefficient's term, util_par -1: its coefficient is 1 and the dimension's
 * parameters take its derivatives through D_l). */
static inline int term_coef_slot(const hblock *b, int term) {
  const int par = b->e->plan.util_par[term];
  return par >= 0 ? slot_of(b->hw, par) : -1;
}

/* Adds alternative j's gradient of V over the rows (slots in row_slot; all
 * present) into X: a term's coefficient gets its value (times its
 * dimension), and a term with dimension l (a latent variable or a random
 * coefficient) passes its coefficient x value x D_l to the structural
 * parameters. */
ICLV_ALWAYS_INLINE void utility_gradient(const hblock *b, int t, int j, int q, double *X) {
  const iclv_plan *p = &b->e->plan;
  const iclv_hessian *h = b->e->hess;
  const int B = b->B, nb = b->nb;
  const double *term_value = b->e->data.term_value + (size_t) t * p->n_term;
  ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
    const int term = p->alt_term[i], l = p->util_lv[term];
    const int row = row_of(b, &q, term_coef_slot(b, term), 0, NULL);
    if (row >= 0) {
      if (l < 0) add_constant(X + (size_t) row * B, term_value[term], nb);
      else add_to(X + (size_t) row * B, term_value[term], lv_row(b, l), nb);
    }
    if (l < 0) continue;
    const double coef = iclv_term_coef(b->in->theta, p->util_par[term]) * term_value[term];
    ICLV_CSR_FOR(k, h->reach_ptr, l) {
      const int r = row_of(b, &q, slot_of(b->hw, h->struct_par[h->reach[k]]), 0, NULL);
      if (r >= 0) add_to(X + (size_t) r * B, coef, d_lv_row(b, l, h->reach[k]), nb);
    }
  }
}

/* Each task: -sum_j P_j (grad V_j - vbar)(grad V_j - vbar)', and the
 * (1[j = y] - P_j) value (e_beta D_l' + D_l e_beta') of its terms with a
 * latent variable (none for a random coefficient's terms: their
 * coefficient is 1, not a parameter). */
ICLV_ALWAYS_INLINE void choice_curvature(const hblock *b) {
  const iclv_engine *e = b->e;
  const iclv_plan *p = &e->plan;
  const iclv_data *d = &e->data;
  const iclv_hessian *h = e->hess;
  iclv_hess_workspace *hw = b->hw;
  const int J = p->n_alt, B = b->B, nb = b->nb;
  const size_t stride = (size_t) h->n_rows * B;
  double *vbar = hw->rows + (size_t) J * stride, *c = hw->coef;
  for (int t = d->task_ptr[b->n], tl = 0; t < d->task_ptr[b->n + 1]; t++, tl++) {
    const double *term_value = d->term_value + (size_t) t * p->n_term;
    const int *alts = d->avail_alt + d->avail_ptr[t];
    const int n_avail = ICLV_CSR_COUNT(d->avail_ptr, t);
    /* The rows: the coefficients of the available alternatives and the
     * structural parameters behind their latent variables. */
    int q = 0;
    for (int a = 0; a < n_avail; a++)
      ICLV_CSR_FOR(i, p->alt_term_ptr, alts[a]) {
        const int term = p->alt_term[i], l = p->util_lv[term];
        row_of(b, &q, term_coef_slot(b, term), 1, NULL);
        if (l >= 0)
          ICLV_CSR_FOR(k, h->reach_ptr, l) row_of(b, &q, slot_of(hw, h->struct_par[h->reach[k]]), 1, NULL);
      }
    for (int a = 0; a < n_avail; a++) {
      const int j = alts[a];
      const double *dv = b->ws->choice_dv + ((size_t) tl * J + j) * B;
      /* The cross terms of the coefficients of latent variables. */
      ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
        const int term = p->alt_term[i], l = p->util_lv[term];
        const int s_beta = term_coef_slot(b, term);
        if (l < 0 || s_beta < 0) continue;
        ICLV_CSR_FOR(k, h->reach_ptr, l) {
          const int s = slot_of(hw, h->struct_par[h->reach[k]]);
          if (s >= 0)
            acc_pair(hw, s_beta, s,
                     term_value[term] * weighted_sum2(b->w, dv, d_lv_row(b, l, h->reach[k]), nb));
        }
      }
    }
    if (q == 0) continue;
    /* grad V_j per alternative, and vbar = sum_j P_j grad V_j (P_j = 1[j =
     * y] - dv_j). */
    for (int i = 0; i < q; i++) memset(vbar + (size_t) i * B, 0, sizeof(double) * nb);
    for (int a = 0; a < n_avail; a++) {
      double *X = hw->rows + (size_t) a * stride;
      const int j = alts[a];
      const double chosen = j == d->choice[t] ? 1.0 : 0.0;
      const double *dv = b->ws->choice_dv + ((size_t) tl * J + j) * B;
      for (int i = 0; i < q; i++) memset(X + (size_t) i * B, 0, sizeof(double) * nb);
      utility_gradient(b, t, j, q, X);
      for (int i = 0; i < q; i++) {
        double *restrict vb = vbar + (size_t) i * B;
        const double *restrict x = X + (size_t) i * B;
#pragma omp simd
        for (int r = 0; r < nb; r++) vb[r] += (chosen - dv[r]) * x[r];
      }
    }
    for (int a = 0; a < n_avail; a++) {
      double *X = hw->rows + (size_t) a * stride;
      const int j = alts[a];
      const double chosen = j == d->choice[t] ? 1.0 : 0.0;
      const double *dv = b->ws->choice_dv + ((size_t) tl * J + j) * B;
#pragma omp simd
      for (int r = 0; r < nb; r++) c[r] = -b->w[r] * (chosen - dv[r]);
      for (int i = 0; i < q; i++) {
        double *restrict x = X + (size_t) i * B;
        const double *restrict vb = vbar + (size_t) i * B;
#pragma omp simd
        for (int r = 0; r < nb; r++) x[r] -= vb[r];
      }
      acc_rows_outer(b, c, X, q);
    }
  }
}

ICLV_TARGET_CLONES
void iclv_hessian_block(const iclv_engine *e, const iclv_inputs *in, const iclv_workspace *ws,
                        iclv_hess_workspace *hw, int n, int r0, int nb, int with_choice) {
  const hblock b = {e, in, ws, hw, n, r0, nb, e->block, ws->weight};
  const iclv_plan *p = &e->plan;
  const int *answer = e->data.ind_cat + (size_t) n * p->n_ind;
  const double *value = e->data.ind_value + (size_t) n * p->n_ind;
  if (hw->m == 0) return;
  latent_jacobian(&b);
  point_gradients(&b, with_choice);
  for (int k = 0; k < p->n_ind; k++)
    if (iclv_answered(p, answer, value, k)) indicator_curvature(&b, k);
  latent_curvature(&b);
  if (with_choice) choice_curvature(&b);
}
