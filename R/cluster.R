# Estimation sharded over an R cluster (iclv_control(cluster =),
# iclv_loglik(cluster =)): the master's side. The worker's side is
# R/cluster_worker.R; notes/architecture.md, section 9, states the contract.
#
# The individuals are split into contiguous shards balanced by work; each
# worker builds its own engine once on its shard (the draws made there from
# the recipe, the data and the centres of adaptive points sent once, sliced)
# and answers requests on it. A sharded engine (class
# "iclv_sharded_engine") behaves as an engine for engine_eval(),
# engine_predict(), engine_info(), engine_set_points(), effective_sizes(),
# engine_memory_check() and engine_release(), with every per-person result
# in the global order, so the optimizer, the standard errors and the fit use
# it unchanged; adaptive centring takes its steps on the workers
# (sharded_adapt()). Per evaluation only theta goes out; the log-likelihood
# and the gradient come back as sums of fixed blocks of people
# (src/shard.h), which the master adds in the order one process adds them:
# the totals are bitwise those of one process for any number of workers.
#
# The only interface to the workers is the cluster's own (parallel's node
# protocol, as clusterCall() uses it: a call sent to every worker, then the
# answers collected), with socketSelect() on socket workers' connections for
# the per-request timeout. No networking code of our own.
#
# While iclv() runs with a cluster, its session is active: engine_build()
# builds sharded engines on it, so that every engine of the fit (the
# centring engine of sparse grids, those of the summaries' part
# log-likelihoods) is built on the workers, not in the master.

# The sessions open in this process (a stack: a bootstrap replicate opens its
# own inside the fit's) and the count of requests (the tag that pairs a
# request with its answers).
cluster_state <- new.env(parent = emptyenv())
cluster_state$active <- list()
cluster_state$serial <- 0L
cluster_state$sessions <- 0L

# Must equal ICLV_SUM_BLOCK in src/shard.h.
sum_block <- 64L

# Shards are aligned to the blocks of the sums (their pieces are then one
# row per block) when each holds at least this many blocks; smaller shards
# end anywhere and send the rows of the people of the blocks they share. A
# shard of 156 people (10,000 on 64 hosts) aligned holds 128 or 192 of them
# (23% over the mean), which costs less than sending most of its people's
# gradients (2.3 kB each at 283 parameters): notes/architecture.md, section 9.
aligned_blocks <- 2L

check_cluster <- function(cluster) {
  if (is.null(cluster)) return(invisible(NULL))
  if (!inherits(cluster, "cluster") || length(cluster) < 1L)
    stop("`cluster` must be a cluster made by parallel::makeCluster() (or snow), got ",
         if (inherits(cluster, "cluster")) "an empty cluster" else
           paste("an object of class", class(cluster)[1L]), call. = FALSE)
  invisible(cluster)
}

# ---- sessions --------------------------------------------------------------

