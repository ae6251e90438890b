/* The CPU evaluation of the simulated log-likelihood, its gradient and the
 * per-individual scores (vignette "likelihood", sections 2-5), and on
 * request its Hessian (section 7: engine_hessian.c does the per-person work
 * between the blocks of evaluate_individual()).
 *
 * Layout of the work: OpenMP over individuals; inside an individual, draws go
 * in blocks, and every inner loop runs over the draws of a block, so gcc turns
 * it into a SIMD loop (glibc's vector erfc/exp/log). Over blocks, the weights
 * w_r = softmax_r(l_r) are accumulated online: the running maximum M, the sum
 * S = sum_r exp(l_r - M) and the weighted gradient are rescaled when M grows,
 * so nothing per draw outlives its block. Each individual's log-likelihood and
 * gradient land in its own row; the totals are summed in individual order on
 * one thread, so results are bitwise identical for any thread count. The
 * per-person steps the GPU shares (the view of theta, latent means, base
 * utilities, which thresholds take a gradient, nonpositive weights) are in
 * engine_person.h; the loops over blocks of draws are this file's own. */
#include <math.h>
#include <string.h>
#include "engine.h"
#include "engine_block.h"
#include "engine_hessian.h"
#include "engine_person.h"
#include "omp_compat.h"
#include "shard.h"

/* ---- the inputs of an evaluation ---------------------------------------- */

iclv_inputs iclv_engine_inputs(const iclv_engine *e, const double *theta) {
  iclv_inputs in = {e->plan, e->data, e->draws, e->view, theta};
  return in;
}

/* ---- one individual -------------------------------------------------------- */

typedef struct indiv_ctx {
  const iclv_engine *e;
  const iclv_inputs *in;
  iclv_workspace *ws;
  int n, gradient, choice;
  double *grad_row; /* n_par, or NULL */
  iclv_hess_workspace *hess; /* the Hessian's (with the gradient), or NULL */
} indiv_ctx;

/* The draws of dimension l in the block: the points themselves. */
ICLV_ALWAYS_INLINE const double *block_points(const indiv_ctx *c, int l, int r0) {
  return c->e->draws.eta + ((size_t) c->n * c->e->plan.n_lv + l) * c->e->draws.n_draws + r0;
}

/* What the spread of dimension l multiplies: the points, or h(points) for a
 * uniform or triangular coefficient (in the workspace, made by
 * block_latent()). */
ICLV_ALWAYS_INLINE const double *block_draw_values(const indiv_ctx *c, int l, int r0) {
  if (iclv_dim_maps_draw(c->e->plan.lv_kind[l])) return c->ws->draw_value + (size_t) l * c->e->block;
  return block_points(c, l, r0);
}

/* Latent variables and random coefficients of one block: structural
 * equations forward in order, then g() of each random coefficient. */
ICLV_ALWAYS_INLINE void block_latent(const indiv_ctx *c, int r0, int nb) {
  const iclv_plan *p = &c->e->plan;
  const iclv_theta_view *v = &c->e->view;
  const int B = c->e->block;
  for (int l = 0; l < p->n_lv; l++) {
    double *lv = c->ws->lv + (size_t) l * B;
    const int kind = p->lv_kind[l];
    if (iclv_dim_maps_draw(kind)) {
      const double *xi = block_points(c, l, r0);
      double *mapped = c->ws->draw_value + (size_t) l * B;
      for (int r = 0; r < nb; r++) mapped[r] = iclv_dim_draw(kind, xi[r]);
    }
    const double *eta = block_draw_values(c, l, r0);
    const double mean = c->ws->lv_mean[l], sigma = v->lv_sigma[l];
#pragma omp simd
    for (int r = 0; r < nb; r++) lv[r] = mean + sigma * eta[r];
    ICLV_CSR_FOR(i, p->lv_path_ptr, l) {
      const double *from = c->ws->lv + (size_t) p->lv_path_from[i] * B;
      const double b = v->lv_path[i];
#pragma omp simd
      for (int r = 0; r < nb; r++) lv[r] += b * from[r];
    }
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l) {
      const double *from = block_points(c, p->lv_chol_from[i], r0);
      const double b = c->in->theta[p->lv_chol_par[i]];
#pragma omp simd
      for (int r = 0; r < nb; r++) lv[r] += b * from[r];
    }
    if (iclv_dim_is_lognormal(kind)) {
#pragma omp simd
      for (int r = 0; r < nb; r++) lv[r] = iclv_dim_value(kind, lv[r]);
    }
  }
}

