/* The likelihood engine: the model plan, the data and the draws laid out once
 * (structure of arrays), per-thread workspaces, and the per-individual outputs.
 * Pure C: no R headers. Index conventions: notes/architecture.md, section 2. */
#ifndef ICLV_ENGINE_H
#define ICLV_ENGINE_H

#include <stddef.h>
#include "engine_arrays.h"

/* The entries of row `row` of a CSR array (`*_ptr`): ptr[row] .. ptr[row + 1] - 1. */
#define ICLV_CSR_FOR(i, ptr, row) \
  for (int i = (ptr)[row], i##_end = (ptr)[(row) + 1]; i < i##_end; i++)
#define ICLV_CSR_COUNT(ptr, row) ((ptr)[(row) + 1] - (ptr)[row])

/* The model: counts, and the arrays of engine_arrays.h. CSR arrays (`*_ptr`)
 * list the entries of each latent variable, indicator or alternative. */
typedef struct iclv_plan {
  int n_lv, n_ind, n_cov, n_alt, n_term, n_par;
  ICLV_PLAN_ARRAYS(ICLV_ARRAY_MEMBER)
  ICLV_PLAN_DERIVED_ARRAYS(ICLV_ARRAY_MEMBER)
} iclv_plan;

/* Individual-major data (engine_arrays.h). */
typedef struct iclv_data {
  int n_indiv, n_tasks, max_tasks;
  ICLV_DATA_ARRAYS(ICLV_ARRAY_MEMBER)
  ICLV_DATA_DERIVED_ARRAYS(ICLV_ARRAY_MEMBER)
} iclv_data;

typedef struct iclv_draws {
  int n_draws, n_dim;
  size_t weight_stride; /* n_draws when each person has own weights, else 0 */
  int signed_weights;   /* some weight is negative: weight_sign holds the signs */
  ICLV_DRAWS_ARRAYS(ICLV_ARRAY_MEMBER) /* eta, log_weight, weight_sign (NULL if unsigned) */
} iclv_draws;

/* Quantities derived from theta once per evaluation (not per individual). */
typedef struct iclv_theta_view {
  ICLV_VIEW_ARRAYS(ICLV_ARRAY_MEMBER)
} iclv_theta_view;

/* Everything an evaluation reads, as the per-person steps (engine_person.h,
 * engine_draw.h) take it: host pointers in the CPU engine and in the CPU run
 * of the kernel's logic (kernel_on_cpu.c), device pointers in the CUDA
 * kernels. The view's arrays are written once per evaluation, before any
 * person is evaluated. */
typedef struct iclv_inputs {
  iclv_plan plan;
  iclv_data data;
  iclv_draws draws;
  iclv_theta_view view;
  const double *theta; /* theta_full, n_par */
} iclv_inputs;

/* One thread's scratch space, sized at creation for a block of draws. */
typedef struct iclv_workspace {
  double *lv, *dlv;                 /* n_lv x block */
  double *draw_value;               /* n_lv x block: h(points) of uniform and triangular dimensions */
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
  int loglik_draw_first;   /* the person in loglik_draw's first row (0, or the first
                              of a range of people predicted in chunks) */
} iclv_predict_out;

/* One thread's scratch space for the Hessian (engine_hessian.c), allocated
 * on the first request. A person's "slots" are the wanted parameters its
 * log-likelihood depends on, in ascending order; the per-point work runs
 * over them only. */
typedef struct iclv_hess_workspace {
  int *slot;     /* n_par: a parameter's slot for this person, or -1 */
  int *slots;    /* n_par: the person's slots' parameters, ascending */
  int m;         /* the number of slots */
  double *acc;   /* m x m (upper triangle): sum_r w_r (g_r g_r' + H_r), then H_n */
  double *g, *wg; /* n_par x block: each point's gradient over the slots, and weighted */
  double *d_lv;  /* n_lv x n_struct x block: d V_l / d structural parameter */
  double *rows;  /* (n_alt + 1) x n_rows x block: gradients of mu_k or of the utilities */
  int *row_slot; /* n_rows: the slot of each row */
  double *coef;  /* 12 x block: one cell's 10 weighted second derivatives and its mu (C_*) */
} iclv_hess_workspace;

/* What the Hessian needs beyond the engine (engine_hessian.c): the
 * structural parameters and which latent variables each moves, the wanted
 * parameters, the result and the threads' workspaces. */
typedef struct iclv_hessian {
  int n_struct;   /* distinct structural parameters (alpha, gamma, sigma, B, L)... */
  int *struct_par; /* ...their indices into theta_full */
  int *lv_alpha_s, *lv_sigma_s; /* n_lv: the ordinal (0..n_struct-1) of each, or -1 */
  int *lv_cov_s, *lv_path_s, *lv_chol_s; /* per covariate, path and Cholesky entry of the plan */
  int *reach_ptr, *reach;       /* CSR per dimension: the ordinals that move it */
  int n_choice;   /* distinct utility coefficients... */
  int *choice_par; /* ...their indices into theta_full */
  int n_rows;     /* rows of the scratch gradients: the most of any mu_k or utility */
  int *want;      /* n_par: position among the wanted parameters, or -1 */
  int n_want;
  double *total;  /* n_want x n_want: the Hessian of the wanted parameters */
  /* Persons go in chunks; each chunk's sum of H_n is made in a buffer of the
   * pool and added to the total in chunk order (engine.c). */
  int n_pool;     /* buffers: twice the threads */
  double *pool;   /* n_pool x n_want x n_want (upper triangles) */
  int *pool_free, n_free; /* the free buffers (a stack) */
  int *chunk_buf; /* per chunk: the buffer holding its finished sum, or -1 */
  int next_chunk, next_merge; /* the next chunk to hand out, and to add */
  iclv_hess_workspace *ws; /* one per thread */
} iclv_hessian;

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
  iclv_hessian *hess;   /* NULL until a Hessian is asked for */
  size_t host_bytes;
  int n_allocs, max_allocs;
  void **allocs; /* everything the engine owns, freed by iclv_engine_free */
} iclv_engine;