# Opens a session on `cluster` (NULL: none, returns NULL): loads the package
# on every worker (the master's library paths first), checks that it is the
# master's version, and gives each worker a session with its memory monitor.
# `timeout`: seconds a worker may take to answer one request. The session is
# active until cluster_close().
cluster_open <- function(cluster, timeout = Inf, memory = memory_limits()) {
  if (is.null(cluster)) return(NULL)
  check_cluster(cluster)
  cluster_state$sessions <- cluster_state$sessions + 1L
  session <- new.env(parent = emptyenv())
  session$cluster <- cluster
  session$id <- sprintf("%d-%d-%s", Sys.getpid(), cluster_state$sessions,
                        format(as.numeric(Sys.time()) * 1e6, scientific = FALSE))
  session$timeout <- timeout
  session$n <- length(cluster)
  session$status <- rep("ok", session$n)
  session$hosts <- vapply(seq_len(session$n), function(k) {
    host <- tryCatch(cluster[[k]]$host, error = function(e) NULL)
    if (is.character(host) && length(host) == 1L) host else NA_character_
  }, "")
  session$pids <- rep(NA_integer_, session$n)
  session$on_fault <- NULL
  session$engines <- 0L
  session$live <- character()
  session$open <- TRUE
  probes <- cluster_run(session, NULL, rep(list(load_request()), session$n),
                        what = "while loading iclv")
  version <- as.character(utils::packageVersion("iclv"))
  for (k in seq_len(session$n)) {
    probe <- probes[[k]]
    session$pids[k] <- probe$pid
    session$hosts[k] <- probe$host
    if (!isTRUE(probe$ok))
      stop(worker_label(session, k), ": the package iclv cannot be loaded there; install it ",
           "on that host, in a library on its R_LIBS or on the master's .libPaths() (",
           paste(.libPaths(), collapse = ", "), ")", call. = FALSE)
    if (!identical(probe$version, version))
      stop(worker_label(session, k), " has iclv ", probe$version, ", this process ", version,
           ": install the same version everywhere (the same numbers need the same code)",
           call. = FALSE)
  }
  cluster_state$active <- c(cluster_state$active, list(session))
  tryCatch(cluster_run(session, "worker_open", rep(list(list(session$id, memory)), session$n),
                       what = "while opening its session"),
           error = function(e) {
             cluster_close(session)
             stop(e)
           })
  session
}

# The first request: plain base R (the package may not load there), so it is
# an expression evaluated on the worker rather than a function of iclv.
load_request <- function() {
  list(bquote({
    .libPaths(c(.(.libPaths()), .libPaths()))
    ok <- suppressWarnings(requireNamespace("iclv", quietly = TRUE))
    list(ok = ok, version = if (ok) as.character(utils::packageVersion("iclv")),
         pid = Sys.getpid(), host = Sys.info()[["nodename"]])
  }))
}

# Closes a session: frees every engine and the monitor of each worker that
# still answers, and ends the session's activity. Never fails (it runs on
# the way out of an error).
cluster_close <- function(session) {
  if (is.null(session) || !isTRUE(session$open)) return(invisible())
  session$open <- FALSE
  session$live <- character()
  cluster_state$active <- Filter(function(s) !identical(s, session), cluster_state$active)
  ok <- which(session$status == "ok")
  if (length(ok))
    try(cluster_run(session, "worker_close", rep(list(list(session$id)), length(ok)),
                    workers = ok, what = "while closing its session", fault = FALSE), silent = TRUE)
  invisible()
}

# The innermost open session (NULL: none): engine_build() builds on it.
active_session <- function() {
  n <- length(cluster_state$active)
  if (n) cluster_state$active[[n]]
}

# What a fault leaves behind: `on_fault()` (set by iclv()) writes the
# checkpoint and returns a sentence saying where it is.
cluster_on_fault <- function(session, on_fault) {
  if (!is.null(session)) session$on_fault <- on_fault
  invisible()
}

# What iclv() leaves when a worker is lost: the state of the last iteration
# (`state`: u, iteration, trace; NULL before the first) in the checkpoint
# file `path`. Returns the sentence the error adds about it.
fault_checkpoint <- function(path, model, n_indiv, map, state, centre) {
  if (is.null(path))
    return(paste("No checkpoint was written: set iclv_control(checkpoint =) to be able to",
                 "continue a run after a fault."))
  if (is.null(state))
    return(sprintf("The fault came before the first iteration: `%s` was not written.", path))
  write_checkpoint(path, model, n_indiv, map, state$u, state$iteration, state$trace, centre)
  sprintf(paste("The state at iteration %d is in the checkpoint `%s`: continue with",
                "iclv(..., resume = \"%s\") on a new cluster (of any size)."),
          state$iteration, path, path)
}

worker_label <- function(session, k) {
  where <- c(if (!is.na(session$hosts[k])) session$hosts[k],
             if (!is.na(session$pids[k])) paste("pid", session$pids[k]))
  sprintf("cluster worker %d of %d%s", k, session$n,
          if (length(where)) paste0(" (", paste(where, collapse = ", "), ")") else "")
}

