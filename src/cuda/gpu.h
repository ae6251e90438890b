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

#ifdef __cplusplus
}
#endif

#endif
