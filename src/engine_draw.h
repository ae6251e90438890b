/* One point (draw) of one person, as the CUDA kernel evaluates it, one
 * thread per point: the latent variables, the log-likelihood l_r (section 2
 * of the vignette "likelihood") and, in reverse mode, its derivatives
 * (section 5), each handed to a sink with its target. The kernel
 * (cuda/engine_cuda.cu) and its CPU run (kernel_on_cpu.c) both include this
 * header, so every test run checks the logic the GPU runs; only the sinks
 * differ: the kernel's sums a contribution over a warp before it adds it, the
 * CPU run's adds it at once.
 *
 * The includer defines `struct iclv_sink` and iclv_sink_push() (declared
 * below) before calling the gradient steps. */
#ifndef ICLV_ENGINE_DRAW_H
#define ICLV_ENGINE_DRAW_H

#include "engine_person.h"

/* What the threads of one person share. */
typedef struct iclv_person {
  int n; /* index of the person */
  int first_task, n_tasks; /* n_tasks is 0 without the choice part */
  const int *answer;       /* n_ind */
  const double *value;     /* n_ind */
  const double *x;         /* n_cov */
  const double *lv_mean;   /* n_lv: iclv_lv_mean() */
  const double *task_base; /* n_tasks x n_alt: iclv_base_utility() */
  double *lv;  /* this point's latent variables, lv[l * stride]... */
  double *dlv; /* ...and their adjoints (gradient only) */
  int stride;
} iclv_person;

/* The person's rows of the data; lv_mean, task_base, lv and dlv are the
 * caller's. */
ICLV_INLINE_HOST_DEVICE iclv_person iclv_person_of(const iclv_inputs *m, int n, int with_choice) {
  iclv_person ind;
  ind.n = n;
  ind.first_task = m->data.task_ptr[n];
  ind.n_tasks = with_choice ? ICLV_CSR_COUNT(m->data.task_ptr, n) : 0;
  ind.answer = m->data.ind_cat + (size_t) n * m->plan.n_ind;
  ind.value = m->data.ind_value + (size_t) n * m->plan.n_ind;
  ind.x = m->data.covariates + (size_t) n * m->plan.n_cov;
  ind.lv_mean = ind.task_base = NULL;
  ind.lv = ind.dlv = NULL;
  ind.stride = 1;
  return ind;
}

/* The person's latent means and base utilities: entries first, first +
 * step, ... (a block's threads share the work). */
ICLV_INLINE_HOST_DEVICE void iclv_person_fill(const iclv_inputs *m, const iclv_person *ind,
                                              double *lv_mean, double *task_base, int first,
                                              int step) {
  const int J = m->plan.n_alt;
  for (int l = first; l < m->plan.n_lv; l += step) lv_mean[l] = iclv_lv_mean(m, ind->n, l);
  for (int idx = first; idx < ind->n_tasks * J; idx += step)
    task_base[idx] = iclv_base_utility(m, ind->first_task + idx / J, idx % J);
}

/* Point r's draw xi of dimension l. */
ICLV_INLINE_HOST_DEVICE double iclv_draw_point(const iclv_inputs *m, const iclv_person *ind, int l,
                                               int r) {
  return m->draws.eta[((size_t) ind->n * m->plan.n_lv + l) * m->draws.n_draws + r];
}

/* Structural equations, forward in order, for point r (section 1.1), and
 * the random coefficients (section 1.5). */
ICLV_INLINE_HOST_DEVICE void iclv_draw_latent(const iclv_inputs *m, const iclv_person *ind, int r) {
  const iclv_plan *p = &m->plan;
  for (int l = 0; l < p->n_lv; l++) {
    const int kind = p->lv_kind[l];
    const double eta = iclv_dim_draw(kind, iclv_draw_point(m, ind, l, r));
    double v = ind->lv_mean[l] + m->view.lv_sigma[l] * eta;
    ICLV_CSR_FOR(i, p->lv_path_ptr, l)
      v += m->view.lv_path[i] * ind->lv[p->lv_path_from[i] * ind->stride];
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
      v += m->theta[p->lv_chol_par[i]] * iclv_draw_point(m, ind, p->lv_chol_from[i], r);
    ind->lv[l * ind->stride] = iclv_dim_value(kind, v);
  }
}