/* mu_r = a_k + sum_l zeta_kl LV_lr for indicator k. */
ICLV_ALWAYS_INLINE void block_mu(const indiv_ctx *c, int k, int nb) {
  const iclv_plan *p = &c->e->plan;
  const iclv_theta_view *v = &c->e->view;
  double *mu = c->ws->mu;
  const double a = v->ind_intercept[k];
#pragma omp simd
  for (int r = 0; r < nb; r++) mu[r] = a;
  ICLV_CSR_FOR(i, p->ind_load_ptr, k) {
    const double *lv = c->ws->lv + (size_t) p->ind_load_lv[i] * c->e->block;
    const double zeta = v->ind_load[i];
#pragma omp simd
    for (int r = 0; r < nb; r++) mu[r] += zeta * lv[r];
  }
}

/* The cell loop, instantiated per family and per kind of category (first,
 * last, inner) so that these are constants and the loop body has no branch
 * on them. */
ICLV_ALWAYS_INLINE void ordered_cells(int logit, int has_lo, int has_hi, int nb, double tau_lo,
                                      double tau_hi, double inv_scale, const double *restrict mu,
                                      double *restrict loglik, double *restrict d_hi,
                                      double *restrict d_lo, double *restrict d_mu,
                                      double *restrict d_scale) {
#pragma omp simd
  for (int r = 0; r < nb; r++) {
    iclv_cell cell = iclv_ordered_cell_bounds(logit, has_lo, has_hi, tau_lo, tau_hi, mu[r],
                                              inv_scale);
    loglik[r] += cell.logp;
    d_hi[r] = cell.d_tau_hi;
    d_lo[r] = cell.d_tau_lo;
    d_mu[r] = cell.d_mu;
    d_scale[r] = cell.d_scale;
  }
}

#define ORDERED_CELLS(logit, has_lo, has_hi) \
  ordered_cells(logit, has_lo, has_hi, nb, tau_lo, tau_hi, inv_scale, mu, loglik, d_hi, d_lo, \
                d_mu, d_scale)

ICLV_ALWAYS_INLINE void family_cells(int logit, int category, int n_cat, int nb, double tau_lo,
                                     double tau_hi, double inv_scale, const double *restrict mu,
                                     double *restrict loglik, double *restrict d_hi,
                                     double *restrict d_lo, double *restrict d_mu,
                                     double *restrict d_scale) {
  if (category == 1) ORDERED_CELLS(logit, 0, 1);
  else if (category == n_cat) ORDERED_CELLS(logit, 1, 0);
  else ORDERED_CELLS(logit, 1, 1);
}

