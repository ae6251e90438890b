/* The CUDA API of gpu.h for builds without CUDA: nothing is usable. */
#include <stdio.h>
#include "gpu.h"

static int not_built(char *err, size_t errlen) {
  snprintf(err, errlen, "iclv was built without CUDA (no nvcc found, or ICLV_CUDA=no)");
  return 1;
}

int gpu_compiled(void) { return 0; }

int gpu_device_count(int *count, char *err, size_t errlen) {
  *count = 0;
  snprintf(err, errlen, "iclv was built without CUDA");
  return 0;
}

int gpu_device_info_get(int device, gpu_device_info *info, char *err, size_t errlen) {
  (void) device; (void) info;
  return not_built(err, errlen);
}

int gpu_selftest_cells(int n, int logit, const double *lo, const double *hi,
                       double *logp, char *err, size_t errlen) {
  (void) n; (void) logit; (void) lo; (void) hi; (void) logp;
  return not_built(err, errlen);
}

int cuda_engine_create(const iclv_engine *host, double max_mb, cuda_engine **out, char *err,
                      size_t errlen) {
  (void) host; (void) max_mb;
  *out = NULL;
  return not_built(err, errlen);
}

int cuda_engine_eval(cuda_engine *g, const double *theta, int gradient, int choice,
                     int want_scores, double *loglik, double *loglik_indiv, double *grad,
                     double *scores, int *nonpositive, int *n_nonpositive, char *err,
                     size_t errlen) {
  (void) g; (void) theta; (void) gradient; (void) choice; (void) want_scores;
  (void) loglik; (void) loglik_indiv; (void) grad; (void) scores; (void) nonpositive;
  (void) n_nonpositive;
  return not_built(err, errlen);
}

void cuda_engine_free(cuda_engine *g) { (void) g; }

double cuda_engine_device_bytes(const cuda_engine *g) {
  (void) g;
  return 0.0;
}

void cuda_engine_layout(const cuda_engine *g, int *chunk, int *threads) {
  (void) g;
  *chunk = 0;
  *threads = 0;
}

int cuda_engine_release(cuda_engine *g, double *freed_mb) {
  (void) g;
  *freed_mb = 0.0;
  return 0;
}

void cuda_engine_fail_next(cuda_engine *g, int call_index) {
  (void) g; (void) call_index;
}