/* mu = a_k + sum_l zeta_kl LV_l (section 1.2). */
ICLV_INLINE_HOST_DEVICE double iclv_indicator_mean(const iclv_inputs *m, const iclv_person *ind,
                                                   int k) {
  double mu = m->view.ind_intercept[k];
  ICLV_CSR_FOR(i, m->plan.ind_load_ptr, k)
    mu += m->view.ind_load[i] * ind->lv[m->plan.ind_load_lv[i] * ind->stride];
  return mu;
}

/* The cell (ordered) or density (continuous) of indicator k (iclv_math.h). */
ICLV_INLINE_HOST_DEVICE iclv_cell iclv_indicator_cell(const iclv_inputs *m, const iclv_person *ind,
                                                      int k, double mu) {
  const int family = m->plan.ind_family[k];
  const double inv_scale = m->view.ind_inv_scale[k];
  if (family == ICLV_FAMILY_CONTINUOUS)
    return iclv_normal_density(ind->value[k], mu, inv_scale, m->view.ind_log_scale[k]);
  const double *tau = m->view.ind_tau + m->plan.ind_tau_ptr[k];
  const int j = ind->answer[k];
  return iclv_ordered_cell(family == ICLV_FAMILY_LOGIT, tau[j - 1], tau[j], mu, inv_scale);
}

/* Utility of alternative j in the person's task tl at this point: the base
 * part plus the terms with a latent variable (section 1.4). */
ICLV_INLINE_HOST_DEVICE double iclv_draw_utility(const iclv_inputs *m, const iclv_person *ind,
                                                 int tl, int j) {
  const iclv_plan *p = &m->plan;
  const double *value = m->data.term_value + (size_t) (ind->first_task + tl) * p->n_term;
  double u = ind->task_base[tl * p->n_alt + j];
  ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
    const int term = p->alt_term[i], l = p->util_lv[term];
    if (l < 0) continue;
    u += iclv_term_coef(m->theta, p->util_par[term]) * value[term] * ind->lv[l * ind->stride];
  }
  return u;
}

/* Max and sum of exp(V - max) over the available alternatives of task tl. */
ICLV_INLINE_HOST_DEVICE void iclv_task_logsumexp(const iclv_inputs *m, const iclv_person *ind,
                                                 int tl, double *vmax, double *vsum) {
  const int t = ind->first_task + tl;
  double top = -INFINITY, sum = 0.0;
  ICLV_CSR_FOR(a, m->data.avail_ptr, t)
    top = iclv_max(top, iclv_draw_utility(m, ind, tl, m->data.avail_alt[a]));
  ICLV_CSR_FOR(a, m->data.avail_ptr, t)
    sum += exp(iclv_draw_utility(m, ind, tl, m->data.avail_alt[a]) - top);
  *vmax = top;
  *vsum = sum;
}

/* l_r without the point's weight; fills ind->lv for point r. */
ICLV_INLINE_HOST_DEVICE double iclv_draw_loglik(const iclv_inputs *m, const iclv_person *ind,
                                                int r) {
  iclv_draw_latent(m, ind, r);
  double total = 0.0;
  for (int k = 0; k < m->plan.n_ind; k++) {
    if (!iclv_answered(&m->plan, ind->answer, ind->value, k)) continue;
    total += iclv_indicator_cell(m, ind, k, iclv_indicator_mean(m, ind, k)).logp;
  }
  for (int tl = 0; tl < ind->n_tasks; tl++) {
    double vmax, vsum;
    iclv_task_logsumexp(m, ind, tl, &vmax, &vsum);
    const int chosen = m->data.choice[ind->first_task + tl];
    total += iclv_draw_utility(m, ind, tl, chosen) - vmax - log(vsum);
  }
  return total;
}

/* ---- the derivatives of one point ------------------------------------------ */

