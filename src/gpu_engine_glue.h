/* .Call entry points of the GPU likelihood engine (gpu_engine_glue.c). */
#ifndef ICLV_GPU_ENGINE_GLUE_H
#define ICLV_GPU_ENGINE_GLUE_H

#include <Rinternals.h>

SEXP gpu_engine_new(SEXP engine, SEXP max_mb);
SEXP gpu_engine_eval_r(SEXP gpu, SEXP theta, SEXP gradient, SEXP scores, SEXP choice);
SEXP gpu_engine_info(SEXP gpu);
SEXP gpu_engine_release_r(SEXP gpu);
SEXP gpu_engine_free_r(SEXP gpu);
SEXP gpu_engine_fail_next_r(SEXP gpu, SEXP call_index);
SEXP gpu_engine_attach_monitor(SEXP gpu, SEXP monitor);

#endif
