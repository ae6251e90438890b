/* The likelihood engine: the model plan, the data and the draws laid out once
 * (structure of arrays), per-thread workspaces, and the per-individual outputs.
 * Pure C: no R headers. Index conventions: notes/architecture.md, section 2. */
#ifndef ICLV_ENGINE_H
#define ICLV_ENGINE_H

#include <stddef.h>

/* The model: which parameter (an index into theta_full, -1 = absent) sits
 * where. CSR arrays (`*_ptr`) list the entries of each latent variable or
 * indicator. */
typedef struct iclv_plan {
  int n_lv, n_ind, n_cov, n_alt, n_term, n_par;
  int *lv_alpha, *lv_sigma;
  int *lv_cov_ptr, *lv_cov_col, *lv_cov_par;
  int *lv_path_ptr, *lv_path_from, *lv_path_par;
  int *ind_family, *ind_ncat, *ind_intercept, *ind_scale;
  int *ind_load_ptr, *ind_load_lv, *ind_load_par;
  int *ind_thr_ptr, *ind_thr_par;
  double *ind_thr_sign;
  int *util_alt, *util_par, *util_lv;
  int *alt_term_ptr, *alt_term; /* utility terms grouped by alternative */
} iclv_plan;

/* Individual-major data. Ordered answers are 1..J (0 = missing); continuous
 * answers are NaN when missing. */
typedef struct iclv_data {
  int n_indiv, n_tasks, max_tasks;
  int *ind_cat;       /* n_indiv x n_ind */
  double *ind_value;  /* n_indiv x n_ind */
  double *covariates; /* n_indiv x n_cov */
  int *task_ptr;      /* n_indiv + 1 */
  int *choice;        /* n_tasks, 0-based alternative */
  int *avail_ptr;     /* n_tasks + 1: available alternatives of each task... */
  int *avail_alt;     /* ...listed here, in alternative order */
  double *term_value; /* n_tasks x n_term */
} iclv_data;

typedef struct iclv_draws {
  int n_draws, n_dim;
  double *eta;        /* [individual][dimension][draw] */
  double *log_weight; /* [individual][draw], or one row shared by all... */
  size_t weight_stride; /* ...when this is 0 (otherwise n_draws) */
  double *weight_sign;  /* NULL when every weight is positive; else +-1, laid out as log_weight
                           (sparse grids have negative weights) */
} iclv_draws;

/* Quantities derived from theta once per evaluation (not per individual). */
typedef struct iclv_theta_view {
  double *lv_sigma, *lv_path;              /* per latent; per path entry */
  double *ind_intercept, *ind_inv_scale, *ind_log_scale, *ind_load;
  double *ind_tau; /* per indicator ncat + 1 bounds: -inf, tau_1..tau_{J-1}, +inf */
  int *ind_tau_ptr;
} iclv_theta_view;

/* One thread's scratch space, sized at creation for a block of draws. */
typedef struct iclv_workspace {
  double *lv, *dlv;                 /* n_lv x block */
  double *mu, *loglik_draw, *weight; /* block */
  double *d_tau_hi, *d_tau_lo, *d_mu, *d_scale; /* n_ind x block */
  double *util;                     /* n_alt x block */
  double *util_max, *util_sum;      /* block */
  double *choice_dv;                /* max_tasks x n_alt x block */
  double *lv_mean;                  /* n_lv */
  double *task_base;                /* max_tasks x n_alt */
  double *post;                     /* 4 x n_lv: posterior sums for predictions */
} iclv_workspace;

/* Optional outputs of a prediction pass (NULL when not wanted). */
typedef struct iclv_predict_out {
  double *lv_mean, *lv_sd;   /* n_indiv x n_lv: posterior moments of the LVs... */
  double *eta_mean, *eta_sd; /* ...and of their standard normal errors */
  double *loglik_draw; /* n_indiv x n_draws: log(|w_r| p(y_n | eta_nr)) of every point,
                          for the posterior weights of adaptive integration */
  double *prob;            /* n_tasks x n_alt: choice probabilities over draws */
} iclv_predict_out;

typedef struct iclv_engine {
  iclv_plan plan;
  iclv_data data;
  iclv_draws draws;
  iclv_theta_view view;
  int n_threads, block;
  iclv_workspace *ws;
  double *loglik_indiv; /* n_indiv */
  int *nonpositive;     /* n_indiv: 1 when signed weights summed to <= 0 */
  int n_nonpositive;    /* their count in the last evaluation */
  double *grad_indiv;   /* n_indiv x n_par: the scores */
  size_t host_bytes;
  int n_allocs, max_allocs;
  void **allocs; /* everything the engine owns, freed by iclv_engine_free */
} iclv_engine;

/* An empty engine that can own the arrays of n_threads workspaces; NULL when
 * out of memory. */
iclv_engine *iclv_engine_new(int n_threads);
/* Allocation owned by the engine (zeroed); NULL when out of memory. */
void *iclv_engine_alloc(iclv_engine *e, size_t count, size_t size);
/* Sizes the derived arrays and the workspaces once plan, data and draws are
 * filled in; 0 on success. */
int iclv_engine_finish(iclv_engine *e, int n_threads, char *err, size_t errlen);
/* Checks every index of the plan and data against its range; 0 when valid. */
int iclv_engine_validate(const iclv_engine *e, char *err, size_t errlen);
void iclv_engine_free(iclv_engine *e);
/* Why the last iclv_engine_alloc() returned NULL, into msg: the table of
 * owned arrays is full (a programming error), or memory ran out. */
void iclv_engine_alloc_message(const iclv_engine *e, char *msg, size_t len);

/* Evaluates the simulated log-likelihood at theta_full (length n_par); with
 * `gradient`, also its gradient (into grad, length n_par) and the per-
 * individual scores (e->grad_indiv). `choice` = 0 switches the choice part
 * off. Allocates nothing. Returns the log-likelihood. */
double iclv_engine_eval(iclv_engine *e, const double *theta, int gradient, int choice,
                        int n_threads, double *grad);

/* Posterior moments of the latent variables and/or average choice
 * probabilities at theta_full. */
void iclv_engine_predict(iclv_engine *e, const double *theta, int n_threads,
                         iclv_predict_out *out);

#endif