ICLV_ALWAYS_INLINE void block_indicators(const indiv_ctx *c, int nb) {
  const iclv_plan *p = &c->e->plan;
  const iclv_theta_view *v = &c->e->view;
  const int K = p->n_ind, B = c->e->block;
  const int *answer = c->e->data.ind_cat + (size_t) c->n * K;
  const double *value = c->e->data.ind_value + (size_t) c->n * K;
  double *loglik = c->ws->loglik_draw;
  for (int k = 0; k < K; k++) {
    if (!iclv_answered(p, answer, value, k)) continue;
    const int family = p->ind_family[k];
    block_mu(c, k, nb);
    double *d_hi = c->ws->d_tau_hi + (size_t) k * B, *d_lo = c->ws->d_tau_lo + (size_t) k * B;
    double *d_mu = c->ws->d_mu + (size_t) k * B, *d_scale = c->ws->d_scale + (size_t) k * B;
    const double *mu = c->ws->mu;
    const double inv_scale = v->ind_inv_scale[k];
    if (family == ICLV_FAMILY_CONTINUOUS) {
      const double y = value[k], log_scale = v->ind_log_scale[k];
#pragma omp simd
      for (int r = 0; r < nb; r++) {
        iclv_cell cell = iclv_normal_density(y, mu[r], inv_scale, log_scale);
        loglik[r] += cell.logp;
        d_mu[r] = cell.d_mu;
        d_scale[r] = cell.d_scale;
      }
    } else {
      const double *tau = v->ind_tau + p->ind_tau_ptr[k];
      const double tau_lo = tau[answer[k] - 1], tau_hi = tau[answer[k]];
      const int n_cat = p->ind_ncat[k];
      if (family == ICLV_FAMILY_LOGIT)
        family_cells(1, answer[k], n_cat, nb, tau_lo, tau_hi, inv_scale, mu, loglik, d_hi, d_lo,
                     d_mu, d_scale);
      else
        family_cells(0, answer[k], n_cat, nb, tau_lo, tau_hi, inv_scale, mu, loglik, d_hi, d_lo,
                     d_mu, d_scale);
    }
  }
}

/* The LV-free part of each utility, once per task (not per draw). */
ICLV_ALWAYS_INLINE void task_base_utilities(const indiv_ctx *c) {
  const iclv_data *d = &c->e->data;
  const int J = c->e->plan.n_alt;
  for (int t = d->task_ptr[c->n], tl = 0; t < d->task_ptr[c->n + 1]; t++, tl++)
    for (int j = 0; j < J; j++)
      c->ws->task_base[(size_t) tl * J + j] = iclv_base_utility(c->in, t, j);
}

/* Utility of alternative j in task t for the draws of the block. */
ICLV_ALWAYS_INLINE void block_utility(const indiv_ctx *c, int t, int tl, int j, int nb,
                                      double *util) {
  const iclv_plan *p = &c->e->plan;
  const double base = c->ws->task_base[(size_t) tl * p->n_alt + j];
  const double *value = c->e->data.term_value + (size_t) t * p->n_term;
#pragma omp simd
  for (int r = 0; r < nb; r++) util[r] = base;
  ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
    const int m = p->alt_term[i];
    if (p->util_lv[m] < 0) continue;
    const double coef = iclv_term_coef(c->in->theta, p->util_par[m]) * value[m];
    const double *lv = c->ws->lv + (size_t) p->util_lv[m] * c->e->block;
#pragma omp simd
    for (int r = 0; r < nb; r++) util[r] += coef * lv[r];
  }
}

/* MNL log-probabilities of the chosen alternatives (vignette "likelihood", section 1.4). With
 * the gradient (or predictions), choice_dv keeps exp(V_j - max) / sum, which
 * the gradient pass turns into 1[j = y] - P_j. */
