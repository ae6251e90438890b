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
