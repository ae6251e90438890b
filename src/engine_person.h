/* The per-person steps of the likelihood, written once for every backend: the
 * CPU engine (engine.c), the CUDA kernels (cuda/engine_cuda.cu) and the CPU
 * run of the kernels' logic (kernel_on_cpu.c). Each function is one step for
 * one entry (one latent mean, one threshold, one task's base utility, ...)
 * over the const inputs of engine.h, host or device pointers alike; the loops
 * around them are the backends' own. Section numbers refer to the vignette
 * "likelihood" (vignettes/likelihood.Rmd). */
#ifndef ICLV_ENGINE_PERSON_H
#define ICLV_ENGINE_PERSON_H

#include "engine.h"
#include "iclv_math.h"

ICLV_INLINE_HOST_DEVICE double iclv_param_or(const double *theta, int index, double absent) {
  return index >= 0 ? theta[index] : absent;
}

/* The kinds of integration dimension (the plan's lv_kind). A latent
 * variable is LV = mean + sigma xi + paths; a random coefficient is
 * beta = g(z), z = location + spread h(xi) + sum_j L_j xi_j (Cholesky entries
 * on earlier dimensions' draws), where h maps the standard normal draw xi
 * and g the underlying value (vignette "likelihood", section 1.5). */
#define ICLV_DIM_LATENT 0        /* a latent variable: LV = z */
#define ICLV_DIM_NORMAL 1        /* beta = z */
#define ICLV_DIM_LOGNORMAL 2     /* beta = exp(z) */
#define ICLV_DIM_NEG_LOGNORMAL 3 /* beta = -exp(z) */
#define ICLV_DIM_UNIFORM 4       /* h(xi) = 2 Phi(xi) - 1, uniform on [-1, 1] */
#define ICLV_DIM_TRIANGULAR 5    /* h(xi) = the symmetric triangular quantile on [-1, 1] of Phi(xi) */
#define ICLV_DIM_MAX_Z 700.0     /* z above this is taken as this: exp stays finite */

/* Does the dimension map its draw (h not the identity)? */
ICLV_INLINE_HOST_DEVICE int iclv_dim_maps_draw(int kind) { return kind >= ICLV_DIM_UNIFORM; }
/* Is beta = +-exp(z) (g not the identity)? */
ICLV_INLINE_HOST_DEVICE int iclv_dim_is_lognormal(int kind) {
  return kind == ICLV_DIM_LOGNORMAL || kind == ICLV_DIM_NEG_LOGNORMAL;
}

/* h(xi). The triangular quantile is sqrt(2u) - 1 below the median and
 * 1 - sqrt(2 (1 - u)) above, u = Phi(xi); both take the tail Phi(-|xi|)
 * directly, so nothing cancels. */
ICLV_INLINE_HOST_DEVICE double iclv_dim_draw(int kind, double xi) {
  if (kind == ICLV_DIM_UNIFORM) return erf(xi * ICLV_SQRT1_2);
  if (kind == ICLV_DIM_TRIANGULAR) {
    const double v = 1.0 - sqrt(erfc(fabs(xi) * ICLV_SQRT1_2));
    return xi < 0.0 ? -v : v;
  }
  return xi;
}

/* g(z): the coefficient from its underlying value. */
ICLV_INLINE_HOST_DEVICE double iclv_dim_value(int kind, double z) {
  if (!iclv_dim_is_lognormal(kind)) return z;
  const double e = exp(z < ICLV_DIM_MAX_Z ? z : ICLV_DIM_MAX_Z);
  return kind == ICLV_DIM_LOGNORMAL ? e : -e;
}

/* g'(z), from beta = g(z): beta itself for the lognormals, else 1. */
ICLV_INLINE_HOST_DEVICE double iclv_dim_slope(int kind, double beta) {
  return iclv_dim_is_lognormal(kind) ? beta : 1.0;
}

/* The coefficient of a utility term: its parameter, or 1 for a random
 * coefficient's term (util_par -1), whose coefficient is the dimension. */
ICLV_INLINE_HOST_DEVICE double iclv_term_coef(const double *theta, int par) {
  return par >= 0 ? theta[par] : 1.0;
}

/* Threshold i of the plan: a sign (+1, -1 or 0) times a parameter (section 1.3). */
ICLV_INLINE_HOST_DEVICE double iclv_threshold(const iclv_inputs *in, int i) {
  return in->plan.ind_thr_sign[i] * in->theta[in->plan.ind_thr_par[i]];
}

/* The view of theta: entries first, first + step, ... of each of its arrays,
 * so that one pass (step 1) or a block of threads (first = the thread) fills
 * it. Every indicator's bounds run -inf, tau_1..tau_{J-1}, +inf. */
