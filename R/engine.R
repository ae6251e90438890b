# The R side of the compiled engine: builds it once per (model, data, draws)
# and evaluates it. Nothing here loops over individuals or draws.

# Builds the engine (an external pointer; the finalizer frees its memory),
# with its memory monitor (attribute "monitor"), checked once at creation.
# `draws`: a points object (R/points.R), from which the engine makes its own
# points, or an N x R x D array with `draw_weights` (length R or N x R).
# While a cluster session is active (iclv() with a cluster), an engine of
# points is built on its workers, one shard each (R/cluster.R).
engine_build <- function(model, prepared, draws, draw_weights = NULL, threads = NULL,
                         memory = memory_limits(), backend = "cpu", monitor = NULL) {
  session <- active_session()
  if (!is.null(session) && is_points(draws)) {
    if (is.null(monitor)) monitor <- new_memory_monitor(limits = memory)
    return(sharded_build(session, model, prepared, draws, threads, backend, monitor))
  }
  if (is_points(draws)) {
    # A large engine is not built on top of R's garbage (glibc keeps freed
    # heap resident): new_fit() builds several, one after another.
    release_for_points(nrow(prepared$ind_cat), draws$n_draws, draws$n_dim)
    draws <- points_input(draws)
    draw_weights <- NULL
  } else {
    n_draws <- dim(draws)[2L]
    if (is.null(draw_weights)) draw_weights <- rep(1 / n_draws, n_draws)
    storage.mode(draws) <- "double"
    storage.mode(draw_weights) <- "double"
  }
  threads <- resolve_threads(threads)
  data <- list(
    ind_cat = storage_int(prepared$ind_cat),
    ind_value = storage_dbl(prepared$ind_value),
    covariates = storage_dbl(prepared$covariates),
    task_ptr = storage_int(prepared$task_ptr),
    choice = storage_int(prepared$choice),
    avail = storage_int(prepared$avail),
    term_value = storage_dbl(prepared$term_value)
  )
  engine <- .Call(C_engine_create, model$plan, data, draws, draw_weights, threads)
  # A fit that rebuilds its engine (adaptive quadrature) keeps one monitor.
  if (is.null(monitor)) monitor <- new_memory_monitor(limits = memory)
  attr(engine, "monitor") <- monitor
  if (backend == "gpu")
    engine <- attach_gpu(engine, if (is.finite(memory$gpu_mb)) memory$gpu_mb else 1e6)
  class(engine) <- "iclv_engine"
  engine_memory_check(engine, "setup")
  engine
}

# The engine with a device engine attached (a copy of its plan, data and
# points on the GPU). The device engine works in chunks of individuals that
# fit under `max_mb`; the monitor's release callback shrinks them further.
attach_gpu <- function(engine, max_mb) {
  gpu <- gpu_engine_build(engine, max_mb = max_mb)
  .Call(C_gpu_engine_attach_monitor, gpu, attr(engine, "monitor"))
  # From here on the engine evaluates on the device (engine_eval()).
  .Call(C_gpu_engine_attach, engine, gpu)
  # Kept so that engine_set_points() can free and rebuild the device copy.
  attr(engine, "gpu") <- gpu
  attr(engine, "gpu_mb") <- max_mb
  engine
}

# A memory check with what the engine holds now (host bytes; device bytes
# once a GPU engine is attached).
engine_memory_check <- function(engine, phase, iteration = NA_integer_) {
  if (is_sharded(engine)) return(sharded_memory_check(engine, phase, iteration))
  monitor <- attr(engine, "monitor")
  info <- engine_info(engine)
  memory_set_usage(monitor, host_bytes = info$host_bytes, device_bytes = info$device_bytes)
  memory_check(monitor, phase, iteration)
}

#' @export
print.iclv_engine <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "print()")
  info <- tryCatch(engine_info(x), error = function(e) NULL)
  if (is.null(info)) {
    cat("<iclv engine: freed>\n")
  } else {
    cat(sprintf("<iclv engine: %d individuals, %d tasks, %d draws, %d parameters, %d thread(s), %.1f MB>\n",
                info$n_indiv, info$n_tasks, info$n_draws, info$n_par, info$n_threads,
                info$host_bytes / 2^20))
  }
  invisible(x)
}

# Evaluates at theta_full (every row of the parameter table, natural scale):
# list(loglik, gradient, loglik_indiv, scores, n_nonpositive, nonpositive,
# hessian), the gradient over all of theta_full and the scores individuals x
# parameters (only the parameters `columns`, indices into theta_full, when
# given: each copy of the scores is as large as the data). On the device
# when `engine` has a GPU engine attached (or is one), on the CPU otherwise:
# the C side chooses. `hessian`, a logical vector over theta_full (the free
# parameters, say), adds the analytic Hessian of those parameters (natural
# scale, in table order; always on the CPU: the kernels compute none); NULL
# without.
engine_eval <- function(engine, theta_full, gradient = TRUE, scores = FALSE, choice = TRUE,
                        columns = NULL, hessian = NULL) {
  if (is_sharded(engine))
    return(sharded_eval(engine, theta_full, gradient, scores, choice, columns, hessian))
  .Call(C_engine_eval, engine, as.double(theta_full), gradient, scores, choice,
        if (!is.null(columns)) as.integer(columns), hessian)
}

# type "draws": the log weight log(|w_r| p(y_n | eta_nr)) of every point
# (draws x individuals).
engine_predict <- function(engine, theta_full, type = c("lv", "prob", "eta", "draws")) {
  if (is_sharded(engine)) return(sharded_predict(engine, theta_full, match.arg(type)))
  .Call(C_engine_predict, engine, as.double(theta_full), match.arg(type))
}

engine_info <- function(engine) {
  if (is_sharded(engine)) return(sharded_info(engine))
  .Call(C_engine_info, engine)
}

# Frees an engine's memory (host, and device when a GPU engine is attached)
# now rather than at garbage collection: R does not see its size, which is
# that of the draws.
engine_release <- function(engine) {
  if (is_sharded(engine)) return(sharded_release(engine))
  .Call(C_engine_free, engine)
  invisible()
}

resolve_threads <- function(threads) {
  if (is.null(threads)) return(default_threads())
  check_whole(threads, "`threads`")
}

storage_int <- function(x) {
  storage.mode(x) <- "integer"
  x
}

storage_dbl <- function(x) {
  storage.mode(x) <- "double"
  x
}
