/* The GPU likelihood engine's R side (gpu_engine_glue.c): its .Call entry
 * points, and how the host engine's glue finds a device engine. */
#ifndef ICLV_GPU_ENGINE_GLUE_H
#define ICLV_GPU_ENGINE_GLUE_H

#include <Rinternals.h>
#include "cuda/gpu.h"

SEXP gpu_engine_new(SEXP engine, SEXP max_mb);
SEXP gpu_engine_attach(SEXP engine, SEXP gpu);
SEXP gpu_engine_info(SEXP gpu);
SEXP gpu_engine_release(SEXP gpu);
SEXP gpu_engine_free(SEXP gpu);
SEXP gpu_engine_fail_next(SEXP gpu, SEXP call_index);
SEXP gpu_engine_attach_monitor(SEXP gpu, SEXP monitor);

/* The device engine that evaluates `engine`: `engine` itself when it is a
 * GPU engine, the one attached to it when it is a host engine, else NULL.
 * *host gets the host engine's pointer. */
cuda_engine *gpu_engine_attached(SEXP engine, SEXP *host);

/* Frees the device engine attached to a host engine, if any, and detaches it. */
void gpu_engine_detach(SEXP engine);

#endif
