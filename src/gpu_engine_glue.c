/* The R side of the GPU likelihood engine (cuda/gpu.h): an external pointer
 * that owns the device engine and keeps the host engine it was built from
 * alive, and an evaluation that returns what engine_eval() returns. */
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include "gpu_engine_glue.h"
#include "memmon_glue.h"
#include "engine.h"
#include "cuda/gpu.h"

#define GPU_ERRLEN 512

static const char *GPU_ENGINE_TAG = "iclv_gpu_engine";

static void gpu_engine_finalize(SEXP ptr) {
  gpu_engine *g = R_ExternalPtrAddr(ptr);
  if (g == NULL) return;
  R_ClearExternalPtr(ptr);
  gpu_engine_free(g);
}

static gpu_engine *gpu_engine_from(SEXP ptr) {
  if (TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrTag(ptr) != install(GPU_ENGINE_TAG))
    error("not an iclv GPU engine");
  gpu_engine *g = R_ExternalPtrAddr(ptr);
  if (g == NULL) error("the iclv GPU engine has been freed (engines do not survive save/load)");
  return g;
}

/* The host engine a GPU engine was built from (its protected value). */
static const iclv_engine *host_engine_of(SEXP ptr) {
  SEXP host = R_ExternalPtrProtected(ptr);
  iclv_engine *e = TYPEOF(host) == EXTPTRSXP ? R_ExternalPtrAddr(host) : NULL;
  if (e == NULL) error("the host engine of this GPU engine has been freed");
  return e;
}

SEXP gpu_engine_new(SEXP engine, SEXP max_mb) {
  if (TYPEOF(engine) != EXTPTRSXP || R_ExternalPtrTag(engine) != install("iclv_engine"))
    error("not an iclv engine");
  const iclv_engine *e = R_ExternalPtrAddr(engine);
  if (e == NULL) error("the iclv engine has been freed (engines do not survive save/load)");
  const double limit = asReal(max_mb);
  /* The pointer (with its finalizer) exists before the device memory, so
   * nothing can leak between the two. */
  SEXP ptr = PROTECT(R_MakeExternalPtr(NULL, install(GPU_ENGINE_TAG), engine));
  R_RegisterCFinalizerEx(ptr, gpu_engine_finalize, TRUE);
  char err[GPU_ERRLEN] = "";
  gpu_engine *g = NULL;
  if (gpu_engine_create(e, ISNAN(limit) ? R_PosInf : limit, &g, err, sizeof err) != 0) {
    UNPROTECT(1);
    error("cannot build the GPU engine: %s", err);
  }
  R_SetExternalPtrAddr(ptr, g);
  UNPROTECT(1);
  return ptr;
}

SEXP gpu_engine_eval_r(SEXP gpu, SEXP theta, SEXP gradient, SEXP scores, SEXP choice) {
  gpu_engine *g = gpu_engine_from(gpu);
  const iclv_engine *e = host_engine_of(gpu);
  const int N = e->data.n_indiv, P = e->plan.n_par;
  if (TYPEOF(theta) != REALSXP || XLENGTH(theta) != P)
    error("theta must be a double vector of length %d", P);
  for (int i = 0; i < P; i++)
    if (!R_FINITE(REAL(theta)[i])) error("theta[%d] is not finite", i + 1);
  const int want_scores = asLogical(scores) == TRUE;
  const int want_grad = asLogical(gradient) == TRUE || want_scores;

  const char *names[] = {"loglik", "gradient", "loglik_indiv", "scores", "n_nonpositive", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SEXP grad = want_grad ? allocVector(REALSXP, P) : R_NilValue;
  SET_VECTOR_ELT(out, 1, grad);
  SEXP ll_indiv = allocVector(REALSXP, N);
  SET_VECTOR_ELT(out, 2, ll_indiv);
  /* Row-major scores from the device; R_alloc memory goes at the end of .Call. */
  double *rows = want_scores ? (double *) R_alloc((size_t) N * P, sizeof(double)) : NULL;
  double loglik = 0.0;
  int n_nonpositive = 0;
  char err[GPU_ERRLEN] = "";
  if (gpu_engine_eval(g, REAL(theta), want_grad, asLogical(choice) != FALSE, want_scores,
                      &loglik, REAL(ll_indiv), want_grad ? REAL(grad) : NULL, rows,
                      &n_nonpositive, err, sizeof err) != 0) {
    UNPROTECT(1);
    error("GPU evaluation failed: %s", err);
  }
  SET_VECTOR_ELT(out, 0, ScalarReal(loglik));
  SET_VECTOR_ELT(out, 4, ScalarInteger(n_nonpositive));
  if (want_scores) {
    SEXP s = allocMatrix(REALSXP, N, P);
    SET_VECTOR_ELT(out, 3, s);
    double *dst = REAL(s);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < P; i++) dst[n + (size_t) N * i] = rows[(size_t) n * P + i];
  }
  UNPROTECT(1);
  return out;
}

SEXP gpu_engine_info(SEXP gpu) {
  gpu_engine *g = gpu_engine_from(gpu);
  int chunk = 0, threads = 0;
  gpu_engine_layout(g, &chunk, &threads);
  const char *names[] = {"device_mb", "chunk", "threads", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, ScalarReal(gpu_engine_device_bytes(g) / 1048576.0));
  SET_VECTOR_ELT(out, 1, ScalarInteger(chunk));
  SET_VECTOR_ELT(out, 2, ScalarInteger(threads));
  UNPROTECT(1);
  return out;
}

/* Frees the device engine now (its device memory) rather than at garbage
 * collection. */
SEXP gpu_engine_free_r(SEXP gpu) {
  if (TYPEOF(gpu) != EXTPTRSXP || R_ExternalPtrTag(gpu) != install(GPU_ENGINE_TAG))
    error("not an iclv GPU engine");
  gpu_engine_finalize(gpu);
  return R_NilValue;
}

SEXP gpu_engine_release_r(SEXP gpu) {
  gpu_engine *g = gpu_engine_from(gpu);
  double freed_mb = 0.0;
  gpu_engine_release(g, &freed_mb);
  return ScalarReal(freed_mb);
}

SEXP gpu_engine_fail_next_r(SEXP gpu, SEXP call_index) {
  gpu_engine *g = gpu_engine_from(gpu);
  const int index = asInteger(call_index);
  gpu_engine_fail_next(g, index == NA_INTEGER ? 0 : index);
  return R_NilValue;
}

/* The memory monitor's release callback: drops what the device engine can
 * rebuild (its workspace, by halving the chunk of individuals). `ctx` is the
 * device engine's external pointer, kept alive by the monitor. */
static int release_device_buffers(void *ctx, double *freed_mb) {
  gpu_engine *g = R_ExternalPtrAddr((SEXP) ctx);
  if (g == NULL) return 1;
  return gpu_engine_release(g, freed_mb);
}

SEXP gpu_engine_attach_monitor(SEXP gpu, SEXP monitor) {
  gpu_engine_from(gpu);
  memmon *mon = memmon_from_sexp(monitor);
  R_SetExternalPtrProtected(monitor, gpu);
  memmon_set_callbacks(mon, iclv_r_gc_callback, release_device_buffers, (void *) gpu);
  return R_NilValue;
}
