# Multi-start and restarts. With iclv_control(starts = k) the default start
# (R/start.R) is joined by k - 1 random starts around it; each runs a few
# iterations on the same engine and the best is continued to convergence.
# When the solution reached is degenerate (R/degenerate.R), iclv() restarts
# from the alternatives (the other starts, the latent stage in the user's
# normalisation, the data-driven defaults without stages, random starts)
# before it gives up. Every start's results end up in `fit$starts`.

# How far random starts lie from the default: this many standard errors (from
# the BHHH matrix at the default start) in each direction of the working scale.
start_spread <- 2

# Restarts tried after a degenerate solution, at most.
restart_tries <- 3L

# A regular solution whose estimated integration error exceeds this many
# log-likelihood units sits on a rough surface (plain nodes or draws spread
# over the prior while each person's posterior is narrow): as a parameter
# moves people's posteriors across the nodes, the approximation ripples, with
# maxima of its own. iclv() then scans each parameter over +-`scan_reach`
# standard errors (the others held) and estimates again from the best point
# that beats the maximum, `rough_rounds` times at most.
rough_error <- 10
scan_reach <- 8L
scan_peaks <- 5L
rough_rounds <- 3L

# The start the estimation begins from, and what the restarts need:
# list(theta_full, stages, starts (data frame), alternatives (the other
# starts' working vectors, best first), default_u (the default start)).
# `integration(theta_full, loglik)` estimates the integration error at a
# point (list(error, kind)), for the check of where each start ended.
start_search <- function(model, prepared, engine, map, start, control, bounds,
                         integration = function(theta_full, loglik) NULL) {
  theta_full <- starting_values(model, prepared, engine, start, control)
  u_default <- working_from_theta(model, map, theta_full)
  first_kind <- if (length(start)) "start given" else "default"
  candidates <- list(list(kind = first_kind, u = u_default))
  if (control$starts > 1L)
    candidates <- c(candidates, random_starts(make_objective(engine, model, map), u_default,
                                              control$starts - 1L, control$seed, bounds,
                                              map$is_log))
  if (length(candidates) == 1L)
    return(list(theta_full = theta_full, stages = attr(theta_full, "stages"),
                starts = start_rows(first_kind, NA_real_, NA_real_, 0L), alternatives = list(),
                default_u = u_default))
  # Where each short run ended is checked for a degenerate point (the
  # structural checks and the integration error; no Hessian): a spike can
  # have the highest log-likelihood, and is neither continued nor tried
  # first again.
  ends_degenerate <- function(run) {
    if (!is.finite(run$value)) return(FALSE)
    theta_full <- theta_from_working(model, map, run$u)
    !is.null(degenerate_findings(model, prepared, theta_full)) ||
      !is.null(unintegrated_finding(-run$value, integration(theta_full, -run$value)))
  }
  run_all <- function(candidates)
    lapply(candidates, function(candidate)
      short_run(make_objective(engine, model, map), candidate$u, control, bounds))
  runs <- run_all(candidates)
  degenerate <- vapply(runs, ends_degenerate, logical(1))
  if (degenerate[[1L]]) {
    # The default start ran into a degenerate point: the starts a single
    # start would restart from join in, as random starts around the default
    # may run into the same.
    fresh <- fresh_starts(model, prepared, engine, map, control)
    fresh_runs <- run_all(fresh)
    candidates <- c(candidates, fresh)
    runs <- c(runs, fresh_runs)
    degenerate <- c(degenerate, vapply(fresh_runs, ends_degenerate, logical(1)))
  }
  loglik <- vapply(runs, function(run) -run$value, numeric(1))
  ranking <- rank_starts(loglik, degenerate)
  best <- ranking[[1L]]
  order_rest <- ranking[-1L]
  starts <- start_rows(vapply(candidates, `[[`, "", "kind"),
                       vapply(runs, `[[`, numeric(1), "loglik_start"), loglik,
                       vapply(runs, `[[`, integer(1), "iterations"))
  starts$continued <- seq_along(candidates) == best
  # A short run that converged is a run to convergence.
  converged <- vapply(runs, function(run) identical(run$code, 0L), logical(1))
  starts$loglik[converged] <- loglik[converged]
  starts$degenerate <- degenerate
  list(theta_full = theta_from_working(model, map, runs[[best]]$u),
       stages = c(attr(theta_full, "stages"), if (best > 1L) "multistart"), starts = starts,
       alternatives = lapply(runs[order_rest], `[[`, "u"),
       alternatives_degenerate = degenerate[order_rest], default_u = u_default)
}

