# Estimation sharded over an R cluster: the worker's side (the master's is
# R/cluster.R). Each function is one request the master sends by name
# (remote_call()); it runs in the worker's R process, on the engines of a
# session this process keeps for the master: the memory monitor of its
# checks and the engines it built, by key. An engine is built once per
# shard, with the draws made here from the recipe; an evaluation returns the
# pieces of the blocked sums (src/shard.h) and the per-person results of the
# shard's people.

worker_sessions <- new.env(parent = emptyenv())

worker_open <- function(id, limits) {
  session <- new.env(parent = emptyenv())
  session$monitor <- new_memory_monitor(limits = limits)
  session$limits <- limits
  session$engines <- new.env(parent = emptyenv())
  session$shards <- new.env(parent = emptyenv())
  assign(id, session, envir = worker_sessions)
  invisible(TRUE)
}

worker_session <- function(id) {
  session <- get0(id, envir = worker_sessions, inherits = FALSE)
  if (is.null(session))
    stop("this worker holds no iclv session ", id, " (was it restarted?)", call. = FALSE)
  session
}

worker_engine <- function(id, key) {
  engine <- get0(key, envir = worker_session(id)$engines, inherits = FALSE)
  if (is.null(engine)) stop("this worker holds no engine ", key, call. = FALSE)
  engine
}

# What the worker keeps about an engine's shard (an environment): its
# people (first, n_total), whether it evaluates on a GPU, its base points
# (without a centre) and the centre they are moved to, with the next one
# measured (`pending`).
worker_shard <- function(id, key) get(key, envir = worker_session(id)$shards, inherits = FALSE)

# Moves the engine's base points to the shard's centre.
worker_move <- function(id, key) {
  shard <- worker_shard(id, key)
  points <- shard$points
  points$centre <- shard$centre
  # A GPU engine gets a new device copy (a new attribute on the engine).
  assign(key, engine_set_points(worker_engine(id, key), points),
         envir = worker_session(id)$engines)
  invisible(TRUE)
}

# Builds the shard's engine: `prepared` and `points` are the shard's
# (prepared_slice(), points_slice()), its people first + 1 .. of n_total.
worker_build <- function(id, key, plan, prepared, points, first, n_total, threads, backend) {
  session <- worker_session(id)
  backend <- resolve_backend(backend, nrow(prepared$ind_cat), points$n_draws)
  engine <- engine_build(list(plan = plan), prepared, points, threads = threads,
                         memory = session$limits, backend = backend, monitor = session$monitor)
  # The points stay (without a centre) to be moved again: the user's array
  # is not sent twice.
  shard <- new.env(parent = emptyenv())
  shard$first <- as.integer(first)
  shard$n_total <- as.integer(n_total)
  shard$gpu <- backend == "gpu"
  shard$centre <- points$centre
  points$centre <- NULL
  shard$points <- points
  assign(key, shard, envir = session$shards)
  assign(key, engine, envir = session$engines)
  info <- engine_info(engine)
  info$backend <- backend
  info
}

# An evaluation: the pieces of the totals (one row of totals from a GPU
# engine, which sums on the device), the shard's per-person results.
worker_eval <- function(id, key, theta_full, gradient, scores, choice, columns,
                        hessian = NULL) {
  engine <- worker_engine(id, key)
  shard <- worker_shard(id, key)
  res <- engine_eval(engine, theta_full, gradient = gradient, scores = scores, choice = choice,
                     columns = columns, hessian = hessian)
  with_gradient <- gradient || scores
  pieces <- if (shard$gpu)
    list(rows = matrix(c(res$loglik, if (with_gradient) res$gradient), 1L),
         block = NA_integer_, complete = TRUE)
  else .Call(C_engine_shard_pieces, engine, shard$first, shard$n_total, with_gradient)
  list(pieces = pieces, loglik_indiv = res$loglik_indiv, scores = res$scores,
       n_nonpositive = res$n_nonpositive, nonpositive = res$nonpositive, hessian = res$hessian)
}

# The base points moved to the shard's part of a new centre.
worker_set_points <- function(id, key, centre) {
  shard <- worker_shard(id, key)
  shard$centre <- centre
  worker_move(id, key)
}

# One step of adapt_points() on the shard's people (sharded_adapt()):
# with `accept`, the centre measured last becomes the shard's and the points
# move there; without it and without `measure`, the points move back to the
# shard's centre (a measurement spends their weights); with `measure`, the
# next centre is measured (next_centre(), the same arithmetic per person as
# in one process) and the largest move of a person comes back.
worker_centre_step <- function(id, key, theta_full, target, accept, measure) {
  shard <- worker_shard(id, key)
  if (accept) shard$centre <- shard$pending
  if (accept || !measure) worker_move(id, key)
  if (!measure) return(NA_real_)
  shard$pending <- next_centre(worker_engine(id, key), theta_full, shard$centre, target)
  max(shard$pending$moved)
}

# The shard's part of the centre its points are at.
worker_centre <- function(id, key) worker_shard(id, key)$centre

worker_point_ess <- function(id, key, theta_full, spend) {
  effective_sizes(worker_engine(id, key), theta_full, spend)
}

worker_predict <- function(id, key, theta_full, type) {
  engine_predict(worker_engine(id, key), theta_full, type)
}

worker_memory_check <- function(id, key, phase, iteration) {
  engine_memory_check(worker_engine(id, key), phase, iteration)
  invisible(TRUE)
}

worker_release <- function(id, key) {
  session <- worker_session(id)
  engine <- get0(key, envir = session$engines, inherits = FALSE)
  if (!is.null(engine)) {
    engine_release(engine)
    rm(list = key, envir = session$engines)
    rm(list = key, envir = session$shards)
  }
  invisible(TRUE)
}

# The records of the session's memory monitor (every engine's checks).
worker_records <- function(id) memory_summary(worker_session(id)$monitor)

# Frees every engine of the session and forgets it; the memory is handed
# back to the system.
worker_close <- function(id) {
  session <- get0(id, envir = worker_sessions, inherits = FALSE)
  if (is.null(session)) return(invisible(TRUE))
  for (key in ls(session$engines)) worker_release(id, key)
  rm(list = id, envir = worker_sessions)
  release_unused_memory()
  invisible(TRUE)
}

# For the benchmark of the communication (bench/cluster.R): theta in, a
# block of `n_rows` x `width` doubles back, no work.
worker_echo <- function(theta_full, n_rows, width) {
  matrix(theta_full[1L], n_rows, width)
}