# ---- requests --------------------------------------------------------------

# The function every request runs on a worker: an operation of iclv's
# namespace by name. What is sent is this small function (made anew, without
# the byte code the installation gives it: 374 bytes rather than 1,455, so
# that a request with theta stays within one write of 4,096 bytes), in the
# base namespace; the worker finds iclv's namespace by name.
remote_call <- function(op, args) {
  fun <- get(op, envir = asNamespace("iclv"), inherits = FALSE)
  do.call(fun, args, quote = TRUE)
}
remote_function <- function() {
  as.function(c(formals(remote_call), body(remote_call)), envir = baseenv())
}

# parallel's node protocol (what clusterCall() does in two halves): send one
# call to a node, and read one answer from it, with its tag. These are not
# exported by parallel, which has no exported way to send to several workers
# and wait for them with a timeout.
node_send <- function(node, fun, args, tag) {
  utils::getFromNamespace("sendCall", "parallel")(node, fun, args, tag = tag)
}
node_receive <- function(node) utils::getFromNamespace("recvData", "parallel")(node)

# Which of the nodes have an answer waiting, waiting at most until
# `deadline` (a proc.time() elapsed value; Inf: as long as it takes). Socket
# workers are watched all at once with socketSelect(); others (MPI) cannot
# be, and the first is read as soon as it answers (no timeout).
nodes_ready <- function(nodes, deadline) {
  cons <- lapply(nodes, function(node) node$con)
  sockets <- vapply(cons, function(con) inherits(con, "sockconn"), TRUE)
  if (!all(sockets)) return(seq_along(nodes) == 1L)
  left <- deadline - proc.time()[["elapsed"]]
  if (left <= 0) return(rep(FALSE, length(nodes)))
  socketSelect(cons, write = FALSE, timeout = if (is.finite(left)) left)
}

# Runs `op` (a function of iclv's namespace, by name; NULL: the expression
# args[[k]][[1]], evaluated on the worker) with args[[k]] on worker
# workers[k], all of them at once: sends every request, then collects the
# answers, each within the session's timeout. Returns the answers in the
# order of `workers`. A worker that has died or does not answer in time
# ends the session's use of that worker and raises an error of class
# "iclv_cluster_error" naming it, after the others have answered and the
# session's on_fault() has run (`fault = FALSE`: the error without it). An
# error inside a worker's evaluation comes back as an error with its message.
cluster_run <- function(session, op, args, workers = seq_along(args), what = op,
                        fault = TRUE) {
  if (!isTRUE(session$open) && !identical(op, "worker_close") && !is.null(op) &&
      !identical(op, "worker_open"))
    stop("the cluster session of this engine has ended", call. = FALSE)
  cluster <- session$cluster
  cluster_state$serial <- cluster_state$serial + 1L
  tag <- cluster_state$serial
  failed <- character()
  fail <- function(k, why, status = "dead") {
    session$status[k] <- status
    failed[[length(failed) + 1L]] <<- sprintf("%s %s %s", worker_label(session, k), why, what)
  }
  t0 <- proc.time()[["elapsed"]]
  remote <- remote_function()
  pending <- integer()
  for (i in seq_along(workers)) {
    k <- workers[i]
    if (session$status[k] != "ok") {
      fail(k, paste0("failed earlier (", if (session$status[k] == "dead") "gone" else
        "unresponsive", ") and cannot go on"), session$status[k])
      next
    }
    sent <- tryCatch({
      if (is.null(op)) node_send(cluster[[k]], base::eval, args[[i]], tag) else
        node_send(cluster[[k]], remote, list(op, args[[i]]), tag)
      TRUE
    }, error = function(e) {
      fail(k, paste0("could not be reached (", conditionMessage(e), ")"))
      FALSE
    })
    if (sent) pending <- c(pending, i)
  }
  answers <- vector("list", length(workers))
  seconds <- rep(NA_real_, length(workers))
  deadline <- t0 + session$timeout
  while (length(pending)) {
    ready <- tryCatch(nodes_ready(lapply(workers[pending], function(k) cluster[[k]]), deadline),
                      error = function(e) rep(TRUE, length(pending)))
    if (!any(ready)) {
      for (i in pending)
        fail(workers[i], sprintf(paste("did not answer within %s seconds",
                                       "(iclv_control(cluster_timeout =))"),
                                 format(session$timeout)), "stuck")
      break
    }
    for (i in pending[ready]) {
      k <- workers[i]
      answer <- tryCatch(node_receive(cluster[[k]]), error = function(e) e)
      if (inherits(answer, "error")) {
        fail(k, paste0("died (", conditionMessage(answer), ")"))
        pending <- setdiff(pending, i)
      } else if (identical(answer$tag, tag)) {
        answers[i] <- list(answer$value)
        seconds[i] <- answer$time[[3L]]
        pending <- setdiff(pending, i)
      }
      # An answer with another tag belongs to a request that was interrupted
      # (Ctrl-C): it is dropped, and this request's answer follows.
    }
  }
  session$last_request <- list(op = op, elapsed = proc.time()[["elapsed"]] - t0,
                               worker_seconds = seconds)
  if (length(failed)) {
    note <- if (fault && is.function(session$on_fault)) session$on_fault()
    stop(structure(class = c("iclv_cluster_error", "error", "condition"),
                   list(message = paste0(paste(failed, collapse = "; "), ". ",
                                         paste(note, collapse = " "),
                                         if (length(note)) " " else "",
                                         "Stop this cluster worker by worker (parallel's ",
                                         "stopCluster() gives up at a lost one: ",
                                         "for (k in seq_along(cl)) try(stopCluster(cl[k]))) ",
                                         "and make a new one."),
                        call = NULL)))
  }
  for (i in seq_along(workers))
    if (inherits(answers[[i]], "try-error"))
      stop(worker_label(session, workers[i]), ", ", what, ": ",
           sub("\n$", "", as.character(answers[[i]])), call. = FALSE)
  answers
}

