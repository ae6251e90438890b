# The optimizer loop: optim() on the working scale with the engine's analytic
# gradient, with a per-iteration hook for the trace, checkpoints, the memory
# monitor, the gradient tolerance and user interrupts.
#
# optim() calls the gradient once per accepted point, so the gradient function
# is where an iteration ends. Each evaluation computes the log-likelihood and
# gradient together and caches them: optim asks for fn and then gr at the same
# point, and the pair costs one pass over the data.

# A fresh objective for one optimization over the whole working vector (a
# subset moves through sub_objective()); `choice = FALSE` switches the choice
# part off (the latent stage of the starting values).
make_objective <- function(engine, model, map, choice = TRUE) {
  env <- new.env(parent = emptyenv())
  env$u <- NULL
  env$value <- NA_real_
  env$grad <- NULL
  env$n_eval <- 0L
  evaluate <- function(u) {
    if (!is.null(env$u) && identical(u, env$u)) return(invisible())
    theta_full <- theta_from_working(model, map, u)
    if (!all(is.finite(theta_full))) {
      # A step so long that a scale or a threshold increment overflows: an
      # infinite objective makes optim's line search step back.
      env$n_eval <- env$n_eval + 1L
      env$u <- u
      env$value <- Inf
      env$grad <- rep(NaN, length(u))
      return(invisible())
    }
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
       },
       # Per-individual scores on the working scale (for the preconditioner).
       scores = function(u) {
         at <- evaluate_at(engine, model, map, u, choice = choice)
         at$scores %*% at$jacobian
       })
}

# Everything the engine says at the working vector u, with the scores:
# evaluated once at the estimates and shared by the standard errors and the
# fit. gradient and scores are those of the free parameters (natural scale);
# jacobian is d theta / d u.
evaluate_at <- function(engine, model, map, u, choice = TRUE) {
  theta_full <- theta_from_working(model, map, u)
  res <- engine_eval(engine, theta_full, gradient = TRUE, scores = TRUE, choice = choice,
                     columns = map$free)
  gradient <- res$gradient[map$free]
  list(u = u, theta_full = theta_full, loglik = res$loglik, loglik_indiv = res$loglik_indiv,
       n_nonpositive = res$n_nonpositive, gradient = gradient,
       gradient_working = gradient_to_working(map, u, gradient),
       scores = res$scores, jacobian = working_jacobian(map, u))
}

# An objective over a subset of the working vector.
sub_objective <- function(objective, u_full, moving) {
  expand <- function(v) {
    u <- u_full
    u[moving] <- v
    u
  }
  list(env = objective$env,
       fn = function(v) objective$fn(expand(v)),
       gr = function(v) objective$gr(expand(v))[moving],
       scores = function(v) objective$scores(expand(v))[, moving, drop = FALSE])
}

# A linear change of variables u = u0 + A v with A A' = (S'S)^-1, the inverse
# of the BHHH matrix at u0 (S: per-individual scores). BFGS starts from the
# identity as its inverse-Hessian guess, so in v it starts from the BHHH
# approximation of the curvature instead of a unit guess: far fewer line-search
# steps when the parameters' scales differ (thresholds vs. choice coefficients).
preconditioner <- function(objective, u0) {
  scores <- objective$scores(u0)
  bhhh <- crossprod(scores)
  ridge <- 1e-8 * max(1, max(diag(bhhh)))
  chol_factor <- tryCatch(chol(bhhh + diag(ridge, nrow(bhhh))), error = function(e) NULL)
  if (is.null(chol_factor)) return(diag(1 / sqrt(pmax(diag(bhhh), ridge)), nrow(bhhh)))
  backsolve(chol_factor, diag(nrow(bhhh)))
}

# The objective in the preconditioned variables v (u = u0 + A v).
preconditioned <- function(objective, u0, a) {
  to_u <- function(v) u0 + as.vector(a %*% v)
  list(env = objective$env, to_u = to_u,
       gr_u = function(v) objective$gr(to_u(v)),
       fn = function(v) objective$fn(to_u(v)),
       gr = function(v) as.vector(crossprod(a, objective$gr(to_u(v)))))
}

# The iteration trace, preallocated (it never grows).
new_trace <- function(maxit) {
  n <- maxit + 1L
  list(n = 0L, iteration = integer(n), loglik = rep(NA_real_, n),
       gradient_norm = rep(NA_real_, n), seconds = rep(NA_real_, n), rss_mb = rep(NA_real_, n),
       round = rep(1L, n))
}

# A trace with room for `maxit` more iterations after those of `trace`
# (a resumed run continues the trace of its checkpoint).
extend_trace <- function(trace, maxit) {
  out <- new_trace(maxit + if (is.null(trace)) 0L else trace$n)
  if (is.null(trace) || trace$n == 0L) return(out)
  keep <- seq_len(trace$n)
  for (column in c("iteration", "loglik", "gradient_norm", "seconds", "rss_mb", "round"))
    if (!is.null(trace[[column]])) out[[column]][keep] <- trace[[column]][keep]
  out$n <- trace$n
  out
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
             rss_mb = trace$rss_mb[keep], round = trace$round[keep])
}