/* Where a contribution goes, packed in an int: the kind in the top bits. */
#define ICLV_TARGET_PARAM 0    /* one parameter, times the contribution's scale */
#define ICLV_TARGET_ALT 1      /* the base terms of alternative j in task tl: index tl * J + j */
#define ICLV_TARGET_LV_TOTAL 2 /* alpha and covariate paths of latent l */
#define ICLV_TARGET_SHIFT 28
#define ICLV_TARGET_INDEX_MASK ((1 << ICLV_TARGET_SHIFT) - 1)

typedef struct iclv_sink iclv_sink;
/* Takes one contribution `value` (already weighted) for `target`. */
ICLV_INLINE_HOST_DEVICE void iclv_sink_push(iclv_sink *sink, int target, double scale,
                                            double value);

ICLV_INLINE_HOST_DEVICE int iclv_target(int kind, int index) {
  return (kind << ICLV_TARGET_SHIFT) | index;
}

/* Adds a contribution summed over points (`sum`) to the gradient row. */
ICLV_INLINE_HOST_DEVICE void iclv_deliver(const iclv_inputs *m, const iclv_person *ind,
                                          double *row, int target, double scale, double sum) {
  const iclv_plan *p = &m->plan;
  const int kind = target >> ICLV_TARGET_SHIFT, index = target & ICLV_TARGET_INDEX_MASK;
  if (kind == ICLV_TARGET_PARAM) {
    row[index] += scale * sum;
  } else if (kind == ICLV_TARGET_ALT) {
    const int tl = index / p->n_alt, j = index % p->n_alt;
    const double *value = m->data.term_value + (size_t) (ind->first_task + tl) * p->n_term;
    ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
      const int term = p->alt_term[i];
      if (p->util_lv[term] < 0) row[p->util_par[term]] += value[term] * sum;
    }
  } else {
    const int l = index;
    if (p->lv_alpha[l] >= 0) row[p->lv_alpha[l]] += sum;
    ICLV_CSR_FOR(i, p->lv_cov_ptr, l) row[p->lv_cov_par[i]] += sum * ind->x[p->lv_cov_col[i]];
  }
}

ICLV_INLINE_HOST_DEVICE void iclv_push_param(iclv_sink *sink, int param, double scale,
                                             double value) {
  if (param >= 0) iclv_sink_push(sink, iclv_target(ICLV_TARGET_PARAM, param), scale, value);
}

/* Indicators (section 5.1); w = this point's weight (0 for a thread without
 * a point). */
ICLV_INLINE_HOST_DEVICE void iclv_draw_gradient_indicators(const iclv_inputs *m,
                                                           const iclv_person *ind,
                                                           iclv_sink *sink, double w) {
  const iclv_plan *p = &m->plan;
  for (int k = 0; k < p->n_ind; k++) {
    if (!iclv_answered(p, ind->answer, ind->value, k)) continue;
    const iclv_cell cell = iclv_indicator_cell(m, ind, k, iclv_indicator_mean(m, ind, k));
    const double w_mu = w * cell.d_mu;
    iclv_push_param(sink, p->ind_intercept[k], 1.0, w_mu);
    iclv_push_param(sink, p->ind_scale[k], 1.0, w * cell.d_scale);
    if (p->ind_family[k] != ICLV_FAMILY_CONTINUOUS) {
      const iclv_cell_thresholds thr = iclv_cell_thresholds_of(p, k, ind->answer[k]);
      if (thr.hi >= 0)
        iclv_push_param(sink, p->ind_thr_par[thr.hi], p->ind_thr_sign[thr.hi], w * cell.d_tau_hi);
      if (thr.lo >= 0)
        iclv_push_param(sink, p->ind_thr_par[thr.lo], p->ind_thr_sign[thr.lo], w * cell.d_tau_lo);
    }
    ICLV_CSR_FOR(i, p->ind_load_ptr, k) {
      const int l = p->ind_load_lv[i];
      iclv_push_param(sink, p->ind_load_par[i], 1.0, w_mu * ind->lv[l * ind->stride]);
      ind->dlv[l * ind->stride] += m->view.ind_load[i] * cell.d_mu;
    }
  }
}