# The order in which starts are continued and then tried again: regular end
# points before degenerate ones, each by log-likelihood, the first start
# winning near-ties (1e-6), so the default start is kept unless another is
# better.
rank_starts <- function(loglik, degenerate) {
  ranked <- if (all(degenerate)) loglik else ifelse(degenerate, -Inf, loglik)
  best <- which(ranked >= max(ranked) - 1e-6)[1L]
  c(best, setdiff(order(degenerate, -loglik), best))
}

# The table of starts: one row per start; the columns of a run to
# convergence (loglik, degenerate) are filled in by settle_solution().
start_rows <- function(kind, loglik_start, loglik_short, iterations) {
  data.frame(start = seq_along(kind), kind = kind, loglik_start = loglik_start,
             loglik_short = loglik_short, iterations = as.integer(iterations),
             continued = seq_along(kind) == 1L, loglik = NA_real_, degenerate = NA,
             stringsAsFactors = FALSE)
}

# Random starts u0 + spread * A z, A A' the inverse BHHH matrix at u0, z
# standard normal from the package's own generator (R's stream untouched),
# kept within the bounds; a scale (a log on the working scale: `is_log`)
# moves by at most a factor exp(log_reach). Along a flat direction (a
# random coefficient's spread gone to 0) the BHHH step is unbounded: it made
# a spread of 3.6e22 and a start whose log-likelihood was -5e21.
random_starts <- function(objective, u0, n, seed, bounds, is_log = logical(length(u0))) {
  a <- preconditioner(objective, u0)
  z <- iclv_draws(n, 1L, length(u0), type = "pseudo", seed = seed)
  lapply(seq_len(n), function(i) {
    step <- start_spread * as.vector(a %*% z[i, 1L, ])
    step[is_log] <- pmin(pmax(step[is_log], -log_reach), log_reach)
    list(kind = "random", u = pmin(pmax(u0 + step, bounds$lower), bounds$upper))
  })
}

log_reach <- 2

# A few iterations from u (iclv_control(start_iterations =)).
short_run <- function(objective, u, control, bounds) {
  loglik_start <- -objective$fn(u)
  run_control <- control
  run_control$trace <- FALSE
  run_control$maxit <- control$start_iterations
  if (!is.finite(loglik_start))
    return(list(u = u, value = Inf, loglik_start = loglik_start, iterations = 0L, code = 1L))
  opt <- run_optimizer(objective, u, run_control, lower = bounds$lower, upper = bounds$upper,
                       max_restarts = 0L)
  if (isTRUE(opt$interrupted)) stop_interrupted("while trying starting values")
  list(u = opt$u, value = opt$value, loglik_start = loglik_start, iterations = opt$iterations,
       code = opt$code)
}

