# GPU tests run only where the CUDA backend is compiled in and a device is
# usable (iclv_backends()); everywhere else they skip.
skip_if_no_gpu <- function() {
  if (!iclv:::gpu_usable()) {
    backends <- iclv::iclv_backends()
    testthat::skip(paste("no usable GPU:", backends$note[backends$backend == "gpu"]))
  }
}

# Free device memory in MB (device 0), as cudaMemGetInfo reports it.
gpu_free_mb <- function() {
  backends <- iclv::iclv_backends()
  backends$free_mb[backends$backend == "gpu"]
}
