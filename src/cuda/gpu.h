/* The C API of the CUDA backend. src/cuda/gpu_stub.c implements the same API
 * when the package is built without CUDA, so no other file needs #ifdefs.
 * Every function returns 0 on success, or a nonzero code with a message
 * (which CUDA call failed, and cudaGetErrorString's reason) in `err`. */
#ifndef ICLV_GPU_H
#define ICLV_GPU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../engine.h"

#define ICLV_GPU_ERRLEN 256

typedef struct gpu_device_info {
  char name[256];
  int major, minor;         /* compute capability */
  double total_mb, free_mb; /* device memory */
} gpu_device_info;

/* 1 when the CUDA backend was compiled in, 0 for the stub. */
int gpu_compiled(void);

/* Number of usable devices (0 when the driver or a device is missing: that
 * is not an error, `err` then says why none is usable). */
int gpu_device_count(int *count, char *err, size_t errlen);

int gpu_device_info_get(int device, gpu_device_info *info, char *err, size_t errlen);

/* Runs the shared ordered-cell maths of iclv_math.h on the device for n
 * bound pairs (lo[i], hi[i]) and returns the log cell probabilities: a check
 * that the header compiles and agrees across CPU and GPU. */
int gpu_selftest_cells(int n, int logit, const double *lo, const double *hi,
                       double *logp, char *err, size_t errlen);

/* ---- the likelihood engine on the device ----------------------------------
 * Built once from a host engine (engine.h): plan, data and draws are copied to
 * device memory at creation; an evaluation sends theta (n_par doubles) and
 * brings back the log-likelihood, its per-individual terms and, on request,
 * the gradient and the n_indiv x n_par scores. The host engine is not used
 * after cuda_engine_create() returns. */
typedef struct cuda_engine cuda_engine;

/* Builds the device engine. `max_mb` limits the device memory it holds: when
 * data, draws and a whole-sample workspace would pass it, individuals are
 * evaluated in chunks (never fewer than 32 per chunk; NaN, Inf or <= 0: no
 * limit). On failure *out is NULL and nothing stays allocated. */
int cuda_engine_create(const iclv_engine *host, double max_mb, cuda_engine **out, char *err,
                      size_t errlen);

/* Evaluates at theta_full (n_par doubles). loglik_indiv and nonpositive
 * (1 for a person whose signed draw weights summed to <= 0): n_indiv each;
 * n_nonpositive gets their count. grad (n_par) is filled when `gradient` or
 * `want_scores`; scores (n_indiv x n_par, row-major) when `want_scores` (may
 * be NULL otherwise). `choice` = 0 switches the choice part off. Results are
 * bitwise identical run to run and for any chunk size. */
int cuda_engine_eval(cuda_engine *g, const double *theta, int gradient, int choice,
                     int want_scores, double *loglik, double *loglik_indiv, double *grad,
                     double *scores, int *nonpositive, int *n_nonpositive, char *err,
                     size_t errlen);

/* Frees all device and pinned host memory (NULL is fine). */
void cuda_engine_free(cuda_engine *g);

/* Device memory the engine holds now, in bytes. */
double cuda_engine_device_bytes(const cuda_engine *g);

/* Individuals per kernel launch and threads per block (what the next
 * evaluation will use). */
void cuda_engine_layout(const cuda_engine *g, int *chunk, int *threads);

/* Drops the buffers the next evaluation can rebuild (the per-chunk workspace:
 * per-draw log-likelihoods and per-individual gradient rows) and halves the
 * chunk size, so the rebuilt workspace is smaller. *freed_mb gets the device
 * MB released. */
int cuda_engine_release(cuda_engine *g, double *freed_mb);

/* Test hook: the call_index-th checked CUDA call of the next evaluation
 * (1 = the first) fails as if CUDA had returned an error; 0 disarms. */
void cuda_engine_fail_next(cuda_engine *g, int call_index);

#ifdef __cplusplus
}
#endif

#endif