ICLV_ALWAYS_INLINE void block_choices(const indiv_ctx *c, int nb, int keep_prob) {
  const iclv_plan *p = &c->e->plan;
  const iclv_data *d = &c->e->data;
  const int J = p->n_alt, B = c->e->block;
  double *util = c->ws->util, *vmax = c->ws->util_max, *vsum = c->ws->util_sum;
  double *loglik = c->ws->loglik_draw;
  for (int t = d->task_ptr[c->n], tl = 0; t < d->task_ptr[c->n + 1]; t++, tl++) {
    const int *alts = d->avail_alt + d->avail_ptr[t];
    const int n_avail = ICLV_CSR_COUNT(d->avail_ptr, t);
    for (int a = 0; a < n_avail; a++) block_utility(c, t, tl, alts[a], nb, util + (size_t) alts[a] * B);
#pragma omp simd
    for (int r = 0; r < nb; r++) vmax[r] = -INFINITY;
    for (int a = 0; a < n_avail; a++) {
      const double *u = util + (size_t) alts[a] * B;
#pragma omp simd
      for (int r = 0; r < nb; r++) vmax[r] = iclv_max(vmax[r], u[r]);
    }
#pragma omp simd
    for (int r = 0; r < nb; r++) vsum[r] = 0.0;
    for (int a = 0; a < n_avail; a++) {
      double *u = util + (size_t) alts[a] * B;
      double *prob = c->ws->choice_dv + ((size_t) tl * J + alts[a]) * B;
      if (keep_prob) {
#pragma omp simd
        for (int r = 0; r < nb; r++) {
          prob[r] = iclv_exp_shifted(u[r] - vmax[r]);
          vsum[r] += prob[r];
        }
      } else {
#pragma omp simd
        for (int r = 0; r < nb; r++) vsum[r] += iclv_exp_shifted(u[r] - vmax[r]);
      }
    }
    const double *chosen = util + (size_t) d->choice[t] * B;
#pragma omp simd
    for (int r = 0; r < nb; r++) loglik[r] += chosen[r] - vmax[r] - log(vsum[r]);
    if (keep_prob) {
      for (int a = 0; a < n_avail; a++) {
        double *prob = c->ws->choice_dv + ((size_t) tl * J + alts[a]) * B;
#pragma omp simd
        for (int r = 0; r < nb; r++) prob[r] /= vsum[r];
      }
    }
  }
}

/* ---- the gradient of one block -------------------------------------------- */

ICLV_ALWAYS_INLINE void grad_add(double *grad, int index, double value) {
  if (index >= 0) grad[index] += value;
}

/* The weighted sums of one indicator's per-draw derivatives, in one pass
 * over the block (with its first loading, and that loading's share of dLV). */
typedef struct indicator_sums {
  double mu, scale, tau_hi, tau_lo, load;
} indicator_sums;

ICLV_ALWAYS_INLINE indicator_sums indicator_pass(int nb, const double *restrict w,
                                                 const double *restrict d_mu,
                                                 const double *restrict d_scale,
                                                 const double *restrict d_hi,
                                                 const double *restrict d_lo,
                                                 const double *restrict lv,
                                                 double *restrict dlv, double zeta) {
  double s_mu = 0.0, s_scale = 0.0, s_hi = 0.0, s_lo = 0.0, s_load = 0.0;
#pragma omp simd reduction(+ : s_mu, s_scale, s_hi, s_lo, s_load)
  for (int r = 0; r < nb; r++) {
    const double wr = w[r], dm = d_mu[r];
    s_mu += wr * dm;
    s_scale += wr * d_scale[r];
    s_hi += wr * d_hi[r];
    s_lo += wr * d_lo[r];
    s_load += wr * dm * lv[r];
    dlv[r] += zeta * dm;
  }
  indicator_sums out = {s_mu, s_scale, s_hi, s_lo, s_load};
  return out;
}

ICLV_ALWAYS_INLINE void gradient_indicators(const indiv_ctx *c, int nb) {
  const iclv_plan *p = &c->e->plan;
  const iclv_theta_view *v = &c->e->view;
  const int K = p->n_ind, B = c->e->block;
  const int *answer = c->e->data.ind_cat + (size_t) c->n * K;
  const double *value = c->e->data.ind_value + (size_t) c->n * K;
  const double *w = c->ws->weight;
  double *g = c->grad_row;
  for (int k = 0; k < K; k++) {
    if (!iclv_answered(p, answer, value, k)) continue;
    const int family = p->ind_family[k];
    const size_t at = (size_t) k * B;
    const double *d_mu = c->ws->d_mu + at;
    /* Every indicator has at least one loading (the model refuses others). */
    const int first_load = p->ind_load_ptr[k];
    const int l0 = p->ind_load_lv[first_load];
    indicator_sums sums = indicator_pass(nb, w, d_mu, c->ws->d_scale + at, c->ws->d_tau_hi + at,
                                         c->ws->d_tau_lo + at, c->ws->lv + (size_t) l0 * B,
                                         c->ws->dlv + (size_t) l0 * B, v->ind_load[first_load]);
    grad_add(g, p->ind_intercept[k], sums.mu);
    grad_add(g, p->ind_scale[k], sums.scale);
    g[p->ind_load_par[first_load]] += sums.load;
    if (family != ICLV_FAMILY_CONTINUOUS) {
      const iclv_cell_thresholds thr = iclv_cell_thresholds_of(p, k, answer[k]);
      if (thr.hi >= 0) g[p->ind_thr_par[thr.hi]] += p->ind_thr_sign[thr.hi] * sums.tau_hi;
      if (thr.lo >= 0) g[p->ind_thr_par[thr.lo]] += p->ind_thr_sign[thr.lo] * sums.tau_lo;
    }
    for (int i = first_load + 1; i < p->ind_load_ptr[k + 1]; i++) {
      const int l = p->ind_load_lv[i];
      g[p->ind_load_par[i]] += weighted_sum2(w, d_mu, c->ws->lv + (size_t) l * B, nb);
      add_to(c->ws->dlv + (size_t) l * B, v->ind_load[i], d_mu, nb);
    }
  }
}