ICLV_INLINE_HOST_DEVICE void iclv_fill_view(const iclv_inputs *in, int first, int step) {
  const iclv_plan *p = &in->plan;
  const iclv_theta_view *v = &in->view;
  const double *theta = in->theta;
  for (int l = first; l < p->n_lv; l += step)
    v->lv_sigma[l] = iclv_param_or(theta, p->lv_sigma[l], 1.0);
  for (int i = first; i < p->lv_path_ptr[p->n_lv]; i += step)
    v->lv_path[i] = theta[p->lv_path_par[i]];
  for (int i = first; i < p->ind_load_ptr[p->n_ind]; i += step)
    v->ind_load[i] = theta[p->ind_load_par[i]];
  for (int k = first; k < p->n_ind; k += step) {
    const double scale = iclv_param_or(theta, p->ind_scale[k], 1.0);
    v->ind_intercept[k] = iclv_param_or(theta, p->ind_intercept[k], 0.0);
    v->ind_inv_scale[k] = 1.0 / scale;
    v->ind_log_scale[k] = log(scale);
    double *tau = v->ind_tau + p->ind_tau_ptr[k];
    const int n_thr = ICLV_CSR_COUNT(p->ind_thr_ptr, k);
    tau[0] = -INFINITY;
    for (int j = 0; j < n_thr; j++) tau[j + 1] = iclv_threshold(in, p->ind_thr_ptr[k] + j);
    tau[n_thr + 1] = INFINITY;
  }
}

/* Did the person answer indicator k? (`answer`, `value`: the person's row.) */
ICLV_INLINE_HOST_DEVICE int iclv_answered(const iclv_plan *p, const int *answer,
                                          const double *value, int k) {
  return p->ind_family[k] == ICLV_FAMILY_CONTINUOUS ? !isnan(value[k]) : answer[k] != 0;
}

/* The mean of latent variable l for person n before its paths and error:
 * alpha_l + sum_c gamma_lc x_nc (section 1.1). */
ICLV_INLINE_HOST_DEVICE double iclv_lv_mean(const iclv_inputs *in, int n, int l) {
  const iclv_plan *p = &in->plan;
  const double *x = in->data.covariates + (size_t) n * p->n_cov;
  double mean = iclv_param_or(in->theta, p->lv_alpha[l], 0.0);
  ICLV_CSR_FOR(i, p->lv_cov_ptr, l) mean += in->theta[p->lv_cov_par[i]] * x[p->lv_cov_col[i]];
  return mean;
}

/* The part of alternative j's utility in task t without latent variables,
 * summed in term order (section 1.4): once per task, not per point. */
ICLV_INLINE_HOST_DEVICE double iclv_base_utility(const iclv_inputs *in, int t, int j) {
  const iclv_plan *p = &in->plan;
  const double *value = in->data.term_value + (size_t) t * p->n_term;
  double base = 0.0;
  ICLV_CSR_FOR(i, p->alt_term_ptr, j) {
    const int m = p->alt_term[i];
    if (p->util_lv[m] < 0) base += in->theta[p->util_par[m]] * value[m];
  }
  return base;
}

/* The thresholds that bound answer j's cell of indicator k, and so take its
 * gradient (section 5.1), as indices into the plan's ind_thr_* arrays: the
 * upper one (none for the last category) and the lower one (none for the
 * first); -1 when absent. */
typedef struct iclv_cell_thresholds {
  int hi, lo;
} iclv_cell_thresholds;

ICLV_INLINE_HOST_DEVICE iclv_cell_thresholds iclv_cell_thresholds_of(const iclv_plan *p, int k,
                                                                     int j) {
  const int first = p->ind_thr_ptr[k], n_thr = ICLV_CSR_COUNT(p->ind_thr_ptr, k);
  iclv_cell_thresholds c;
  c.hi = j <= n_thr ? first + j - 1 : -1;
  c.lo = j >= 2 ? first + j - 2 : -1;
  return c;
}

/* A person whose signed weights sum to 0 or less (sparse grids) has no
 * estimate: the integral is floored, with zero gradient, and the person
 * flagged (section 3.1). */
ICLV_INLINE_HOST_DEVICE int iclv_weights_nonpositive(double sum) { return !(sum > 0.0); }

/* LL_n = M + log S from the running maximum M and sum S (section 4). */
ICLV_INLINE_HOST_DEVICE double iclv_person_loglik(double top, double sum) {
  return iclv_weights_nonpositive(sum) ? top + log(ICLV_PROB_FLOOR) : top + log(sum);
}

/* The weight of a point relative to the maximum M: sign * exp(l - M), where
 * l is its log weight plus log-likelihood. */
ICLV_INLINE_HOST_DEVICE double iclv_point_weight(double l, double top, double sign) {
  return sign * exp(l - top);
}

/* (M, S) of section 4, one point at a time: adds a point with log weight
 * plus log-likelihood l and weight sign `sign`. */
ICLV_INLINE_HOST_DEVICE void iclv_softmax_add(double *top, double *sum, double l, double sign) {
  if (l > *top) {
    *sum = *top == -INFINITY ? 0.0 : *sum * exp(*top - l);
    *top = l;
  }
  *sum += iclv_point_weight(l, *top, sign);
}

/* Combines two (M, S) pairs. */
ICLV_INLINE_HOST_DEVICE void iclv_softmax_merge(double *top, double *sum, double other_top,
                                                double other_sum) {
  if (other_top == -INFINITY) return;
  if (*top == -INFINITY) {
    *top = other_top;
    *sum = other_sum;
    return;
  }
  const double new_top = iclv_max(*top, other_top);
  *sum = *sum * exp(*top - new_top) + other_sum * exp(other_top - new_top);
  *top = new_top;
}

#endif