# ---- shards ----------------------------------------------------------------

# Contiguous shards of the people (in their sorted order) for n_workers
# workers, balanced by work: a person's work is the points times the
# indicators plus the available alternatives of every task (plus
# one, the latent part; missing answers are not told apart). Returns a data
# frame: worker, first, last (1-based).
shard_bounds <- function(prepared, n_workers) {
  n <- nrow(prepared$ind_cat)
  alternatives <- c(0, cumsum(rowSums(prepared$avail)))
  choices <- diff(alternatives[prepared$task_ptr + 1L])
  work <- cumsum(1 + ncol(prepared$ind_cat) + choices)
  used <- as.integer(min(n_workers, n))
  ends <- integer()
  if (used > 1L) {
    targets <- work[n] * seq_len(used - 1L) / used
    ends <- findInterval(targets, work)
    if (n / used >= aligned_blocks * sum_block)
      ends <- as.integer(round(ends / sum_block) * sum_block)
    # Strictly increasing, each shard at least one person.
    for (i in seq_along(ends)) ends[i] <- max(ends[i], if (i > 1L) ends[i - 1L] + 1L else 1L)
    for (i in rev(seq_along(ends))) ends[i] <- min(ends[i], n - (used - i))
  }
  ends <- as.integer(ends)
  data.frame(worker = seq_len(used), first = c(1L, ends + 1L), last = c(ends, n))
}

# The prepared data of people first..last (engine_build() reads these).
prepared_slice <- function(prepared, first, last) {
  rows <- first:last
  ptr <- prepared$task_ptr
  tasks <- seq.int(ptr[first] + 1L, length.out = ptr[last + 1L] - ptr[first])
  list(ind_cat = prepared$ind_cat[rows, , drop = FALSE],
       ind_value = prepared$ind_value[rows, , drop = FALSE],
       covariates = prepared$covariates[rows, , drop = FALSE],
       task_ptr = ptr[first:(last + 1L)] - ptr[first],
       choice = prepared$choice[tasks],
       avail = prepared$avail[tasks, , drop = FALSE],
       term_value = prepared$term_value[tasks, , drop = FALSE])
}

