/* Device discovery for the CUDA backend: counts, names, memory. */
#include <cstdio>
#include <cuda_runtime.h>
#include "gpu.h"

extern "C" int gpu_compiled(void) { return 1; }

extern "C" int gpu_device_count(int *count, char *err, size_t errlen) {
  *count = 0;
  cudaError_t rc = cudaGetDeviceCount(count);
  if (rc != cudaSuccess) {
    /* No driver or no device: report why, but this is not a failure. */
    snprintf(err, errlen, "cudaGetDeviceCount: %s", cudaGetErrorString(rc));
    cudaGetLastError();  /* clear the sticky error state */
    *count = 0;
  }
  return 0;
}

extern "C" int gpu_device_info_get(int device, gpu_device_info *info, char *err, size_t errlen) {
  cudaDeviceProp prop;
  cudaError_t rc = cudaGetDeviceProperties(&prop, device);
  if (rc != cudaSuccess) {
    snprintf(err, errlen, "cudaGetDeviceProperties: %s", cudaGetErrorString(rc));
    return 1;
  }
  snprintf(info->name, sizeof info->name, "%s", prop.name);
  info->major = prop.major;
  info->minor = prop.minor;
  rc = cudaSetDevice(device);
  if (rc != cudaSuccess) {
    snprintf(err, errlen, "cudaSetDevice: %s", cudaGetErrorString(rc));
    return 1;
  }
  size_t free_b = 0, total_b = 0;
  rc = cudaMemGetInfo(&free_b, &total_b);
  if (rc != cudaSuccess) {
    snprintf(err, errlen, "cudaMemGetInfo: %s", cudaGetErrorString(rc));
    return 1;
  }
  info->total_mb = total_b / 1048576.0;
  info->free_mb = free_b / 1048576.0;
  return 0;
}
