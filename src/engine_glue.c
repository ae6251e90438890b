/* The R side of the engine: turns the plan, data and draws lists into an
 * engine behind an external pointer, and evaluates it. The engine is owned by
 * the pointer from the start, so an R error while it is being filled leaves
 * nothing behind: the finalizer frees it. */
#include <math.h>
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include "glue.h"
#include "engine_glue.h"
#include "gpu_engine_glue.h"
#include "engine.h"
#include "cuda/gpu.h"
#include "points_glue.h"

static const char *ENGINE_TAG = "iclv_engine";

static void engine_finalize(SEXP ptr) {
  iclv_engine *e = R_ExternalPtrAddr(ptr);
  if (e == NULL) return;
  R_ClearExternalPtr(ptr);
  iclv_engine_free(e);
}

iclv_engine *engine_from(SEXP ptr) {
  if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != install(ENGINE_TAG))
    error("not an iclv engine");
  iclv_engine *e = R_ExternalPtrAddr(ptr);
  if (e == NULL) error("the iclv engine has been freed (engines do not survive save/load)");
  return e;
}

/* An R error saying why an allocation failed (the engine is freed by its
 * pointer's finalizer). */
static void alloc_failed(const iclv_engine *e) {
  char msg[256];
  iclv_engine_alloc_message(e, msg, sizeof msg);
  error("%s", msg);
}

SEXP list_get(SEXP list, const char *name) {
  SEXP names = getAttrib(list, R_NamesSymbol);
  for (R_xlen_t i = 0; i < XLENGTH(list); i++)
    if (strcmp(CHAR(STRING_ELT(names, i)), name) == 0) return VECTOR_ELT(list, i);
  error("engine input has no element '%s'", name);
  return R_NilValue;
}

#define SEXP_TYPE_int INTSXP
#define SEXP_TYPE_double REALSXP

/* An engine-owned row-major copy of an R matrix (column-major, n_rows x
 * n_cols) or, with one column, of a vector. */
static void *copy_rows(iclv_engine *e, SEXP list, const char *name, R_xlen_t n_rows, int n_cols,
                       int type) {
  SEXP x = list_get(list, name);
  const char *type_name = type == INTSXP ? "integer" : "double";
  if (TYPEOF(x) != type) error("engine input '%s' must be %s", name, type_name);
  if (n_rows < 0 || XLENGTH(x) != n_rows * n_cols) {
    if (n_cols == 1)
      error("engine input '%s' has length %lld, expected %lld", name, (long long) XLENGTH(x),
            (long long) n_rows);
    error("engine input '%s' must be a %lld x %d %s matrix", name, (long long) n_rows, n_cols,
          type_name);
  }
  const size_t size = type == INTSXP ? sizeof(int) : sizeof(double);
  void *out = iclv_engine_alloc(e, (size_t) n_rows * n_cols, size);
  if (out == NULL) alloc_failed(e);
  if (n_cols == 1) {
    const void *from = type == INTSXP ? (const void *) INTEGER(x) : (const void *) REAL(x);
    if (n_rows > 0) memcpy(out, from, size * n_rows);
    return out;
  }
  for (R_xlen_t i = 0; i < n_rows; i++)
    for (int j = 0; j < n_cols; j++) {
      size_t from = (size_t) j * n_rows + i, to = (size_t) i * n_cols + j;
      if (type == INTSXP) ((int *) out)[to] = INTEGER(x)[from];
      else ((double *) out)[to] = REAL(x)[from];
    }
  return out;
}

static int count_of(SEXP list, const char *name) {
  return (int) XLENGTH(list_get(list, name));
}