# The points of people first..last: the user's array and the centre sliced;
# a draws recipe made on the worker from the people's places in the sample.
points_slice <- function(points, first, last) {
  rows <- first:last
  out <- points[c("source", "weights", "n_draws", "n_dim")]
  out$n_indiv <- length(rows)
  if (identical(out$source$kind, "array"))
    out$source$array <- points$source$array[rows, , , drop = FALSE]
  if (identical(out$source$kind, "draws"))
    out$source$first <- (points$source$first %||% 0L) + first - 1L
  out$centre <- centre_slice(points$centre, first, last)
  out
}

# The rows first..last of each per-person field of a centre (mean, chol,
# and the step and move of the last centring step, which the next one reads).
centre_slice <- function(centre, first, last) {
  if (is.null(centre)) return(NULL)
  rows <- first:last
  lapply(centre, function(x) {
    if (length(dim(x)) == 3L) x[rows, , , drop = FALSE]
    else if (length(dim(x)) == 2L) x[rows, , drop = FALSE]
    else x[rows]
  })
}

# ---- the sharded engine ----------------------------------------------------

# An engine on the session's workers, one shard each, for a points object
# (an array of draws is built in this process: no estimation path passes
# one). Each worker resolves `backend` for itself ("auto" takes its GPU when
# it has one and its shard is large enough).
sharded_build <- function(session, model, prepared, points, threads, backend, monitor) {
  shards <- shard_bounds(prepared, session$n)
  n_indiv <- nrow(prepared$ind_cat)
  session$engines <- session$engines + 1L
  key <- paste0("engine-", session$engines)
  args <- lapply(seq_len(nrow(shards)), function(k) {
    first <- shards$first[k]
    last <- shards$last[k]
    list(session$id, key, model$plan, prepared_slice(prepared, first, last),
         points_slice(points, first, last), first - 1L, n_indiv, threads, backend)
  })
  infos <- cluster_run(session, "worker_build", args, workers = shards$worker,
                       what = "while building its engine")
  session$shards <- shards
  session$backends <- rep(NA_character_, session$n)
  session$backends[shards$worker] <- vapply(infos, `[[`, "", "backend")
  engine <- structure(list(session = session, key = key, shards = shards, infos = infos,
                           n_indiv = n_indiv, n_tasks = length(prepared$choice)),
                      class = "iclv_sharded_engine")
  session$live <- c(session$live, key)
  attr(engine, "monitor") <- monitor
  # Each worker checked its own memory as it built its engine.
  sharded_memory_check(engine, "setup", workers = FALSE)
  engine
}

is_sharded <- function(engine) inherits(engine, "iclv_sharded_engine")

# The same request to every worker of the engine; their answers in order.
sharded_run <- function(engine, op, args = list(), what = op) {
  session <- engine$session
  if (!engine$key %in% session$live)
    stop("this sharded engine has been freed (or its cluster session has ended)", call. = FALSE)
  request <- c(list(session$id, engine$key), args)
  cluster_run(session, op, rep(list(request), nrow(engine$shards)),
              workers = engine$shards$worker, what = what)
}