# Runs optim from u0; returns list(u, value, value0 (the objective at u0),
# code, message, iterations, interrupted, trace, n_eval). `iteration0` and
# `trace` carry the iteration count and the trace across a resumed run or an
# adaptive round; `on_iteration(u, iteration, trace)` is called each
# iteration (checkpoints, memory checks).
run_optimizer <- function(objective, u0, control, lower = -Inf, upper = Inf,
                          iteration0 = 0L, trace = new_trace(control$maxit),
                          on_iteration = NULL, label = "", max_restarts = 3L) {
  env <- objective$env
  use_bounds <- any(is.finite(lower)) || any(is.finite(upper))
  # Bounds live on u, so the bounded (L-BFGS-B) path runs without the change
  # of variables.
  to_u <- identity
  inner <- objective
  objective$gr_u <- objective$gr
  if (!use_bounds && !is.null(objective$scores)) {
    objective <- preconditioned(inner, u0, preconditioner(inner, u0))
    to_u <- objective$to_u
  }
  v0 <- if (use_bounds) u0 else rep(0, length(u0))
  start_time <- proc.time()[["elapsed"]]
  seconds0 <- if (trace$n > 0L) trace$seconds[trace$n] else 0
  state <- new.env(parent = emptyenv())
  state$iteration <- iteration0
  state$best_u <- u0
  state$trace <- trace
  state$first <- TRUE

  gr_hooked <- function(v) {
    g <- objective$gr(v)
    u <- to_u(v)
    g_u <- objective$gr_u(v)
    state$best_u <- u
    # optim's first gradient is at the start: iteration 0 of a fresh run, and
    # already in the trace of a resumed one.
    if (is.null(state$value0)) state$value0 <- env$value
    if (state$first) {
      state$first <- FALSE
      if (iteration0 > 0L) return(g)
    } else {
      state$iteration <- state$iteration + 1L
    }
    gnorm <- sqrt(sum(g_u^2))
    elapsed <- seconds0 + proc.time()[["elapsed"]] - start_time
    rss <- process_rss_mb()
    state$trace <- trace_record(state$trace, state$iteration, -env$value, gnorm, elapsed, rss)
    if (control$trace)
      message(sprintf("%siter %4d  loglik %15.6f  |grad| %10.3e  %8.2fs  RSS %7.1f MB",
                      label, state$iteration, -env$value, gnorm, elapsed, rss))
    if (!is.null(on_iteration)) on_iteration(u, state$iteration, state$trace)
    if (relative_gradient(g_u, u, env$value) < control$gradtol)
      signal_condition_class("iclv_gradient_converged")
    g
  }

  res <- tryCatch(
    {
      restarts <- 0L
      iteration_base <- iteration0
      repeat {
        maxit_left <- max(1L, control$maxit - (state$iteration - iteration_base))
        opt <- if (use_bounds)
          stats::optim(v0, objective$fn, gr_hooked, method = "L-BFGS-B", lower = lower,
                       upper = upper, control = list(maxit = maxit_left,
                                                     factr = control$reltol / .Machine$double.eps))
        else
          # optim's BFGS counts the starting point as an iteration.
          stats::optim(v0, objective$fn, gr_hooked, method = "BFGS",
                       control = list(maxit = maxit_left + 1L, reltol = control$reltol))
        u_end <- to_u(opt$par)
        # BFGS can stop on its relative tolerance while the gradient is still
        # large (a poor curvature estimate): restart from there with a fresh
        # preconditioner, a few times at most.
        stalled <- opt$convergence == 0L && !use_bounds && !is.null(inner$scores) &&
          relative_gradient(inner$gr(u_end), u_end, env$value) > 10 * control$gradtol
        if (!stalled || restarts >= max_restarts) break
        restarts <- restarts + 1L
        objective <- preconditioned(inner, u_end, preconditioner(inner, u_end))
        to_u <- objective$to_u
        state$first <- TRUE
        iteration0 <- state$iteration
      }
      list(u = u_end, code = opt$convergence,
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
  # The objective's cache holds u in practice (the last gradient was there).
  res$value <- inner$fn(res$u)
  res$value0 <- state$value0 %||% res$value # the objective at the start
  res$iterations <- state$iteration
  res$trace <- state$trace
  res$n_eval <- env$n_eval
  res
}

# The relative gradient (as Biogeme reports it): each entry scaled by the size
# of its parameter and of the log-likelihood, so that it reads the same for a
# log-likelihood of -100 and of -100,000.
relative_gradient <- function(g, u, value) {
  max(abs(g) * pmax(abs(u), 1)) / max(abs(value), 1)
}

# Signals a classed condition that a calling tryCatch turns into a result.
signal_condition_class <- function(class) {
  cond <- structure(class = c(class, "condition"), list(message = class, call = NULL))
  signalCondition(cond)
  invisible(NULL)
}

`%||%` <- function(a, b) if (is.null(a)) b else a