static void read_plan(iclv_engine *e, SEXP plan) {
  iclv_plan *p = &e->plan;
  p->n_lv = count_of(plan, "lv_alpha");
  p->n_ind = count_of(plan, "ind_family");
  p->n_term = count_of(plan, "util_alt");
  p->n_par = asInteger(list_get(plan, "n_par"));
  p->n_cov = asInteger(list_get(plan, "n_cov"));
  p->n_alt = asInteger(list_get(plan, "n_alt"));
  if (p->n_par < 1 || p->n_lv < 1 || p->n_cov < 0 || p->n_alt < 0)
    error("engine input: the plan has no parameters or no latent variables");
#define READ_PLAN(type, name, count) \
  p->name = copy_rows(e, plan, #name, count, 1, SEXP_TYPE_##type);
  ICLV_PLAN_ARRAYS(READ_PLAN)
#undef READ_PLAN
}

static void read_data(iclv_engine *e, SEXP data) {
  iclv_data *d = &e->data;
  const iclv_plan *p = &e->plan;
  d->n_indiv = count_of(data, "task_ptr") - 1;
  d->n_tasks = count_of(data, "choice");
  if (d->n_indiv < 1) error("engine input: no individuals");
#define READ_DATA(type, name, n_rows, n_cols) \
  d->name = copy_rows(e, data, #name, n_rows, n_cols, SEXP_TYPE_##type);
  ICLV_DATA_ARRAYS(READ_DATA)
#undef READ_DATA
  /* Available alternatives as a list per task. */
  int *avail = copy_rows(e, data, "avail", d->n_tasks, p->n_alt, INTSXP);
  d->avail_ptr = iclv_engine_alloc(e, (size_t) d->n_tasks + 1, sizeof(int));
  d->avail_alt = iclv_engine_alloc(e, (size_t) d->n_tasks * p->n_alt, sizeof(int));
  if (d->avail_ptr == NULL || d->avail_alt == NULL) alloc_failed(e);
  for (int t = 0, i = 0; t < d->n_tasks; t++) {
    for (int j = 0; j < p->n_alt; j++)
      if (avail[(size_t) t * p->n_alt + j]) d->avail_alt[i++] = j;
    d->avail_ptr[t + 1] = i;
  }
}

/* Draws arrive as an R array N x R x D; the engine reads [n][d][r]. */
static void read_draws(iclv_engine *e, SEXP draws, SEXP draw_weights) {
  iclv_draws *dr = &e->draws;
  SEXP dim = getAttrib(draws, R_DimSymbol);
  const int N = e->data.n_indiv, D = e->plan.n_lv;
  if (TYPEOF(draws) != REALSXP || XLENGTH(dim) != 3 || INTEGER(dim)[0] != N ||
      INTEGER(dim)[2] != D)
    error("draws must be a double array of %d individuals x draws x %d latent variables", N, D);
  const int R = INTEGER(dim)[1];
  if (R < 1) error("draws: at least one draw is needed");
  const int per_indiv = TYPEOF(draw_weights) == REALSXP && XLENGTH(draw_weights) == (R_xlen_t) N * R &&
                        N > 1;
  if (TYPEOF(draw_weights) != REALSXP || (XLENGTH(draw_weights) != R && !per_indiv))
    error("draw weights must be a double vector of length %d or a %d x %d matrix", R, N, R);
  /* Weights: a vector per draw, or an R matrix individuals x draws; signed
   * weights (sparse grids) keep their signs apart. */
  const double *w = REAL(draw_weights);
  const R_xlen_t n_weights = XLENGTH(draw_weights);
  int any_negative = 0;
  for (R_xlen_t i = 0; i < n_weights; i++) {
    if (!R_FINITE(w[i]) || w[i] == 0.0)
      error("draw weight %lld is zero or not finite", (long long) (i + 1));
    any_negative |= w[i] < 0.0;
  }
  dr->n_draws = R;
  dr->n_dim = D;
  dr->weight_stride = per_indiv ? (size_t) R : 0;
  dr->signed_weights = any_negative;
  char msg[256];
  if (iclv_draws_alloc(e, msg, sizeof msg) != 0) error("%s", msg);
  const double *x = REAL(draws);
  for (int n = 0; n < N; n++)
    for (int d = 0; d < D; d++)
      for (int r = 0; r < R; r++)
        dr->eta[((size_t) n * D + d) * R + r] = x[n + (size_t) N * r + (size_t) N * R * d];
  for (int n = 0; n < (per_indiv ? N : 1); n++)
    for (int r = 0; r < R; r++) {
      double value = per_indiv ? w[n + (size_t) N * r] : w[r];
      size_t at = (size_t) n * R * per_indiv + r;
      dr->log_weight[at] = log(fabs(value));
      if (any_negative) dr->weight_sign[at] = value < 0.0 ? -1.0 : 1.0;
    }
}

SEXP engine_create(SEXP plan, SEXP data, SEXP draws, SEXP draw_weights, SEXP n_threads) {
  int threads = asInteger(n_threads);
  if (threads == NA_INTEGER || threads < 1) threads = 1;
  /* The pointer and its finalizer exist before the engine, so no R error
   * from here on can leak it. */
  SEXP ptr = PROTECT(R_MakeExternalPtr(NULL, install(ENGINE_TAG), R_NilValue));
  R_RegisterCFinalizerEx(ptr, engine_finalize, TRUE);
  iclv_engine *e = iclv_engine_new(threads);
  if (e == NULL) error("out of memory building the engine");
  R_SetExternalPtrAddr(ptr, e);

  read_plan(e, plan);
  read_data(e, data);
  /* Draws: an array (with its weights), or a points list from which the
   * engine makes its own (R/points.R). */
  if (TYPEOF(draws) == VECSXP) points_read(e, draws, threads);
  else read_draws(e, draws, draw_weights);
  char err[512];
  if (iclv_engine_validate(e, err, sizeof err) != 0 ||
      iclv_engine_finish(e, threads, err, sizeof err) != 0)
    error("cannot build the engine: %s", err);
  UNPROTECT(1);
  return ptr;
}

void engine_check_theta(const iclv_engine *e, SEXP theta) {
  if (TYPEOF(theta) != REALSXP || XLENGTH(theta) != e->plan.n_par)
    error("theta must be a double vector of length %d", e->plan.n_par);
  for (int i = 0; i < e->plan.n_par; i++)
    if (!R_FINITE(REAL(theta)[i])) error("theta[%d] is not finite", i + 1);
}

/* The 1-based score columns an evaluation returns: `columns` as R gives it
 * (NULL: every parameter), checked. */
SEXP score_columns(const iclv_engine *e, SEXP columns) {
  const int P = e->plan.n_par;
  if (columns == R_NilValue) {
    SEXP all = PROTECT(allocVector(INTSXP, P));
    for (int i = 0; i < P; i++) INTEGER(all)[i] = i + 1;
    UNPROTECT(1);
    return all;
  }
  if (TYPEOF(columns) != INTSXP) error("score columns must be integer");
  for (R_xlen_t k = 0; k < XLENGTH(columns); k++)
    if (INTEGER(columns)[k] < 1 || INTEGER(columns)[k] > P)
      error("score column %d is not a parameter (1..%d)", INTEGER(columns)[k], P);
  return columns;
}

SEXP engine_result(const iclv_engine *e, double loglik, SEXP grad, SEXP columns) {
  const int N = e->data.n_indiv, P = e->plan.n_par;
  const char *names[] = {"loglik", "gradient", "loglik_indiv", "scores", "n_nonpositive",
                         "nonpositive", "hessian", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 1, grad);
  SET_VECTOR_ELT(out, 0, ScalarReal(loglik));
  SET_VECTOR_ELT(out, 4, ScalarInteger(e->n_nonpositive));
  /* The individuals (1-based) whose signed weights summed to <= 0. */
  SEXP flagged = allocVector(INTSXP, e->n_nonpositive);
  SET_VECTOR_ELT(out, 5, flagged);
  for (int n = 0, k = 0; n < N && k < e->n_nonpositive; n++)
    if (e->nonpositive[n]) INTEGER(flagged)[k++] = n + 1;
  SEXP ll_indiv = allocVector(REALSXP, N);
  SET_VECTOR_ELT(out, 2, ll_indiv);
  memcpy(REAL(ll_indiv), e->loglik_indiv, sizeof(double) * N);
  if (columns != R_NilValue) {
    /* Only the columns asked for: at 3,260 people x 202 parameters each
     * copy of the scores is 5 MB. */
    const int K = LENGTH(columns);
    const int *col = INTEGER(columns);
    SEXP s = allocMatrix(REALSXP, N, K);
    SET_VECTOR_ELT(out, 3, s);
    for (int n = 0; n < N; n++) {
      const double *row = e->grad_indiv + (size_t) n * P;
      for (int k = 0; k < K; k++) REAL(s)[n + (size_t) N * k] = row[col[k] - 1];
    }
  }
  UNPROTECT(1);
  return out;
}

/* The parameters whose Hessian is wanted, from R's `hessian` (NULL or
 * FALSE: none; a logical vector over theta_full: those that are TRUE), into
 * `want` (R_alloc'ed); the number wanted, or 0. */
static int hessian_wanted(const iclv_engine *e, SEXP hessian, int **want) {
  const int P = e->plan.n_par;
  if (isNull(hessian) || (isLogical(hessian) && XLENGTH(hessian) == 1 &&
                          LOGICAL(hessian)[0] == FALSE))
    return 0;
  if (!isLogical(hessian) || XLENGTH(hessian) != P)
    error("`hessian` must be NULL, FALSE or a logical vector of length %d (one per parameter)",
          P);
  *want = (int *) R_alloc(P, sizeof(int));
  int count = 0;
  for (int i = 0; i < P; i++) {
    const int flag = LOGICAL(hessian)[i];
    if (flag == NA_LOGICAL) error("`hessian` has NA at position %d", i + 1);
    (*want)[i] = flag;
    count += flag;
  }
  return count;
}

/* One evaluation path: on the device engine when `engine` is one or has one
 * attached, on the CPU otherwise. Either backend leaves the per-individual
 * results in the host engine's arrays, and the list is built from there.
 * `columns`: the scores' columns wanted (1-based; NULL for all). `hessian`
 * (see hessian_wanted()) adds the Hessian of those parameters (element
 * "hessian", in their order). */
SEXP engine_eval(SEXP engine, SEXP theta, SEXP gradient, SEXP scores, SEXP choice,
                 SEXP columns, SEXP hessian) {
  SEXP host = engine;
  cuda_engine *device = gpu_engine_attached(engine, &host);
  iclv_engine *e = engine_from(host);
  engine_check_theta(e, theta);
  int *want = NULL;
  const int n_want = hessian_wanted(e, hessian, &want);
  const int want_scores = asLogical(scores) == TRUE;
  const int want_grad = asLogical(gradient) == TRUE || want_scores || n_want > 0;
  const int with_choice = asLogical(choice) != FALSE;
  SEXP wanted = PROTECT(want_scores ? score_columns(e, columns) : R_NilValue);
  SEXP grad = PROTECT(want_grad ? allocVector(REALSXP, e->plan.n_par) : R_NilValue);
  double *grad_out = want_grad ? REAL(grad) : NULL;
  double loglik = 0.0;
  if (n_want > 0) {
    /* The CUDA kernels compute no Hessian: a Hessian is always computed by
     * the host engine on the CPU, device engine attached or not (the host
     * engine holds the same points: engine_set_points() moves both). */
    char err[512];
    if (iclv_engine_hessian_setup(e, want, err, sizeof err) != 0)
      error("cannot compute the Hessian: %s", err);
    SEXP hess = PROTECT(allocMatrix(REALSXP, n_want, n_want));
    loglik = iclv_engine_eval_hessian(e, REAL(theta), with_choice, e->n_threads, grad_out,
                                      REAL(hess));
    SEXP out = PROTECT(engine_result(e, loglik, grad, wanted));
    SET_VECTOR_ELT(out, 6, hess);
    UNPROTECT(4);
    return out;
  }
  if (device != NULL) {
    char err[512] = "";
    if (cuda_engine_eval(device, REAL(theta), want_grad, with_choice, want_scores, &loglik,
                         e->loglik_indiv, grad_out, want_scores ? e->grad_indiv : NULL,
                         e->nonpositive, &e->n_nonpositive, err, sizeof err) != 0)
      error("GPU evaluation failed: %s", err);
  } else {
    loglik = iclv_engine_eval(e, REAL(theta), want_grad, with_choice, e->n_threads, grad_out);
  }
  SEXP out = engine_result(e, loglik, grad, wanted);
  UNPROTECT(2);
  return out;
}

SEXP engine_predict(SEXP engine, SEXP theta, SEXP type) {
  iclv_engine *e = engine_from(engine);
  engine_check_theta(e, theta);
  const int N = e->data.n_indiv, L = e->plan.n_lv;
  const char *what = CHAR(asChar(type));
  const int want_lv = strcmp(what, "lv") == 0, want_eta = strcmp(what, "eta") == 0;
  iclv_predict_out pred = {NULL, NULL, NULL, NULL, NULL, NULL, 0};
  SEXP out;
  if (want_lv || want_eta) {
    const char *names[] = {"mean", "sd", ""};
    out = PROTECT(mkNamed(VECSXP, names));
    SET_VECTOR_ELT(out, 0, allocMatrix(REALSXP, L, N));
    SET_VECTOR_ELT(out, 1, allocMatrix(REALSXP, L, N));
    if (want_lv) {
      pred.lv_mean = REAL(VECTOR_ELT(out, 0));
      pred.lv_sd = REAL(VECTOR_ELT(out, 1));
    } else {
      pred.eta_mean = REAL(VECTOR_ELT(out, 0));
      pred.eta_sd = REAL(VECTOR_ELT(out, 1));
    }
  } else if (strcmp(what, "draws") == 0) {
    out = PROTECT(allocMatrix(REALSXP, e->draws.n_draws, N));
    pred.loglik_draw = REAL(out);
  } else {
    out = PROTECT(allocMatrix(REALSXP, e->plan.n_alt, e->data.n_tasks));
    pred.prob = REAL(out);
  }
  iclv_engine_predict(e, REAL(theta), e->n_threads, &pred);
  UNPROTECT(1);
  return out; /* L x N (J x T, R x N): the R side transposes */
}

/* Frees the engine (and the device engine attached to it) now rather than
 * at garbage collection (R does not see its size, so a series of large
 * engines would otherwise pile up). */
SEXP engine_free(SEXP engine) {
  if (TYPEOF(engine) != EXTPTRSXP || R_ExternalPtrTag(engine) != install(ENGINE_TAG))
    error("not an iclv engine");
  gpu_engine_detach(engine);
  engine_finalize(engine);
  return R_NilValue;
}

SEXP engine_info(SEXP engine) {
  SEXP host = engine;
  cuda_engine *device = gpu_engine_attached(engine, &host);
  iclv_engine *e = engine_from(host);
  const char *names[] = {"n_indiv", "n_tasks", "n_draws", "n_par", "n_threads", "block",
                         "host_bytes", "device_bytes", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, ScalarInteger(e->data.n_indiv));
  SET_VECTOR_ELT(out, 1, ScalarInteger(e->data.n_tasks));
  SET_VECTOR_ELT(out, 2, ScalarInteger(e->draws.n_draws));
  SET_VECTOR_ELT(out, 3, ScalarInteger(e->plan.n_par));
  SET_VECTOR_ELT(out, 4, ScalarInteger(e->n_threads));
  SET_VECTOR_ELT(out, 5, ScalarInteger(e->block));
  SET_VECTOR_ELT(out, 6, ScalarReal((double) e->host_bytes));
  SET_VECTOR_ELT(out, 7, ScalarReal(cuda_engine_device_bytes(device)));
  UNPROTECT(1);
  return out;
}