# engine_eval() on a sharded engine: the same list, every per-person result
# in the global order, the totals bitwise those of one process (CPU workers;
# with GPU workers the shards' totals, which the device sums in its own order,
# are added in order).
sharded_eval <- function(engine, theta_full, gradient, scores, choice, columns,
                         hessian = NULL) {
  answers <- sharded_run(engine, "worker_eval",
                         list(as.double(theta_full), gradient, scores, choice,
                              if (!is.null(columns)) as.integer(columns), hessian),
                         what = "during an evaluation")
  pieces <- lapply(answers, `[[`, "pieces")
  total <- .Call(C_reduce_pieces, do.call(rbind, lapply(pieces, `[[`, "rows")),
                 unlist(lapply(pieces, `[[`, "block")),
                 unlist(lapply(pieces, `[[`, "complete")))
  first <- engine$shards$first
  list(loglik = total[1L],
       gradient = if (gradient || scores) total[-1L],
       loglik_indiv = unlist(lapply(answers, `[[`, "loglik_indiv")),
       scores = if (scores) do.call(rbind, lapply(answers, `[[`, "scores")),
       n_nonpositive = sum(vapply(answers, `[[`, 0L, "n_nonpositive")),
       nonpositive = unlist(lapply(seq_along(answers), function(k)
         answers[[k]]$nonpositive + first[k] - 1L)),
       # The shards' Hessians added in shard order: equal to one process's
       # to rounding (about 1e-12 relative), not bitwise.
       hessian = if (!is.null(hessian)) Reduce(`+`, lapply(answers, `[[`, "hessian")))
}

# engine_predict() on a sharded engine: the workers' columns side by side
# (people, or tasks for "prob").
sharded_predict <- function(engine, theta_full, type) {
  answers <- sharded_run(engine, "worker_predict", list(as.double(theta_full), type),
                         what = "during a prediction")
  if (type %in% c("lv", "eta"))
    return(list(mean = do.call(cbind, lapply(answers, `[[`, "mean")),
                sd = do.call(cbind, lapply(answers, `[[`, "sd"))))
  do.call(cbind, answers)
}

# adapt_points()'s loop (R/centre.R) on a sharded engine whose points were
# just moved to the centre of step `step` (of at most `steps`): each worker
# measures and moves its own people's centres, and per step only theta goes
# out and the largest move of a person comes back (not the people's moments
# and centres: 30 doubles a person each way with 5 latent variables). The
# steps, the moves and the centres are those of one process, person by
# person. Returns list(centre (gathered in the global order), step).
sharded_adapt <- function(engine, theta_full, target, step, steps, tol) {
  run <- function(accept, measure)
    max(unlist(sharded_run(engine, "worker_centre_step",
                           list(as.double(theta_full), target, accept, measure),
                           what = "while centring its points")))
  accept <- FALSE
  repeat {
    if (step == steps) {
      if (accept) run(TRUE, FALSE)
      break
    }
    if (run(accept, TRUE) < tol) {
      # The measurement spent the points' weights: back to this centre.
      run(FALSE, FALSE)
      break
    }
    accept <- TRUE
    step <- step + 1L
  }
  sharded_memory_check(engine, "setup", workers = FALSE)
  pieces <- sharded_run(engine, "worker_centre", what = "while sending its centres")
  list(centre = bind_people(pieces, engine$n_indiv), step = step)
}

# Per-person fields (the people in the first dimension: a vector, a matrix
# or an array) of consecutive shards, bound in the global order.
bind_people <- function(pieces, n_indiv) {
  out <- list()
  for (name in names(pieces[[1L]])) {
    parts <- lapply(pieces, `[[`, name)
    dims <- dim(parts[[1L]])
    if (length(dims) < 2L) {
      out[[name]] <- unlist(parts)
      next
    }
    whole <- array(parts[[1L]][0], c(n_indiv, dims[-1L]))
    first <- 1L
    for (part in parts) {
      rows <- first - 1L + seq_len(dim(part)[1L])
      if (length(dims) == 2L) whole[rows, ] <- part else whole[rows, , ] <- part
      first <- first + dim(part)[1L]
    }
    out[[name]] <- whole
  }
  out
}

sharded_point_ess <- function(engine, theta_full, spend) {
  unlist(sharded_run(engine, "worker_point_ess", list(as.double(theta_full), isTRUE(spend)),
                     what = "while measuring the effective sample sizes"))
}

