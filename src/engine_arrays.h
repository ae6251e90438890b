/* The engine's arrays, listed once: name, element type and length. Each list
 * is an X-macro: X(type, name, length) for the plan and the view, X(type,
 * name, rows, cols) for the data (R matrices, stored row-major; a vector has
 * one column). The lengths are expressions in `p` (the plan) and `d` (the
 * data), evaluated where the list is expanded with those names in scope, in
 * list order (a CSR pointer comes before the arrays it spans). Expanded by
 * engine.h (the struct members), engine_glue.c (reading from R),
 * engine_setup.c (the view's allocation) and cuda/engine_cuda.cu (the device
 * copies). Index conventions: notes/architecture.md, section 2. */
#ifndef ICLV_ENGINE_ARRAYS_H
#define ICLV_ENGINE_ARRAYS_H

/* The plan as R gives it (model$plan): which parameter (an index into
 * theta_full, -1 = absent) sits where. */
#define ICLV_PLAN_ARRAYS(X)                                 \
  X(int, lv_alpha, p->n_lv)                                 \
  X(int, lv_sigma, p->n_lv)                                 \
  X(int, lv_cov_ptr, p->n_lv + 1)                           \
  X(int, lv_cov_col, p->lv_cov_ptr[p->n_lv])                \
  X(int, lv_cov_par, p->lv_cov_ptr[p->n_lv])                \
  X(int, lv_path_ptr, p->n_lv + 1)                          \
  X(int, lv_path_from, p->lv_path_ptr[p->n_lv])             \
  X(int, lv_path_par, p->lv_path_ptr[p->n_lv])              \
  X(int, lv_kind, p->n_lv) /* ICLV_DIM_*: latent variable or random coefficient */ \
  X(int, lv_chol_ptr, p->n_lv + 1) /* Cholesky entries below the diagonal... */ \
  X(int, lv_chol_from, p->lv_chol_ptr[p->n_lv]) /* ...the earlier dimension... */ \
  X(int, lv_chol_par, p->lv_chol_ptr[p->n_lv])  /* ...and the entry's parameter */ \
  X(int, ind_family, p->n_ind)                              \
  X(int, ind_ncat, p->n_ind)                                \
  X(int, ind_intercept, p->n_ind)                           \
  X(int, ind_scale, p->n_ind)                               \
  X(int, ind_load_ptr, p->n_ind + 1)                        \
  X(int, ind_load_lv, p->ind_load_ptr[p->n_ind])            \
  X(int, ind_load_par, p->ind_load_ptr[p->n_ind])           \
  X(int, ind_thr_ptr, p->n_ind + 1)                         \
  X(int, ind_thr_par, p->ind_thr_ptr[p->n_ind])             \
  X(double, ind_thr_sign, p->ind_thr_ptr[p->n_ind])         \
  X(int, util_alt, p->n_term)                               \
  X(int, util_par, p->n_term) /* -1: coefficient 1 (a random coefficient's term) */ \
  X(int, util_lv, p->n_term)

/* Derived from the plan by iclv_engine_finish(). */
#define ICLV_PLAN_DERIVED_ARRAYS(X)                         \
  X(int, alt_term_ptr, p->n_alt + 1) /* utility terms... */ \
  X(int, alt_term, p->n_term)        /* ...by alternative */ \
  X(int, alt_n_fixed, p->n_alt)      /* its terms without a latent variable */ \
  X(int, ind_tau_ptr, p->n_ind + 1)  /* each indicator's bounds in the view's ind_tau */

/* The data as R gives it (prepare_data()), individual-major. Ordered answers
 * are 1..J (0 = missing); continuous answers are NaN when missing. */
#define ICLV_DATA_ARRAYS(X)                                 \
  X(int, ind_cat, d->n_indiv, p->n_ind)                     \
  X(double, ind_value, d->n_indiv, p->n_ind)                \
  X(double, covariates, d->n_indiv, p->n_cov)               \
  X(int, task_ptr, d->n_indiv + 1, 1)                       \
  X(int, choice, d->n_tasks, 1) /* 0-based alternative */   \
  X(double, term_value, d->n_tasks, p->n_term)

/* Derived from R's availability matrix: the available alternatives of each
 * task, in alternative order. */
#define ICLV_DATA_DERIVED_ARRAYS(X)                         \
  X(int, avail_ptr, d->n_tasks + 1)                         \
  X(int, avail_alt, d->avail_ptr[d->n_tasks])

/* The view: what an evaluation derives from theta once (not per individual). */
#define ICLV_VIEW_ARRAYS(X)                                 \
  X(double, lv_sigma, p->n_lv)                              \
  X(double, lv_path, p->lv_path_ptr[p->n_lv])               \
  X(double, ind_intercept, p->n_ind)                        \
  X(double, ind_inv_scale, p->n_ind)                        \
  X(double, ind_log_scale, p->n_ind)                        \
  X(double, ind_load, p->ind_load_ptr[p->n_ind])            \
  X(double, ind_tau, p->ind_tau_ptr[p->n_ind]) /* per indicator: -inf, tau_1..tau_{J-1}, +inf */

/* The integration points, made by src/points.c or copied from R's arrays
 * (engine_glue.c): X(type, name, length), the lengths in `dr` (the
 * engine's iclv_draws, its counts set) and `N` (its people). An array of
 * length 0 is not allocated (NULL). Expanded by engine.h (the struct
 * members), engine_setup.c (their allocation) and cuda/engine_cuda.cu (the
 * device copies). */
#define ICLV_DRAWS_N_WEIGHTS(dr, N) \
  ((dr)->weight_stride ? (size_t) (N) * (dr)->n_draws : (size_t) (dr)->n_draws)
#define ICLV_DRAWS_ARRAYS(X)                                                         \
  X(double, eta, (size_t) (N) * (dr)->n_dim * (dr)->n_draws) /* [person][dim][point] */ \
  /* log |w_r|: per person and point, or one row shared by all (weight_stride 0) */  \
  X(double, log_weight, ICLV_DRAWS_N_WEIGHTS(dr, N))                                 \
  /* +-1, laid out as log_weight, when some weight is negative (sparse grids) */     \
  X(double, weight_sign, (dr)->signed_weights ? ICLV_DRAWS_N_WEIGHTS(dr, N) : 0)

/* Struct members: one pointer per array. */
#define ICLV_ARRAY_MEMBER(type, name, ...) type *name;

#endif