ICLV_ALWAYS_INLINE void gradient_choices(const indiv_ctx *c, int nb) {
  const iclv_plan *p = &c->e->plan;
  const iclv_data *d = &c->e->data;
  const int J = p->n_alt, M = p->n_term, B = c->e->block;
  const double *w = c->ws->weight;
  double *g = c->grad_row;
  for (int t = d->task_ptr[c->n], tl = 0; t < d->task_ptr[c->n + 1]; t++, tl++) {
    const int *alts = d->avail_alt + d->avail_ptr[t];
    const int n_avail = ICLV_CSR_COUNT(d->avail_ptr, t);
    const double *value = d->term_value + (size_t) t * M;
    for (int a = 0; a < n_avail; a++) {
      const int j = alts[a];
      double *dv = c->ws->choice_dv + ((size_t) tl * J + j) * B;
      const double chosen = j == d->choice[t] ? 1.0 : 0.0;
#pragma omp simd
      for (int r = 0; r < nb; r++) dv[r] = chosen - dv[r];
      const double dv_sum = weighted_sum(w, dv, nb);
      ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
        const int m = p->alt_term[i], l = p->util_lv[m];
        if (l < 0) {
          g[p->util_par[m]] += value[m] * dv_sum;
        } else {
          const double *lv = c->ws->lv + (size_t) l * B;
          const int par = p->util_par[m];
          if (par >= 0) g[par] += value[m] * weighted_sum2(w, dv, lv, nb);
          add_to(c->ws->dlv + (size_t) l * B, iclv_term_coef(c->in->theta, par) * value[m], dv, nb);
        }
      }
    }
  }
}

/* Structural equations in reverse order with the collected dLV (for a
 * lognormal coefficient, d/d beta turned into d/dz first). */
ICLV_ALWAYS_INLINE void gradient_latent(const indiv_ctx *c, int r0, int nb) {
  const iclv_plan *p = &c->e->plan;
  const iclv_theta_view *v = &c->e->view;
  const int B = c->e->block;
  const double *w = c->ws->weight;
  const double *x = c->e->data.covariates + (size_t) c->n * p->n_cov;
  double *g = c->grad_row;
  for (int l = p->n_lv - 1; l >= 0; l--) {
    double *dlv = c->ws->dlv + (size_t) l * B;
    const int kind = p->lv_kind[l];
    if (iclv_dim_is_lognormal(kind)) {
      const double *beta = c->ws->lv + (size_t) l * B;
#pragma omp simd
      for (int r = 0; r < nb; r++) dlv[r] *= iclv_dim_slope(kind, beta[r]);
    }
    const double *eta = block_draw_values(c, l, r0);
    const double total = weighted_sum(w, dlv, nb);
    grad_add(g, p->lv_alpha[l], total);
    ICLV_CSR_FOR(i, p->lv_cov_ptr, l)
      g[p->lv_cov_par[i]] += total * x[p->lv_cov_col[i]];
    grad_add(g, p->lv_sigma[l], weighted_sum2(w, dlv, eta, nb));
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
      g[p->lv_chol_par[i]] += weighted_sum2(w, dlv, block_points(c, p->lv_chol_from[i], r0), nb);
    ICLV_CSR_FOR(i, p->lv_path_ptr, l) {
      const int m = p->lv_path_from[i];
      g[p->lv_path_par[i]] += weighted_sum2(w, dlv, c->ws->lv + (size_t) m * B, nb);
      add_to(c->ws->dlv + (size_t) m * B, v->lv_path[i], dlv, nb);
    }
  }
}