# Detection and restarts after the estimation. `result` holds the estimation
# (opt) and its standard errors (se); `estimate(u)` runs the estimation from
# u, `errors(opt)` the standard errors at its estimates, `findings(opt, se)`
# the check. When the solution is degenerate, up to `restart_tries`
# alternatives are estimated and the best regular solution kept; only when
# every run is degenerate does the best of them stand (with code 3). A
# degenerate point may have the higher log-likelihood (a spike of the
# simulated or quadrature likelihood at an indicator without error): it is not
# a usable maximum, and the starts table and summary() show it was set aside.
# When the solution is regular but `roughness(opt)` (its estimated integration
# error) exceeds `rough_error`, `scan(opt)` looks for a higher point along
# each parameter and the estimation goes on from there while that gains.
# Returns list(opt, se, findings, starts).
settle_solution <- function(result, search, estimate, errors, findings, alternatives,
                            roughness = function(opt) NA_real_, scan = function(opt) NULL) {
  result$findings <- findings(result$opt, result$se)
  runs <- list(result)
  kinds <- "continued"
  add_run <- function(opt, kind) {
    se <- errors(opt)
    runs[[length(runs) + 1L]] <<- list(opt = opt, se = se, findings = findings(opt, se))
    kinds[[length(kinds) + 1L]] <<- kind
    runs[[length(runs)]]
  }
  converged <- result$opt$code == 0L
  if (converged && !is.null(result$findings)) {
    for (next_start in utils::head(alternatives(), restart_tries)) {
      opt <- estimate(next_start$u)
      if (opt$interrupted) break
      run <- add_run(opt, next_start$kind)
      if (is.null(run$findings) && opt$code == 0L && -opt$value >= -result$opt$value - 0.01)
        break
    }
  } else if (converged && isTRUE(roughness(result$opt) > rough_error)) {
    # A regular maximum of a poorly integrated likelihood: climb over the
    # ripples the scan finds, while they lead higher.
    current <- result$opt
    for (round in seq_len(rough_rounds)) {
      u <- scan(current)
      if (is.null(u)) break
      opt <- estimate(u)
      if (opt$interrupted) break
      run <- add_run(opt, "scan of each parameter")
      if (!is.null(run$findings) || opt$code != 0L || opt$value > current$value - 0.01) break
      current <- opt
    }
  }
  loglik <- vapply(runs, function(run) -run$opt$value, numeric(1))
  regular <- vapply(runs, function(run) is.null(run$findings), logical(1))
  best <- if (any(regular)) which(regular)[which.max(loglik[regular])] else which.max(loglik)
  chosen <- runs[[best]]
  chosen$opt <- degenerate_convergence(chosen$opt, chosen$findings)
  chosen$starts <- record_runs(search$starts, runs, kinds, best)
  chosen
}

# settle_solution() for iclv(): the check at the estimates (the structural
# checks of R/degenerate.R, and the integration error that `integration(opt)`
# estimates: a log-likelihood dominated by it is degenerate, one above
# rough_error sits on a rough surface) and, when they are degenerate, the
# estimation again (`optimize_from`, iclv()'s) from the alternatives, on the
# engine iclv() holds at the time (`engine_now()`: adaptive points are
# re-centred by each estimation). An interrupted estimation is left as it is.
settle_fit <- function(opt, se, search, model, prepared, engine_now, map, start, control,
                       bounds, optimize_from, integration) {
  if (opt$interrupted) return(list(opt = opt, se = se, starts = search$starts, findings = NULL))
  # Each run's integration error is measured once, right after its
  # estimation (while the engine's points are that run's).
  measured <- list(u = NULL)
  integration_of <- function(opt) {
    if (!identical(measured$u, opt$u)) measured <<- list(u = opt$u, error = integration(opt))
    measured$error
  }
  settle_solution(
    list(opt = opt, se = se), search,
    estimate = function(u) optimize_from(u, 0L, extend_trace(NULL, control$maxit)),
    errors = function(opt) standard_errors(engine_now(), model, map, opt$optimum, control),
    findings = function(opt, se)
      rbind(degenerate_findings(model, prepared, opt$optimum$theta_full, se$problems),
            unintegrated_finding(opt$optimum$loglik, integration_of(opt))),
    alternatives = restart_alternatives(search, model, prepared, engine_now(), map, start,
                                        control, bounds),
    roughness = function(opt) integration_of(opt)$error,
    scan = function(opt) scan_parameters(engine_now(), model, map, opt$u, opt$value, bounds))
}

