/* The CUDA likelihood kernel's logic run serially on the CPU, for the tests
 * (test-gpu-logic.R): the functions the kernels call (engine_person.h,
 * engine_draw.h), in the kernels' order, so that every test run, with or
 * without a GPU, checks the logic the GPU runs against the CPU engine.
 *
 * As in cuda/engine_cuda.cu: the view is filled by 128 emulated threads;
 * a person's `lanes` emulated threads share its latent means and base
 * utilities, each lane keeps its own online (max, sum) over the points lane,
 * lane + lanes, ..., and the lanes' pairs are merged in lane order; then each
 * point's derivatives are taken with its weight, and the row divided by the
 * sum. Only the sink differs from the kernel's: a contribution is added at
 * once instead of being summed over a warp first. */
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include "glue.h"
#include "engine_glue.h"
#include "engine_draw.h"

/* The threads of the kernel that fills the view (view_kernel's launch). */
#define VIEW_THREADS 128

struct iclv_sink {
  const iclv_inputs *m;
  const iclv_person *ind;
  double *row;
};

ICLV_INLINE_HOST_DEVICE void iclv_sink_push(iclv_sink *sink, int target, double scale,
                                            double value) {
  iclv_deliver(sink->m, sink->ind, sink->row, target, scale, value);
}

/* Scratch space of one person, sized for the engine. */
typedef struct person_scratch {
  double *lv_mean, *task_base, *lv, *dlv, *point;
} person_scratch;

/* LL_n; the gradient row (n_par) and the flag of a nonpositive sum. */
static double person_eval(const iclv_inputs *m, int n, int with_choice, int lanes,
                          const person_scratch *s, double *row, int *nonpositive) {
  const int R = m->draws.n_draws, P = m->plan.n_par;
  iclv_person ind = iclv_person_of(m, n, with_choice);
  for (int tid = 0; tid < lanes; tid++)
    iclv_person_fill(m, &ind, s->lv_mean, s->task_base, tid, lanes);
  ind.lv_mean = s->lv_mean;
  ind.task_base = s->task_base;
  ind.lv = s->lv;
  ind.dlv = s->dlv;
  ind.stride = 1;

  const double *log_weight = m->draws.log_weight + (size_t) n * m->draws.weight_stride;
  const double *weight_sign =
      m->draws.weight_sign ? m->draws.weight_sign + (size_t) n * m->draws.weight_stride : NULL;
  double top = -INFINITY, sum = 0.0;
  for (int lane = 0; lane < lanes; lane++) {
    double lane_top = -INFINITY, lane_sum = 0.0;
    for (int r = lane; r < R; r += lanes) {
      s->point[r] = log_weight[r] + iclv_draw_loglik(m, &ind, r);
      iclv_softmax_add(&lane_top, &lane_sum, s->point[r], weight_sign ? weight_sign[r] : 1.0);
    }
    iclv_softmax_merge(&top, &sum, lane_top, lane_sum);
  }
  *nonpositive = iclv_weights_nonpositive(sum);
  memset(row, 0, sizeof(double) * P);
  if (!*nonpositive) {
    iclv_sink sink = {m, &ind, row};
    for (int r = 0; r < R; r++) {
      const double w = iclv_point_weight(s->point[r], top, weight_sign ? weight_sign[r] : 1.0);
      iclv_draw_gradient(m, &ind, &sink, w, r);
    }
    for (int i = 0; i < P; i++) row[i] /= sum;
  }
  return iclv_person_loglik(top, sum);
}

/* As engine_eval() with the gradient and the scores, by the kernels' logic
 * with `lanes` threads per person. Leaves its results in the engine's
 * per-individual arrays, as the other backends do. */
SEXP kernel_on_cpu_eval(SEXP engine, SEXP theta, SEXP choice, SEXP lanes) {
  iclv_engine *e = engine_from(engine);
  engine_check_theta(e, theta);
  const int n_lanes = asInteger(lanes);
  if (n_lanes == NA_INTEGER || n_lanes < 1) error("`lanes` must be a positive whole number");
  const int N = e->data.n_indiv, P = e->plan.n_par;
  const int with_choice = asLogical(choice) != FALSE && e->data.n_tasks > 0;

  const iclv_inputs in = iclv_engine_inputs(e, REAL(theta));
  for (int tid = 0; tid < VIEW_THREADS; tid++) iclv_fill_view(&in, tid, VIEW_THREADS);
  /* R_alloc: freed when the .Call returns, error or not. */
  const int L = e->plan.n_lv;
  person_scratch s;
  s.lv_mean = (double *) R_alloc(L, sizeof(double));
  s.task_base = (double *) R_alloc((size_t) e->data.max_tasks * e->plan.n_alt + 1, sizeof(double));
  s.lv = (double *) R_alloc(L, sizeof(double));
  s.dlv = (double *) R_alloc(L, sizeof(double));
  s.point = (double *) R_alloc(e->draws.n_draws, sizeof(double));

  SEXP grad = PROTECT(allocVector(REALSXP, P));
  memset(REAL(grad), 0, sizeof(double) * P);
  double loglik = 0.0;
  e->n_nonpositive = 0;
  for (int n = 0; n < N; n++) {
    double *row = e->grad_indiv + (size_t) n * P;
    e->loglik_indiv[n] = person_eval(&in, n, with_choice, n_lanes, &s, row, e->nonpositive + n);
    loglik += e->loglik_indiv[n];
    e->n_nonpositive += e->nonpositive[n];
    for (int i = 0; i < P; i++) REAL(grad)[i] += row[i];
  }
  SEXP out = engine_result(e, loglik, grad, PROTECT(score_columns(e, R_NilValue)));
  UNPROTECT(2);
  return out;
}