/* ---- the individual's loop over blocks ------------------------------------ */

ICLV_ALWAYS_INLINE void individual_means(const indiv_ctx *c) {
  for (int l = 0; l < c->e->plan.n_lv; l++) c->ws->lv_mean[l] = iclv_lv_mean(c->in, c->n, l);
}

/* Mean and sd from weighted sums of x and x^2 (first and second L entries). */
static void posterior_moments(const double *sums, double total, int L, int n, double *mean_out,
                              double *sd_out) {
  for (int l = 0; l < L; l++) {
    const double mean = sums[l] / total;
    const double var = sums[L + l] / total - mean * mean;
    mean_out[(size_t) n * L + l] = mean;
    sd_out[(size_t) n * L + l] = sqrt(var > 0.0 ? var : 0.0);
  }
}

/* Returns LL_n = log sum_r w_r exp(l_r); with the gradient, grad_row holds
 * dLL_n/dtheta on return. `pred` (may be NULL) collects predictions. */
ICLV_TARGET_CLONES
static double evaluate_individual(const indiv_ctx *c, const iclv_predict_out *pred) {
  const iclv_engine *e = c->e;
  const iclv_plan *p = &e->plan;
  const int R = e->draws.n_draws, B = e->block, P = p->n_par, L = p->n_lv;
  const int with_choice = c->choice && e->data.n_tasks > 0;
  const int keep_prob = c->gradient || (pred && pred->prob);
  iclv_workspace *ws = c->ws;
  double run_max = -INFINITY, run_sum = 0.0;

  individual_means(c);
  if (with_choice) task_base_utilities(c);
  if (c->hess) iclv_hessian_person_begin(e, c->hess, c->n, with_choice);
  if (c->gradient) memset(c->grad_row, 0, sizeof(double) * P);
  if (pred) memset(ws->post, 0, sizeof(double) * 4 * L);
  const double *log_weight = e->draws.log_weight + (size_t) c->n * e->draws.weight_stride;
  const double *weight_sign =
      e->draws.weight_sign ? e->draws.weight_sign + (size_t) c->n * e->draws.weight_stride : NULL;

  for (int r0 = 0; r0 < R; r0 += B) {
    const int nb = R - r0 < B ? R - r0 : B;
    block_latent(c, r0, nb);
    memcpy(ws->loglik_draw, log_weight + r0, sizeof(double) * nb);
    block_indicators(c, nb);
    if (with_choice) block_choices(c, nb, keep_prob);
    if (pred && pred->loglik_draw)
      memcpy(pred->loglik_draw + (size_t) (c->n - pred->loglik_draw_first) * R + r0,
             ws->loglik_draw, sizeof(double) * nb);

    if (pred && pred->prob && with_choice) {
      /* Average probabilities over the draws with the prior weights. */
      const iclv_data *d = &e->data;
      for (int t = d->task_ptr[c->n], tl = 0; t < d->task_ptr[c->n + 1]; t++, tl++)
        ICLV_CSR_FOR(a, d->avail_ptr, t) {
          const int j = d->avail_alt[a];
          const double *prob = ws->choice_dv + ((size_t) tl * p->n_alt + j) * B;
          double s = 0.0;
          for (int r = 0; r < nb; r++)
            s += (weight_sign ? weight_sign[r0 + r] : 1.0) * exp(log_weight[r0 + r]) * prob[r];
          pred->prob[(size_t) t * p->n_alt + j] += s;
        }
    }

    double block_max = -INFINITY;
    for (int r = 0; r < nb; r++) block_max = iclv_max(block_max, ws->loglik_draw[r]);
    if (block_max > run_max) {
      const double rescale = run_max == -INFINITY ? 0.0 : exp(run_max - block_max);
      run_sum *= rescale;
      if (c->gradient)
        for (int i = 0; i < P; i++) c->grad_row[i] *= rescale;
      if (c->hess) iclv_hessian_rescale(c->hess, rescale);
      if (pred)
        for (int i = 0; i < 4 * L; i++) ws->post[i] *= rescale;
      run_max = block_max;
    }
    double *w = ws->weight;
    double block_sum = 0.0;
#pragma omp simd reduction(+ : block_sum)
    for (int r = 0; r < nb; r++) {
      w[r] = iclv_exp_shifted(ws->loglik_draw[r] - run_max);
      block_sum += w[r];
    }
    if (weight_sign) {
      block_sum = 0.0;
      for (int r = 0; r < nb; r++) {
        w[r] *= weight_sign[r0 + r];
        block_sum += w[r];
      }
    }
    run_sum += block_sum;

    if (c->gradient) {
      memset(ws->dlv, 0, sizeof(double) * L * B);
      gradient_indicators(c, nb);
      if (with_choice) gradient_choices(c, nb);
      gradient_latent(c, r0, nb);
      if (c->hess) iclv_hessian_block(e, c->in, ws, c->hess, c->n, r0, nb, with_choice);
    }
    if (pred) {
      for (int l = 0; l < L; l++) {
        const double *lv = ws->lv + (size_t) l * B;
        const double *eta = e->draws.eta + ((size_t) c->n * L + l) * R + r0;
        ws->post[l] += weighted_sum(w, lv, nb);
        ws->post[L + l] += weighted_sum2(w, lv, lv, nb);
        ws->post[2 * L + l] += weighted_sum(w, eta, nb);
        ws->post[3 * L + l] += weighted_sum2(w, eta, eta, nb);
      }
    }
  }

  e->nonpositive[c->n] = iclv_weights_nonpositive(run_sum);
  if (e->nonpositive[c->n]) {
    if (c->gradient) memset(c->grad_row, 0, sizeof(double) * P);
    if (c->hess) iclv_hessian_person_end(c->hess, c->grad_row, run_sum, 1);
    if (pred) {
      /* No posterior to report: NaN tells the caller to fall back. */
      for (int l = 0; l < L; l++) {
        const size_t at = (size_t) c->n * L + l;
        if (pred->lv_mean) pred->lv_mean[at] = pred->lv_sd[at] = NAN;
        if (pred->eta_mean) pred->eta_mean[at] = pred->eta_sd[at] = NAN;
      }
    }
    return iclv_person_loglik(run_max, run_sum);
  }
  if (c->gradient)
    for (int i = 0; i < P; i++) c->grad_row[i] /= run_sum;
  if (c->hess) iclv_hessian_person_end(c->hess, c->grad_row, run_sum, 0);
  if (pred && pred->lv_mean) posterior_moments(ws->post, run_sum, L, c->n, pred->lv_mean, pred->lv_sd);
  if (pred && pred->eta_mean)
    posterior_moments(ws->post + 2 * L, run_sum, L, c->n, pred->eta_mean, pred->eta_sd);
  return iclv_person_loglik(run_max, run_sum);
}