/* Choices (section 5.2): dlogP/dV_j = 1[j = y] - P_j. */
ICLV_INLINE_HOST_DEVICE void iclv_draw_gradient_choices(const iclv_inputs *m,
                                                        const iclv_person *ind, iclv_sink *sink,
                                                        double w) {
  const iclv_plan *p = &m->plan;
  for (int tl = 0; tl < ind->n_tasks; tl++) {
    const int t = ind->first_task + tl;
    const double *value = m->data.term_value + (size_t) t * p->n_term;
    double vmax, vsum;
    iclv_task_logsumexp(m, ind, tl, &vmax, &vsum);
    ICLV_CSR_FOR(a, m->data.avail_ptr, t) {
      const int j = m->data.avail_alt[a];
      const double prob = exp(iclv_draw_utility(m, ind, tl, j) - vmax) / vsum;
      const double dv = (j == m->data.choice[t] ? 1.0 : 0.0) - prob;
      if (p->alt_n_fixed[j] > 0)
        iclv_sink_push(sink, iclv_target(ICLV_TARGET_ALT, tl * p->n_alt + j), 1.0, w * dv);
      ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
        const int term = p->alt_term[i], l = p->util_lv[term];
        if (l < 0) continue;
        const int par = p->util_par[term];
        iclv_push_param(sink, par, value[term], w * dv * ind->lv[l * ind->stride]);
        ind->dlv[l * ind->stride] += iclv_term_coef(m->theta, par) * value[term] * dv;
      }
    }
  }
}

/* Structural equations and random coefficients in reverse order (section
 * 5.3; for a lognormal coefficient, d/d beta turned into d/dz first). */
ICLV_INLINE_HOST_DEVICE void iclv_draw_gradient_latent(const iclv_inputs *m,
                                                       const iclv_person *ind, iclv_sink *sink,
                                                       double w, int r) {
  const iclv_plan *p = &m->plan;
  for (int l = p->n_lv - 1; l >= 0; l--) {
    const int kind = p->lv_kind[l];
    const double dl = ind->dlv[l * ind->stride] * iclv_dim_slope(kind, ind->lv[l * ind->stride]);
    if (p->lv_alpha[l] >= 0 || ICLV_CSR_COUNT(p->lv_cov_ptr, l) > 0)
      iclv_sink_push(sink, iclv_target(ICLV_TARGET_LV_TOTAL, l), 1.0, w * dl);
    const double eta = iclv_dim_draw(kind, iclv_draw_point(m, ind, l, r));
    iclv_push_param(sink, p->lv_sigma[l], 1.0, w * dl * eta);
    ICLV_CSR_FOR(i, p->lv_chol_ptr, l)
      iclv_push_param(sink, p->lv_chol_par[i], 1.0,
                      w * dl * iclv_draw_point(m, ind, p->lv_chol_from[i], r));
    ICLV_CSR_FOR(i, p->lv_path_ptr, l) {
      const int from = p->lv_path_from[i];
      iclv_push_param(sink, p->lv_path_par[i], 1.0, w * dl * ind->lv[from * ind->stride]);
      ind->dlv[from * ind->stride] += m->view.lv_path[i] * dl;
    }
  }
}

/* All derivatives of point r with weight w (the point's latent variables are
 * recomputed; its adjoints start at 0). */
ICLV_INLINE_HOST_DEVICE void iclv_draw_gradient(const iclv_inputs *m, const iclv_person *ind,
                                                iclv_sink *sink, double w, int r) {
  iclv_draw_latent(m, ind, r);
  for (int l = 0; l < m->plan.n_lv; l++) ind->dlv[l * ind->stride] = 0.0;
  iclv_draw_gradient_indicators(m, ind, sink, w);
  iclv_draw_gradient_choices(m, ind, sink, w);
  iclv_draw_gradient_latent(m, ind, sink, w, r);
}

#endif