/* Allocates `count` elements for `ptr` from the engine (iclv_engine_alloc()),
 * or writes why it failed into err and returns 1 from the calling function. */
#define ICLV_ENGINE_ALLOC(e, ptr, count, err, errlen)                  \
  do {                                                                 \
    (ptr) = iclv_engine_alloc((e), (count), sizeof(*(ptr)));           \
    if ((ptr) == NULL) {                                               \
      iclv_engine_alloc_message((e), (err), (errlen));                 \
      return 1;                                                        \
    }                                                                  \
  } while (0)

/* An empty engine that can own the arrays of n_threads workspaces; NULL when
 * out of memory. */
iclv_engine *iclv_engine_new(int n_threads);
/* Allocation owned by the engine (zeroed); NULL when out of memory. */
void *iclv_engine_alloc(iclv_engine *e, size_t count, size_t size);

/* Allocates the points' arrays (ICLV_DRAWS_ARRAYS) for the engine's people,
 * e->draws' counts set. 0, or 1 with the reason in err. */
int iclv_draws_alloc(iclv_engine *e, char *err, size_t errlen);
/* Sizes the derived arrays and the workspaces once plan, data and draws are
 * filled in; 0 on success. */
int iclv_engine_finish(iclv_engine *e, int n_threads, char *err, size_t errlen);
/* Checks every index of the plan and data against its range; 0 when valid. */
int iclv_engine_validate(const iclv_engine *e, char *err, size_t errlen);
void iclv_engine_free(iclv_engine *e);
/* Why the last iclv_engine_alloc() returned NULL, into msg: the table of
 * owned arrays is full (a programming error), or memory ran out. */
void iclv_engine_alloc_message(const iclv_engine *e, char *msg, size_t len);

/* The inputs of an evaluation at theta_full: the engine's host arrays. */
iclv_inputs iclv_engine_inputs(const iclv_engine *e, const double *theta);

/* Evaluates the simulated log-likelihood at theta_full (length n_par); with
 * `gradient`, also its gradient (into grad, length n_par) and the per-
 * individual scores (e->grad_indiv). `choice` = 0 switches the choice part
 * off. Allocates nothing. Returns the log-likelihood. */
double iclv_engine_eval(iclv_engine *e, const double *theta, int gradient, int choice,
                        int n_threads, double *grad);

/* Prepares the Hessian of the parameters with want[i] != 0 (length n_par):
 * allocates its workspaces on the first call (owned by the engine, kept for
 * the next). 0 on success; else a message in err (out of memory). */
int iclv_engine_hessian_setup(iclv_engine *e, const int *want, char *err, size_t errlen);

/* As iclv_engine_eval() with the gradient, and the Hessian of the
 * log-likelihood in the parameters set up by iclv_engine_hessian_setup()
 * into `hessian` (n_want x n_want, ascending parameter order), by the
 * missing-information identity per person (vignette "likelihood",
 * section 7). Allocates nothing; bitwise the same for any thread count.
 * The log-likelihood, gradient and scores are those of iclv_engine_eval(). */
double iclv_engine_eval_hessian(iclv_engine *e, const double *theta, int choice, int n_threads,
                                double *grad, double *hessian);

/* Posterior moments of the latent variables and/or average choice
 * probabilities at theta_full. */
void iclv_engine_predict(iclv_engine *e, const double *theta, int n_threads,
                         iclv_predict_out *out);

/* The same for people first .. first + count - 1 only (out->prob, when
 * wanted, is added to, not cleared). */
void iclv_engine_predict_people(iclv_engine *e, const double *theta, int n_threads,
                                iclv_predict_out *out, int first, int count);

#endif