/* ---- the public entry points ---------------------------------------------- */

/* The totals from the per-individual rows, summed in blocks of people
 * (src/shard.h) in order, as a cluster's shards sum them. */
static double sum_individuals(iclv_engine *e, int gradient, double *grad) {
  const int N = e->data.n_indiv, P = e->plan.n_par;
  double loglik = 0.0;
  e->n_nonpositive = 0;
  for (int n = 0; n < N; n++) e->n_nonpositive += e->nonpositive[n];
  iclv_blocked_total(e->loglik_indiv, 1, 1, N, &loglik);
  if (gradient) iclv_blocked_total(e->grad_indiv, (size_t) P, P, N, grad);
  return loglik;
}

/* People first .. first + count - 1 at theta on up to n_threads threads:
 * their log-likelihoods into e->loglik_indiv, their gradient rows into
 * e->grad_indiv (with `gradient`), predictions into `out` (may be NULL). */
static void evaluate_people(iclv_engine *e, const double *theta, int n_threads, int first,
                            int count, int gradient, int choice, const iclv_predict_out *out) {
  const int P = e->plan.n_par;
  if (n_threads < 1 || n_threads > e->n_threads) n_threads = e->n_threads;
  const iclv_inputs in = iclv_engine_inputs(e, theta);
  iclv_fill_view(&in, 0, 1);
#ifdef _OPENMP
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
#endif
  for (int n = first; n < first + count; n++) {
    indiv_ctx c = {e, &in, e->ws + iclv_thread_num(), n, gradient, choice,
                   gradient ? e->grad_indiv + (size_t) n * P : NULL, NULL};
    e->loglik_indiv[n] = evaluate_individual(&c, out);
  }
}