# The best point of a scan of each free parameter (working scale) over
# +-scan_reach standard errors in half steps, the others held at u (standard
# errors from the BHHH matrix at u), if it beats the objective `value` there
# by more than 0.01; else NULL. The ripples of a rough surface are about as
# narrow as the steps, so the `scan_peaks` highest peaks of the profiles
# (grid points above both neighbours, away from u) are refined by a golden-
# section search between their neighbours. Values only, no gradients.
scan_parameters <- function(engine, model, map, u, value, bounds) {
  a <- preconditioner(make_objective(engine, model, map), u)
  step <- sqrt(rowSums(a^2))
  at <- function(i, k) {
    v <- u
    v[i] <- min(max(u[i] + k * step[i], bounds$lower[i]), bounds$upper[i])
    theta_full <- theta_from_working(model, map, v)
    if (!all(is.finite(theta_full))) return(Inf)
    loglik <- engine_eval(engine, theta_full, gradient = FALSE)$loglik
    if (is.finite(loglik)) -loglik else Inf
  }
  offsets <- seq(-scan_reach, scan_reach, by = 0.5)
  peaks <- NULL
  for (i in seq_along(u)) {
    profile <- vapply(offsets, function(k) if (k == 0) value else at(i, k), numeric(1))
    inner <- seq(2L, length(offsets) - 1L)
    is_peak <- profile[inner] <= profile[inner - 1L] & profile[inner] <= profile[inner + 1L] &
      abs(offsets[inner]) > 0.5
    if (any(is_peak)) peaks <- rbind(peaks, data.frame(i = i, k = offsets[inner][is_peak],
                                                       value = profile[inner][is_peak]))
  }
  if (is.null(peaks)) return(NULL)
  best <- list(u = NULL, value = value - 0.01)
  for (row in utils::head(split(peaks, seq_len(nrow(peaks)))[order(peaks$value)], scan_peaks)) {
    refined <- stats::optimize(function(k) at(row$i, k), row$k + c(-0.5, 0.5), tol = 0.01)
    if (refined$objective < best$value) {
      best$value <- refined$objective
      best$u <- u
      best$u[row$i] <- min(max(u[row$i] + refined$minimum * step[row$i], bounds$lower[row$i]),
                           bounds$upper[row$i])
    }
  }
  best$u
}

# The starts table with the runs to convergence: the continued start's
# final log-likelihood, then one row per restart.
record_runs <- function(starts, runs, kinds, chosen) {
  if (is.null(starts)) starts <- start_rows("resumed", NA_real_, NA_real_, 0L)
  continued <- which(starts$continued)
  if (is.na(starts$loglik_start[continued]))
    starts$loglik_start[continued] <- runs[[1L]]$opt$trace$loglik[1L]
  starts$loglik[continued] <- -runs[[1L]]$opt$value
  starts$degenerate[continued] <- !is.null(runs[[1L]]$findings)
  starts$chosen <- FALSE
  for (i in seq_along(runs)[-1L]) {
    run <- runs[[i]]
    row <- start_rows(paste("restart:", kinds[[i]]), NA_real_, NA_real_, 0L)
    row$start <- nrow(starts) + 1L
    row$loglik <- -run$opt$value
    row$degenerate <- !is.null(run$findings)
    row$iterations <- run$opt$iterations
    row$chosen <- FALSE
    starts <- rbind(starts, row)
  }
  starts$chosen[if (chosen == 1L) continued else nrow(starts) - length(runs) + chosen] <- TRUE
  starts$continued <- NULL
  rownames(starts) <- NULL
  starts
}

