# The R side of the CUDA likelihood engine (src/cuda/engine_cuda.cu through
# src/gpu_engine_glue.c). A GPU engine is built from a host engine
# (engine_build()), copies its plan, data and draws to the device once, and
# evaluates exactly what the CPU engine evaluates; once attached to its host
# engine (engine_build(backend = "gpu")), engine_eval() runs on it.
# Internal: iclv() and iclv_loglik() choose the backend.

# Builds the device engine from a host engine. `max_mb` bounds the device
# memory it holds: past it, individuals are evaluated in chunks (of at least
# 32). The external pointer keeps `engine` alive; its finalizer frees the
# device memory.
gpu_engine_build <- function(engine, max_mb = 1500) {
  if (!is.numeric(max_mb) || length(max_mb) != 1L || is.na(max_mb) || max_mb <= 0)
    stop("`max_mb` must be a positive number of megabytes, got ", format(max_mb),
         call. = FALSE)
  .Call(C_gpu_engine_new, engine, as.double(max_mb))
}

# engine_eval() on this device engine, whether or not it is attached to its
# host engine (the tests compare the two backends on one host engine). A
# Hessian is computed by the host engine on the CPU (src/engine_glue.c).
gpu_engine_eval <- function(gpu, theta_full, gradient = TRUE, scores = FALSE, choice = TRUE,
                            hessian = NULL) {
  engine_eval(gpu, theta_full, gradient, scores, choice, hessian = hessian)
}

# The CUDA kernels' logic run serially on the CPU (src/kernel_on_cpu.c), for
# the tests: engine_eval() with the gradient and scores, by the functions the
# kernels call, with `lanes` emulated threads per person.
kernel_on_cpu_eval <- function(engine, theta_full, choice = TRUE, lanes = 32L) {
  .Call(C_kernel_on_cpu_eval, engine, as.double(theta_full), choice, as.integer(lanes))
}

# list(device_mb, chunk, threads): device memory held, individuals per kernel
# launch, threads per block.
gpu_engine_info <- function(gpu) .Call(C_gpu_engine_info, gpu)

# Drops the rebuildable device workspace and halves the chunk; returns the MB
# freed. The next evaluation rebuilds the (smaller) workspace.
gpu_engine_release <- function(gpu) .Call(C_gpu_engine_release, gpu)

# Test hook: the `call`-th checked CUDA call of the next evaluation fails as
# if CUDA had reported an error.
gpu_engine_fail_next <- function(gpu, call = 1L) {
  invisible(.Call(C_gpu_engine_fail_next, gpu, as.integer(call)))
}

# The rule of backend = "auto": the GPU when one is usable and the problem
# has at least `min_pairs` (individual, draw) pairs. Below that the CPU wins
# once everything is counted: a GPU evaluation has a fixed cost of a few
# kernel launches and two transfers (tens of microseconds) and building the
# engine starts a CUDA context (a few hundred milliseconds the first time),
# while the CPU engine costs about half a microsecond per pair and core
# (vignette("speed-and-memory")), so a 20000-pair problem takes a few milliseconds per
# evaluation on two cores and a whole estimation is over in about a second.
prefer_gpu <- function(n_indiv, n_draws, min_pairs = 20000) {
  as.double(n_indiv) * as.double(n_draws) >= min_pairs && gpu_usable()
}
