/* CUDA kernels of the likelihood engine. For now: a self-test kernel that
 * evaluates the shared ordered-cell maths (iclv_math.h) on the device, so the
 * header is compiled by nvcc from the first build on. The batched likelihood
 * kernels follow in the CUDA backend issue. */
#include <cstdio>
#include <cuda_runtime.h>
#include "gpu.h"
#include "../iclv_math.h"

__global__ static void selftest_cells_kernel(int n, int logit, const double *lo,
                                             const double *hi, double *logp) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) logp[i] = iclv_ordered_cell(logit, lo[i], hi[i], 0.0, 1.0).logp;
}

#define CUDA_TRY(call)                                                        \
  do {                                                                        \
    cudaError_t rc_ = (call);                                                 \
    if (rc_ != cudaSuccess) {                                                 \
      snprintf(err, errlen, "%s: %s", #call, cudaGetErrorString(rc_));        \
      goto fail;                                                              \
    }                                                                         \
  } while (0)

extern "C" int gpu_selftest_cells(int n, int logit, const double *lo, const double *hi,
                                  double *logp, char *err, size_t errlen) {
  double *d_lo = NULL, *d_hi = NULL, *d_out = NULL;
  size_t bytes = (size_t) n * sizeof(double);
  int status = 1;
  CUDA_TRY(cudaMalloc((void **) &d_lo, bytes));
  CUDA_TRY(cudaMalloc((void **) &d_hi, bytes));
  CUDA_TRY(cudaMalloc((void **) &d_out, bytes));
  CUDA_TRY(cudaMemcpy(d_lo, lo, bytes, cudaMemcpyHostToDevice));
  CUDA_TRY(cudaMemcpy(d_hi, hi, bytes, cudaMemcpyHostToDevice));
  selftest_cells_kernel<<<(n + 127) / 128, 128>>>(n, logit, d_lo, d_hi, d_out);
  CUDA_TRY(cudaGetLastError());
  CUDA_TRY(cudaMemcpy(logp, d_out, bytes, cudaMemcpyDeviceToHost));
  status = 0;
fail:
  cudaFree(d_lo);
  cudaFree(d_hi);
  cudaFree(d_out);
  return status;
}
