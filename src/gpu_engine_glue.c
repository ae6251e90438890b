/* The R side of the GPU likelihood engine (cuda/gpu.h): an external pointer
 * that owns the device engine and keeps the host engine it was built from
 * alive, and its attachment to that host engine, after which engine_eval()
 * (engine_glue.c) evaluates on the device. */
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include "gpu_engine_glue.h"
#include "engine_glue.h"
#include "memmon_glue.h"

#define GPU_ERRLEN 512

static const char *GPU_ENGINE_TAG = "iclv_gpu_engine";

static int is_gpu_engine(SEXP ptr) {
  return TYPEOF(ptr) == EXTPTRSXP && R_ExternalPtrTag(ptr) == install(GPU_ENGINE_TAG);
}

static void gpu_engine_finalize(SEXP ptr) {
  cuda_engine *g = R_ExternalPtrAddr(ptr);
  if (g == NULL) return;
  R_ClearExternalPtr(ptr);
  cuda_engine_free(g);
}

static cuda_engine *gpu_engine_from(SEXP ptr) {
  if (!is_gpu_engine(ptr)) error("not an iclv GPU engine");
  cuda_engine *g = R_ExternalPtrAddr(ptr);
  if (g == NULL) error("the iclv GPU engine has been freed (engines do not survive save/load)");
  return g;
}

SEXP gpu_engine_new(SEXP engine, SEXP max_mb) {
  const iclv_engine *e = engine_from(engine);
  const double limit = asReal(max_mb);
  /* The pointer (with its finalizer) exists before the device memory, so
   * nothing can leak between the two. Its protected value keeps the host
   * engine alive. */
  SEXP ptr = PROTECT(R_MakeExternalPtr(NULL, install(GPU_ENGINE_TAG), engine));
  R_RegisterCFinalizerEx(ptr, gpu_engine_finalize, TRUE);
  char err[GPU_ERRLEN] = "";
  cuda_engine *g = NULL;
  if (cuda_engine_create(e, ISNAN(limit) ? R_PosInf : limit, &g, err, sizeof err) != 0) {
    UNPROTECT(1);
    error("cannot build the GPU engine: %s", err);
  }
  R_SetExternalPtrAddr(ptr, g);
  UNPROTECT(1);
  return ptr;
}

/* From now on the host engine evaluates on this device engine (its
 * protected value holds it). */
SEXP gpu_engine_attach(SEXP engine, SEXP gpu) {
  engine_from(engine);
  gpu_engine_from(gpu);
  if (R_ExternalPtrProtected(gpu) != engine)
    error("the GPU engine was built from another engine");
  R_SetExternalPtrProtected(engine, gpu);
  return R_NilValue;
}

cuda_engine *gpu_engine_attached(SEXP engine, SEXP *host) {
  *host = engine;
  if (is_gpu_engine(engine)) {
    *host = R_ExternalPtrProtected(engine);
    return gpu_engine_from(engine);
  }
  if (TYPEOF(engine) != EXTPTRSXP || !is_gpu_engine(R_ExternalPtrProtected(engine))) return NULL;
  return gpu_engine_from(R_ExternalPtrProtected(engine));
}

void gpu_engine_detach(SEXP engine) {
  SEXP gpu = R_ExternalPtrProtected(engine);
  if (!is_gpu_engine(gpu)) return;
  gpu_engine_finalize(gpu);
  R_SetExternalPtrProtected(engine, R_NilValue);
}

SEXP gpu_engine_info(SEXP gpu) {
  cuda_engine *g = gpu_engine_from(gpu);
  int chunk = 0, threads = 0;
  cuda_engine_layout(g, &chunk, &threads);
  const char *names[] = {"device_mb", "chunk", "threads", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, ScalarReal(cuda_engine_device_bytes(g) / 1048576.0));
  SET_VECTOR_ELT(out, 1, ScalarInteger(chunk));
  SET_VECTOR_ELT(out, 2, ScalarInteger(threads));
  UNPROTECT(1);
  return out;
}

/* Frees the device engine now (its device memory) rather than at garbage
 * collection. */
SEXP gpu_engine_free(SEXP gpu) {
  if (!is_gpu_engine(gpu)) error("not an iclv GPU engine");
  gpu_engine_finalize(gpu);
  return R_NilValue;
}

SEXP gpu_engine_release(SEXP gpu) {
  cuda_engine *g = gpu_engine_from(gpu);
  double freed_mb = 0.0;
  cuda_engine_release(g, &freed_mb);
  return ScalarReal(freed_mb);
}

SEXP gpu_engine_fail_next(SEXP gpu, SEXP call_index) {
  cuda_engine *g = gpu_engine_from(gpu);
  const int index = asInteger(call_index);
  cuda_engine_fail_next(g, index == NA_INTEGER ? 0 : index);
  return R_NilValue;
}

/* The memory monitor's release callback: drops what the device engine can
 * rebuild (its workspace, by halving the chunk of individuals). `ctx` is the
 * device engine's external pointer, kept alive by the monitor. */
static int release_device_buffers(void *ctx, double *freed_mb) {
  cuda_engine *g = R_ExternalPtrAddr((SEXP) ctx);
  if (g == NULL) return 1;
  return cuda_engine_release(g, freed_mb);
}

SEXP gpu_engine_attach_monitor(SEXP gpu, SEXP monitor) {
  gpu_engine_from(gpu);
  memmon *mon = memmon_from_sexp(monitor);
  R_SetExternalPtrProtected(monitor, gpu);
  memmon_set_callbacks(mon, iclv_r_gc_callback, release_device_buffers, (void *) gpu);
  return R_NilValue;
}