# The engine's points moved to a new centre: each worker gets its people's
# part of the centre (its base points stay where they were made).
sharded_set_points <- function(engine, points) {
  session <- engine$session
  shards <- engine$shards
  args <- lapply(seq_len(nrow(shards)), function(k)
    list(session$id, engine$key, centre_slice(points$centre, shards$first[k], shards$last[k])))
  cluster_run(session, "worker_set_points", args, workers = shards$worker,
              what = "while moving its points")
  sharded_memory_check(engine, "setup", workers = FALSE)
  engine
}

sharded_info <- function(engine) {
  if (!engine$key %in% engine$session$live)
    stop("this sharded engine has been freed (or its cluster session has ended)", call. = FALSE)
  infos <- engine$infos
  sum_of <- function(name) sum(vapply(infos, function(i) as.double(i[[name]]), 0))
  list(n_indiv = engine$n_indiv, n_tasks = engine$n_tasks, n_draws = infos[[1L]]$n_draws,
       n_par = infos[[1L]]$n_par, n_threads = infos[[1L]]$n_threads, block = infos[[1L]]$block,
       host_bytes = sum_of("host_bytes"), device_bytes = sum_of("device_bytes"),
       workers = nrow(engine$shards))
}

# The memory check of a sharded engine: the master's own process (it holds
# no engine), and (`workers`) each worker's check with its engine, in its
# own monitor.
sharded_memory_check <- function(engine, phase, iteration = NA_integer_, workers = TRUE) {
  monitor <- attr(engine, "monitor")
  memory_set_usage(monitor, host_bytes = 0, device_bytes = NA_real_)
  memory_check(monitor, phase, iteration)
  if (workers)
    sharded_run(engine, "worker_memory_check", list(phase, iteration),
                what = "while checking its memory")
  invisible()
}

sharded_release <- function(engine) {
  session <- engine$session
  if (!engine$key %in% session$live) return(invisible())
  session$live <- setdiff(session$live, engine$key)
  ok <- engine$shards$worker[session$status[engine$shards$worker] == "ok"]
  if (length(ok) && isTRUE(session$open))
    cluster_run(session, "worker_release", rep(list(list(session$id, engine$key)), length(ok)),
                workers = ok, what = "while freeing its engine")
  invisible()
}

#' @export
print.iclv_sharded_engine <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "print()")
  live <- x$key %in% x$session$live
  cat(sprintf("<iclv engine sharded over %d cluster workers: %d individuals%s>\n",
              nrow(x$shards), x$n_indiv, if (live) "" else ", freed"))
  invisible(x)
}

# ---- the fit ---------------------------------------------------------------

# What a fit on a cluster adds: the workers' memory records in
# fit$memory (column `worker`, 0 for this process), the backends in
# fit$backend, and fit$cluster (one row per worker: host, pid, its people,
# backend).
cluster_fit <- function(fit, session) {
  records <- tryCatch(
    cluster_run(session, "worker_records", rep(list(list(session$id)), session$n),
                what = "while reporting its memory"),
    error = function(e) NULL)
  if (!is.null(records)) {
    workers <- lapply(seq_along(records), function(k) {
      r <- records[[k]]
      r$worker <- rep(k, nrow(r))
      r
    })
    memory <- do.call(rbind, c(list(fit$memory), workers))
    attributes(memory)[c("gpu_total_mb", "dropped", "rss_kind")] <-
      attributes(fit$memory)[c("gpu_total_mb", "dropped", "rss_kind")]
    rownames(memory) <- NULL
    fit$memory <- memory
  }
  shards <- session$shards
  backends <- session$backends
  fit$cluster <- data.frame(worker = seq_len(session$n), host = session$hosts,
                            pid = session$pids,
                            first = shards$first[match(seq_len(session$n), shards$worker)],
                            last = shards$last[match(seq_len(session$n), shards$worker)],
                            backend = backends[seq_len(session$n)],
                            stringsAsFactors = FALSE)
  used <- backends[!is.na(backends)]
  fit$backend <- sprintf("%d cluster workers (%s)", length(used),
                         paste(unique(used), collapse = " and "))
  fit
}