double iclv_engine_eval(iclv_engine *e, const double *theta, int gradient, int choice,
                        int n_threads, double *grad) {
  evaluate_people(e, theta, n_threads, 0, e->data.n_indiv, gradient, choice, NULL);
  return sum_individuals(e, gradient, grad);
}

/* The persons go in chunks of ICLV_HESSIAN_CHUNK: a thread sums a chunk's
 * persons' Hessians in person order, and the chunks' sums are added to the
 * total in chunk order (engine_hessian.c), so the total is the same bits for
 * any thread count; a thread that finishes a chunk ahead of an earlier one
 * goes on with the next instead of waiting for it. */
double iclv_engine_eval_hessian(iclv_engine *e, const double *theta, int choice, int n_threads,
                                double *grad, double *hessian) {
  const int N = e->data.n_indiv, P = e->plan.n_par;
  iclv_hessian *h = e->hess;
  const int W = h->n_want, n_chunks = (N + ICLV_HESSIAN_CHUNK - 1) / ICLV_HESSIAN_CHUNK;
  if (n_threads < 1 || n_threads > e->n_threads) n_threads = e->n_threads;
  const iclv_inputs in = iclv_engine_inputs(e, theta);
  iclv_fill_view(&in, 0, 1);
  iclv_hessian_reset(h, n_chunks);

#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
  {
    const int thread = iclv_thread_num();
    double *buffer;
    int chunk;
    while ((chunk = iclv_hessian_next_chunk(h, n_chunks, &buffer)) >= 0) {
      const int first = chunk * ICLV_HESSIAN_CHUNK;
      const int last = first + ICLV_HESSIAN_CHUNK < N ? first + ICLV_HESSIAN_CHUNK : N;
      for (int n = first; n < last; n++) {
        indiv_ctx c = {e, &in, e->ws + thread, n, 1, choice, e->grad_indiv + (size_t) n * P,
                       h->ws + thread};
        e->loglik_indiv[n] = evaluate_individual(&c, NULL);
        iclv_hessian_person_add(e, c.hess, buffer);
      }
      iclv_hessian_chunk_done(h, n_chunks, chunk, buffer);
    }
  }

  for (int i = 0; i < W; i++)
    for (int j = i; j < W; j++)
      hessian[(size_t) i * W + j] = hessian[(size_t) j * W + i] = h->total[(size_t) i * W + j];
  return sum_individuals(e, 1, grad);
}

void iclv_engine_predict(iclv_engine *e, const double *theta, int n_threads,
                         iclv_predict_out *out) {
  if (out->prob) memset(out->prob, 0, sizeof(double) * e->data.n_tasks * e->plan.n_alt);
  iclv_engine_predict_people(e, theta, n_threads, out, 0, e->data.n_indiv);
}

void iclv_engine_predict_people(iclv_engine *e, const double *theta, int n_threads,
                                iclv_predict_out *out, int first, int count) {
  evaluate_people(e, theta, n_threads, first, count, 0, 1, out);
}
