# The optimizer loop: optim() on the working scale with the engine's analytic
# gradient, with a per-iteration hook for the trace, checkpoints, the memory
# monitor, the gradient tolerance and user interrupts.
#
# optim() calls the gradient once per accepted point, so the gradient function
# is where an iteration ends. Each evaluation computes the log-likelihood and
# gradient together and caches them: optim asks for fn and then gr at the same
# point, and the pair costs one pass over the data.

# A fresh objective for one optimization. `free_idx` selects the entries of
# the working vector that move (others stay at `u_fixed`).
make_objective <- function(engine, model, map, choice = TRUE) {
  env <- new.env(parent = emptyenv())
  env$u <- NULL
  env$value <- NA_real_
  env$grad <- NULL
  env$n_eval <- 0L
  evaluate <- function(u) {
    if (!is.null(env$u) && identical(u, env$u)) return(invisible())
    theta_full <- fill_theta(model, map, to_natural(map, u))
    res <- engine_eval(engine, theta_full, gradient = TRUE, scores = FALSE, choice = choice)
    env$n_eval <- env$n_eval + 1L
    env$u <- u
    env$value <- -res$loglik
    env$grad <- -gradient_to_working(map, u, res$gradient[map$free])
  }
  list(env = env,
       fn = function(u) {
         evaluate(u)
         env$value
       },
       gr = function(u) {
         evaluate(u)
         env$grad
       })
}

# The iteration trace, preallocated (it never grows).
new_trace <- function(maxit) {
  n <- maxit + 1L
  list(n = 0L, iteration = integer(n), loglik = rep(NA_real_, n),
       gradient_norm = rep(NA_real_, n), seconds = rep(NA_real_, n), rss_mb = rep(NA_real_, n))
}

trace_record <- function(trace, iteration, loglik, gradient_norm, seconds, rss_mb) {
  i <- trace$n + 1L
  if (i > length(trace$iteration)) return(trace)
  trace$iteration[i] <- iteration
  trace$loglik[i] <- loglik
  trace$gradient_norm[i] <- gradient_norm
  trace$seconds[i] <- seconds
  trace$rss_mb[i] <- rss_mb
  trace$n <- i
  trace
}

trace_frame <- function(trace) {
  keep <- seq_len(trace$n)
  data.frame(iteration = trace$iteration[keep], loglik = trace$loglik[keep],
             gradient_norm = trace$gradient_norm[keep], seconds = trace$seconds[keep],
             rss_mb = trace$rss_mb[keep])
}

# Runs optim from u0; returns list(u, value, convergence, message, iterations,
# interrupted, trace). `state` carries the iteration offset and the trace
# across a resumed run; `on_iteration(u, iteration, trace)` is called each
# iteration (checkpoints, memory checks).
run_optimizer <- function(objective, u0, control, lower = -Inf, upper = Inf,
                          iteration0 = 0L, trace = new_trace(control$maxit),
                          on_iteration = NULL, label = "") {
  env <- objective$env
  start_time <- proc.time()[["elapsed"]]
  seconds0 <- if (trace$n > 0L) trace$seconds[trace$n] else 0
  state <- new.env(parent = emptyenv())
  state$iteration <- iteration0
  state$best_u <- u0
  state$trace <- trace
  stop_reason <- NULL

  gr_hooked <- function(u) {
    g <- objective$gr(u)
    state$iteration <- state$iteration + 1L
    state$best_u <- u
    gnorm <- sqrt(sum(g^2))
    elapsed <- seconds0 + proc.time()[["elapsed"]] - start_time
    rss <- process_rss_mb()
    state$trace <- trace_record(state$trace, state$iteration, -env$value, gnorm, elapsed, rss)
    if (control$trace)
      message(sprintf("%siter %4d  loglik %15.6f  |grad| %10.3e  %8.2fs  RSS %7.1f MB",
                      label, state$iteration, -env$value, gnorm, elapsed, rss))
    if (!is.null(on_iteration)) on_iteration(u, state$iteration, state$trace)
    if (max(abs(g)) < control$gradtol)
      rlang_free_signal("iclv_gradient_converged")
    g
  }

  use_bounds <- any(is.finite(lower)) || any(is.finite(upper))
  res <- tryCatch(
    {
      gr_hooked(u0)
      opt <- if (use_bounds)
        stats::optim(u0, objective$fn, gr_hooked, method = "L-BFGS-B", lower = lower,
                     upper = upper, control = list(maxit = control$maxit, factr = control$reltol /
                                                     .Machine$double.eps))
      else
        stats::optim(u0, objective$fn, gr_hooked, method = "BFGS",
                     control = list(maxit = control$maxit, reltol = control$reltol))
      list(u = opt$par, code = opt$convergence,
           message = if (opt$convergence == 0L) "relative tolerance reached" else
             if (opt$convergence == 1L) "iteration limit reached" else
               paste("optim:", opt$message %||% opt$convergence),
           interrupted = FALSE)
    },
    iclv_gradient_converged = function(cond) {
      list(u = state$best_u, code = 0L, message = "gradient tolerance reached",
           interrupted = FALSE)
    },
    interrupt = function(cond) {
      list(u = state$best_u, code = -1L, message = "interrupted by the user",
           interrupted = TRUE)
    }
  )
  objective$fn(res$u)
  res$value <- env$value
  res$iterations <- state$iteration
  res$trace <- state$trace
  res$n_eval <- env$n_eval
  res
}

# Signals a classed condition that a calling tryCatch turns into a result.
rlang_free_signal <- function(class) {
  cond <- structure(class = c(class, "condition"), list(message = class, call = NULL))
  signalCondition(cond)
  invisible(NULL)
}

`%||%` <- function(a, b) if (is.null(a)) b else a
