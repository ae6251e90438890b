#' Which compute backends are available
#'
#' Reports whether the CUDA backend was compiled into this installation and
#' whether a GPU is usable now, next to the CPU backend (always available).
#'
#' @return A data frame with one row per backend and columns `backend`,
#'   `built` (compiled in), `usable` (can run now), `threads` (CPU threads
#'   OpenMP may use), `device` (GPU name), `compute_capability`, `memory_mb`,
#'   `free_mb` and `note` (why a backend is not usable).
#' @export
#' @examples
#' iclv_backends()
iclv_backends <- function() {
  gpu <- .Call(C_gpu_backend_info)
  cpu_threads <- default_threads()
  data.frame(
    backend = c("cpu", "gpu"),
    built = c(TRUE, gpu$compiled),
    usable = c(TRUE, gpu$compiled && gpu$n_devices > 0L),
    threads = c(cpu_threads, NA_integer_),
    device = c(NA_character_, gpu$name),
    compute_capability = c(NA_character_,
                           if (is.na(gpu$major)) NA_character_ else paste0(gpu$major, ".", gpu$minor)),
    memory_mb = c(NA_real_, gpu$total_mb),
    free_mb = c(NA_real_, gpu$free_mb),
    note = c("", if (!gpu$compiled) "built without CUDA" else gpu$reason),
    stringsAsFactors = FALSE
  )
}

gpu_usable <- function() {
  gpu <- .Call(C_gpu_backend_info)
  isTRUE(gpu$compiled) && gpu$n_devices > 0L
}

# Threads to use by default: OMP_THREAD_LIMIT and OMP_NUM_THREADS are
# respected, and at most 2 under R CMD check (CRAN policy).
default_threads <- function() {
  n <- parallel_cores()
  for (var in c("OMP_THREAD_LIMIT", "OMP_NUM_THREADS")) {
    v <- suppressWarnings(as.integer(Sys.getenv(var, "")))
    if (!is.na(v) && v > 0L) n <- min(n, v)
  }
  if (nzchar(Sys.getenv("_R_CHECK_LIMIT_CORES_", "")) ||
      nzchar(Sys.getenv("_R_CHECK_PACKAGE_NAME_", ""))) n <- min(n, 2L)
  max(1L, as.integer(n))
}

parallel_cores <- function() {
  n <- tryCatch(parallel::detectCores(logical = TRUE), error = function(e) NA_integer_)
  if (is.na(n) || n < 1L) 1L else as.integer(n)
}

# The backend an evaluation runs on: "gpu" asks for the device engine
# (errors clearly when there is none), "auto" takes it for problems large
# enough to pay off (prefer_gpu()), else the CPU.
resolve_backend <- function(backend, n_indiv, n_draws) {
  backend <- match_choice(backend, c("auto", "cpu", "gpu"), "backend")
  if (backend == "gpu") {
    info <- .Call(C_gpu_backend_info)
    if (!isTRUE(info$compiled))
      stop("backend = \"gpu\": iclv was built without CUDA (reinstall with nvcc on the PATH ",
           "or CUDA_HOME set)", call. = FALSE)
    if (info$n_devices < 1L)
      stop("backend = \"gpu\": no usable CUDA device (", info$reason, ")", call. = FALSE)
    return("gpu")
  }
  if (backend == "auto" && prefer_gpu(n_indiv, n_draws)) return("gpu")
  "cpu"
}