# The alternatives to restart from, made when needed: the other starts'
# short runs, the staged start (when the user's `start` was used), the
# latent stage in the user's normalisation, the data-driven defaults without
# stages, and random starts around the staged start. The user's starting
# values led to the degenerate solution, so these ignore them.
restart_alternatives <- function(search, model, prepared, engine, map, start, control, bounds) {
  force(search)
  function() {
    staged_control <- control
    staged_control$start_stages <- TRUE
    working <- function(theta_full) working_from_theta(model, map, theta_full)
    # Other starts whose short runs ended at a regular point come first;
    # those that ended at a spike come last, after the fresh alternatives.
    others <- lapply(search$alternatives, function(u) list(kind = "other start", u = u))
    spiked <- search$alternatives_degenerate %||% logical(length(others))
    staged <- if (is.null(start) && control$start_stages && !is.null(search$default_u))
      search$default_u else working(starting_values(model, prepared, engine, NULL, staged_control))
    candidates <- c(others[!spiked], list(list(kind = "staged start", u = staged)),
      fresh_starts(model, prepared, engine, map, control),
      random_starts(make_objective(engine, model, map), staged, restart_tries,
                    control$seed + 1L, bounds, map$is_log), others[spiked])
    tried <- c(list(search$default_u), lapply(candidates, `[[`, "u"))
    distinct <- !duplicated(lapply(tried, function(u) if (!is.null(u)) round(u, 8)))[-1L]
    # A random step along a flat direction can overflow a scale or threshold.
    finite <- vapply(candidates, function(candidate) all(is.finite(to_natural(map, candidate$u))),
                     logical(1))
    candidates[distinct & finite]
  }
}

# Starts made afresh, without the user's starting values: the latent stage
# in the model's own normalisation, and the data-driven defaults without
# stages.
fresh_starts <- function(model, prepared, engine, map, control) {
  staged_control <- control
  staged_control$start_stages <- TRUE
  plain_control <- staged_control
  plain_control$start_stages <- FALSE
  working <- function(theta_full) working_from_theta(model, map, theta_full)
  list(list(kind = "user normalisation",
            u = working(starting_values(model, prepared, engine, NULL, staged_control,
                                        standardise = FALSE))),
       list(kind = "data defaults",
            u = working(starting_values(model, prepared, engine, NULL, plain_control))))
}

# A one-line note for summary() when the starts disagree: runs to
# convergence reached different log-likelihoods, a start other than the
# default did better in the short runs, or a restart was needed.
starts_note <- function(starts) {
  if (is.null(starts) || nrow(starts) < 2L) return(character())
  finals <- starts$loglik[is.finite(starts$loglik)]
  disagree <- length(finals) > 1L && diff(range(finals)) > 0.01
  chosen <- starts[starts$chosen, , drop = FALSE]
  restarts <- sum(grepl("^restart", starts$kind))
  better <- chosen$loglik_short - starts$loglik_short[1L] > 0.01
  if (!restarts && !disagree && !isTRUE(better)) return(character())
  set_aside <- starts$degenerate %in% TRUE & starts$loglik > chosen$loglik + 0.01
  # Restarts follow a degenerate solution, or a regular one on a rough
  # (poorly integrated) likelihood.
  first_run <- which(!grepl("^restart", starts$kind) & is.finite(starts$loglik))[1L]
  after <- if (isTRUE(starts$degenerate[first_run])) "a degenerate solution" else
    "a maximum of a poorly integrated likelihood (whose ripples have maxima of their own)"
  what <- if (restarts) sprintf("%d restart(s) after %s%s", restarts, after,
                                if (any(set_aside) && !isTRUE(chosen$degenerate))
                                  sprintf(" (a degenerate one at %.4f set aside)",
                                          max(starts$loglik[set_aside])) else "") else
    if (disagree) sprintf("runs to convergence reached log-likelihoods from %.4f to %.4f",
                          min(finals), max(finals)) else
      "the default start did worse than another in the short runs"
  sprintf("Starts: %d tried (see fit$starts); %s; start %d (%s) gave the estimates.",
          nrow(starts), what, chosen$start, chosen$kind)
}
