#' Estimate an ICLV model by simulated maximum likelihood
#'
#' Builds the compiled engine once (data and draws laid out in memory), then
#' lets [stats::optim()] maximise the simulated log-likelihood with the
#' engine's analytic gradient ("BFGS", or "L-BFGS-B" when bounds are given),
#' and computes classical, robust and BHHH standard errors (the first two
#' from the engine's analytic Hessian, at about the cost of five evaluations;
#' with `iclv_control(se = "bhhh")` no Hessian is computed).
#'
#' @section Starting values:
#' Unless `start` names every free parameter, starting values are found in
#' stages: (1) the parameter table's defaults refined from the data: loadings
#' from one factor of the correlations of each latent variable's indicators,
#' thresholds of ordered indicators at the quantiles of their answer shares,
#' continuous indicators' intercepts and scales from their means and standard
#' deviations; (2) the latent part alone (structural and measurement
#' equations: the same engine with the choice part switched off), for a few
#' iterations, with standardised latent variables (error scale 1, every
#' loading free), then mapped to the model's normalisation by rescaling each
#' latent variable, so that a reference loading cannot make the start collapse
#' to a zero latent scale; (3) the choice coefficients from a plain
#' multinomial logit in which each latent variable is replaced by its
#' posterior mean from stage 2. The full model is then estimated from there.
#' Values given in `start` (by name, natural scale) override the stages' values
#' and are kept fixed as starting points of every stage.
#'
#' @section Integration:
#' Each person's likelihood is an integral over the latent variables' errors.
#' With several items per latent variable a person's posterior is far
#' narrower than the prior, so plain draws or nodes (spread over the prior)
#' waste almost all their points: with 38 items on five latent variables,
#' 100 plain draws bias the log-likelihood by hundreds of units. Adaptive
#' integration (the default whenever the model has indicators) moves the
#' points to each person's posterior: with the posterior mean `m` and a
#' Cholesky factor `C` of the posterior covariance of the errors, point
#' `z` becomes `m + C z`, and its weight carries the density ratio
#' (importance sampling for draws, adaptive Gauss-Hermite quadrature for
#' nodes). The posterior moments come from the engine itself, iterated from
#' the prior until they settle.
#'
#' The centres stay fixed while the optimizer runs, so the objective it sees
#' is smooth; they are refreshed at the estimates of each converged round
#' (as in GLLAMM's adaptive quadrature), and estimation stops when a round
#' started from refreshed centres gains less than
#' `iclv_control(adapt_tol =)` in log-likelihood (1e-8 by default: the
#' estimates moved by about 1e-4 standard errors). That takes 3-6 rounds,
#' the later ones a few iterations each. The base draws or nodes never
#' change, so the estimates do not depend on the schedule: refreshing every
#' few iterations (`adapt_every`) reaches the same estimates.
#' The summary reports the estimated integration error: the
#' importance-sampling standard error for draws, the difference to a finer
#' rule for quadrature. A warning says when it exceeds 0.5.
#'
#' @section Degenerate solutions, multi-start and convergence codes:
#' At the end of an estimation iclv() checks for a degenerate solution: a
#' latent variable whose scale has collapsed (its reference indicator no
#' longer measured by it while the free loadings explode), an indicator
#' explained without error, thresholds or choice coefficients running off, a
#' log-likelihood whose estimated integration error exceeds 10% of its value
#' (a spike of the approximation, which plain nodes allow), or a Hessian that
#' is not negative definite (not checked with `iclv_control(se = "bhhh")`,
#' which computes no Hessian). When the optimizer stopped on its
#' tolerance at such a point, iclv() estimates again from alternative starts
#' (the other starts of `iclv_control(starts =)`, the staged start when
#' `start` was given, the latent stage in the model's own normalisation, the
#' data-driven defaults, random starts; three at most) and keeps the best
#' regular solution, even where a degenerate one has a higher log-likelihood
#' (an indicator explained without error makes the simulated likelihood spike
#' at the draws or nodes: a higher value, but no usable maximum; summary()
#' says it was set aside). If every run is degenerate, the best is reported
#' as such: `fit$degenerate` lists what was
#' found and what to do, and print() and summary() say so.
#'
#' A regular maximum whose estimated integration error exceeds 10
#' log-likelihood units (plain nodes or draws spread over the prior while each
#' person's posterior is narrow) sits on a rough surface: as a parameter moves
#' people's posteriors across the nodes, the approximation ripples, with
#' maxima of its own. iclv() then scans each parameter over 8 standard errors
#' either side (the others held, in half steps, the highest ripples refined)
#' and estimates again from the best point that beats the maximum, while that
#' gains (three rounds at most). On the Optima model with continuous items and
#' 10 plain nodes this climbs from -11151.44 to -11151.33 in 0.8 s; adaptive
#' integration avoids the ripples altogether. `fit$starts` is a
#' data frame with every start tried (`kind`, log-likelihood at the start,
#' after its short run and at convergence, whether degenerate, which gave the
#' estimates). `fit$convergence$code`: 0 converged, 1 iteration limit, 3
#' degenerate solution, -1 interrupted, others from [stats::optim()].
#'
#' @section Scales and transformed parameters:
#' The optimizer works on a transformed scale: free scales as logs, each
#' monotone set of thresholds as its first value and log increments. Estimates
#' are reported on their natural scale with delta-method standard errors.
#'
#' @section Checkpoints and interrupts:
#' With `control = iclv_control(checkpoint = "run.rds")` the optimizer's state
#' (parameters, iteration, trace) is saved every `checkpoint_every`
#' iterations, atomically (a temporary file renamed over the old one).
#' `iclv(..., resume = "run.rds")` continues from it. Ctrl-C stops the run
#' cleanly: the fit returned holds the last accepted parameters (no standard
#' errors), and the checkpoint is written.
#'
#' @section Estimation on a cluster:
#' With `iclv_control(cluster = cl)` (a cluster of the parallel package, on
#' one host or many) the individuals are split into contiguous shards
#' balanced by work, one per worker; each worker loads iclv, builds the
#' engine of its shard once (its draws made there from the recipe, never
#' sent) and evaluates it; per evaluation only the parameters go out and the
#' shard's sums come back. The optimizer, the standard errors, the centring
#' of adaptive points, the summaries and the bootstrap replicates all run on
#' the cluster, and the results equal those of one process bitwise (with CPU
#' workers: the log-likelihood and gradient are summed over fixed blocks of
#' 64 individuals, in order, on every path). The fit keeps no engine; the
#' methods that need one (predict(), elasticities(), check_integration())
#' build it in this process. `fit$cluster` lists the workers and their
#' individuals; memory_summary() has a row per check of every worker.
#' A worker that dies or stops answering (`iclv_control(cluster_timeout =)`)
#' ends the estimation with an error (class `iclv_cluster_error`) that names
#' it, after the state of the last iteration is written to the checkpoint;
#' `resume =` continues on a new cluster of any size. An error inside a
#' worker comes back with its message. The workers' engines are freed when
#' iclv() returns or fails.
#'
#' @param model An [iclv_model()].
#' @param data A data frame in wide format (one row per choice task).
#' @param draws Number of draws per individual, or an array individuals x
#'   draws x latent variables of your own standard normal draws, individuals
#'   in sorted id order. Draws go to individuals by sorted id, so the same
#'   data in any row order give the same estimates.
#' @param draw_type Type of draws, see [iclv_loglik()].
#' @param start Named starting values (natural scale) for some or all free
#'   parameters. Values for fixed parameters may be included (a whole
#'   parameter vector) when they equal the fixed value.
#' @param backend `"auto"`, `"cpu"` or `"gpu"`. `"gpu"` needs the CUDA backend
#'   compiled in and a usable device (an error says which is missing).
#'   `"auto"` takes the GPU when one is usable and the problem has at least
#'   20,000 (individual, draw) pairs, else the CPU: below that, the GPU's fixed
#'   costs per evaluation (kernel launches, transfers) and its start-up
#'   outweigh what it saves.
#' @param control [iclv_control()] settings.
#' @param resume A checkpoint file written by an earlier run with the same
#'   model and data.
#' @param integration How the latent variables are integrated out:
#'   `"simulation"` (draws, the default), `"quadrature"` (Gauss-Hermite: a
#'   product rule for up to 3 latent variables, a sparse grid of nested
#'   Genz-Keister rules for 4 to 6) or `"auto"` (quadrature for up to 3 latent
#'   variables, simulation above). The summary says which was used and its
#'   estimated error; [check_integration()] compares with a finer rule.
#' @param nodes Quadrature nodes per latent variable (product rules), or the
#'   accuracy level of a sparse grid (exact for polynomials of total degree
#'   `2 * nodes - 1`). Default, adaptive: 10 nodes for 1-2 latent variables,
#'   8 for 3, level 4 for sparse grids; plain: 20 nodes for 1-2 latent
#'   variables, 12 for 3, level 5-6 for sparse grids.
#' @param adaptive Move the draws or nodes to each person's posterior (see
#'   section "Integration")? `NULL` (the default) does so whenever the model
#'   has indicators, which is when plain points are inaccurate. A model
#'   without latent variables (a mixed logit) keeps plain draws even with
#'   `TRUE` (moved draws were biased there: `vignette("integration")`);
#'   its quadrature nodes do move.
#' @return An object of class `iclv_fit` (with `starts` and `degenerate`,
#'   see above); see [summary.iclv_fit()], [estimates()], [predict.iclv_fit()].
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' summary(fit)
iclv <- function(model, data, draws = 100, draw_type = "halton", start = NULL,
                 backend = c("auto", "cpu", "gpu"), control = iclv_control(), resume = NULL,
                 integration = c("simulation", "quadrature", "auto"), nodes = NULL,
                 adaptive = NULL) {
  call <- match.call()
  check_model(model)
  backend <- backend[1L]
  integration <- integration[1L]
  if (!inherits(control, "iclv_control"))
    stop("`control` must come from iclv_control()", call. = FALSE)
  start <- check_start(model, start)
  timings <- c(setup = 0, start = 0, estimation = 0, standard_errors = 0)

  t0 <- proc.time()[["elapsed"]]
  prepared <- prepare_data(model, data)
  n_indiv <- nrow(prepared$ind_cat)
  settings <- resolve_integration(integration, n_dims(model), nodes, adaptive, model)
  points <- integration_points(model, settings, draws, draw_type, control$seed, n_indiv)
  # With a cluster, every engine is built on its workers, one shard of the
  # people each, until iclv() returns (R/cluster.R); each resolves `backend`.
  session <- cluster_open(control$cluster, control$cluster_timeout, control$memory)
  on.exit(cluster_close(session), add = TRUE)
  backend <- if (is.null(session)) resolve_backend(backend, n_indiv, points$n_draws) else
    match_choice(backend, c("auto", "cpu", "gpu"), "backend")
  monitor <- new_memory_monitor(limits = control$memory)
  # With points of more than 16 MB, what the data checks, the centring
  # steps, the start and the optimizer leave behind is handed back at each
  # stage's end, so that it is not resident next to the points.
  release_memory <- function() release_for_points(n_indiv, points$n_draws, n_dims(model))
  release_memory()
  build <- function(points)
    engine_build(model, prepared, points, threads = control$threads,
                 memory = control$memory, backend = backend, monitor = monitor)
  # Adaptive points are centred on the posteriors at the parameters the next
  # stage starts from, in the engine (when there is one already); plain
  # points are built once.
  adapt_at <- function(theta_full, engine = NULL) {
    adapted <- adapt_points(points, theta_full, build, engine, tidy = release_memory)
    points <<- adapted$points
    adapted$engine
  }
  checkpoint <- if (!is.null(resume)) read_checkpoint(resume, model, n_indiv) else NULL
  map <- working_map(model)
  bounds <- working_bounds(model, map, control)
  # A worker lost: the state of the last iteration goes to the checkpoint.
  last_iteration <- NULL
  cluster_on_fault(session, function()
    fault_checkpoint(control$checkpoint, model, n_indiv, map, last_iteration, points$centre))
  engine <- if (!points$adaptive) {
    build(points)
  } else if (!is.null(checkpoint)) {
    # A resumed run goes on from the checkpoint's centres (when they fit
    # the points' dimensions).
    if (identical(dim(checkpoint$centre$chol)[-1L], rep(n_dims(model), 2L)))
      points$centre <- checkpoint$centre
    adapt_at(fill_theta(model, map, checkpoint$theta))
  } else {
    adapt_at(default_theta(model, prepared, start))
  }
  timings[["setup"]] <- proc.time()[["elapsed"]] - t0

  # The estimated integration error at a point, on the engine as it is.
  integration_at <- function(theta_full, loglik)
    integration_error_at(engine, model, prepared, settings, points, theta_full, loglik)
  t0 <- proc.time()[["elapsed"]]
  search <- NULL
  if (!is.null(checkpoint)) {
    theta_full <- fill_theta(model, map, checkpoint$theta)
    stages <- "resumed"
  } else {
    search <- start_search(model, prepared, engine, map, start, control, bounds,
                           integration = integration_at)
    theta_full <- search$theta_full
    stages <- search$stages
  }
  release_memory()
  timings[["start"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  on_iteration <- function(u, iteration, trace) {
    last_iteration <<- list(u = u, iteration = iteration, trace = trace)
    engine_memory_check(engine, "iteration", iteration)
    if (!is.null(control$checkpoint) && iteration %% control$checkpoint_every == 0L)
      write_checkpoint(control$checkpoint, model, n_indiv, map, u, iteration, trace,
                       points$centre)
  }
  optimize_from <- function(u0, iteration0, trace, round_control)
    run_optimizer(make_objective(engine, model, map), u0, round_control,
                  lower = bounds$lower, upper = bounds$upper, iteration0 = iteration0,
                  trace = trace, on_iteration = on_iteration)
  recentre <- function(u) engine <<- adapt_at(theta_from_working(model, map, u), engine)
  # One estimation (in rounds when adaptive); it keeps the centres its last
  # round used, so that a restart's estimates can be evaluated with them.
  estimate_from <- function(u0, iteration0, trace) {
    opt <- optimize_adaptive(optimize_from, u0, iteration0, trace, control, points$adaptive,
                             recentre)
    opt$centre <- points$centre
    opt$optimum <- evaluate_at(engine, model, map, opt$u)
    opt
  }
  u0 <- working_from_theta(model, map, theta_full)
  iteration0 <- checkpoint$iteration %||% 0L
  trace <- extend_trace(checkpoint$trace, control$maxit)
  opt <- estimate_from(u0, iteration0, trace)
  if (!is.null(control$checkpoint))
    write_checkpoint(control$checkpoint, model, n_indiv, map, opt$u, opt$iterations, opt$trace,
                     points$centre)
  timings[["estimation"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  release_memory()
  se <- if (opt$interrupted) NULL else
    standard_errors(engine, model, map, opt$optimum, control)
  timings[["standard_errors"]] <- proc.time()[["elapsed"]] - t0

  # A degenerate solution is not converged: restart from alternatives first.
  t0 <- proc.time()[["elapsed"]]
  release_memory()
  settled <- settle_fit(opt, se, search, model, prepared, function() engine, map, start,
                        control, bounds, estimate_from,
                        integration = function(opt)
                          integration_at(opt$optimum$theta_full, opt$optimum$loglik))
  opt <- settled$opt
  se <- settled$se
  if (points$adaptive && (opt$interrupted || !identical(opt$centre, points$centre))) {
    # A restart's estimates won, or an interrupt stopped a centring that moves
    # the engine's points in place: back to the centres the estimates were
    # made with.
    points$centre <- opt$centre
    engine <- engine_set_points(engine, points)
  }
  timings[["estimation"]] <- timings[["estimation"]] + proc.time()[["elapsed"]] - t0

  fit <- new_fit(model, prepared, engine, map, opt, se, control, timings, monitor,
                 draws = points, backend = backend, call = call, stages = stages,
                 integration = settings)
  fit$starts <- settled$starts
  fit$degenerate <- settled$findings
  if (!is.null(session)) fit <- cluster_fit(fit, session)
  warn_fit(fit)
  if (control$se == "bootstrap" && !opt$interrupted) {
    refit <- function(sample_data, start, replicate_control)
      iclv(model, sample_data, draws = draws, draw_type = draw_type, start = start,
           backend = backend, control = replicate_control, integration = integration,
           nodes = nodes, adaptive = adaptive)
    fit <- add_bootstrap(fit, data, refit, control)
  }
  fit
}

# The optimization, in rounds when the points are adaptive: the points are
# centred on the posteriors at each round's starting parameters (and kept
# there during the round, so the objective is smooth), and the optimizer runs
# to convergence (or for `control$adapt_every` iterations). The rounds end
# when re-centring no longer moves the optimum: a converged round that gained
# less than `control$adapt_tol` (or the optimizer's relative tolerance times
# the log-likelihood, if larger) in log-likelihood from its start (the gain is
# half the squared move of the estimates in standard-error units, so 1e-8
# means a move of about 1e-4 standard errors). Until the gain falls below
# `loose_gain`, rounds stop at a looser gradient tolerance: their optimum is
# moved by the next centring anyway. With plain points: one optimization.
# `recentre(u)` moves the points; `optimize_from(u, iteration0, trace,
# control)` runs the optimizer.
optimize_adaptive <- function(optimize_from, u0, iteration0, trace, control, adaptive,
                              recentre, loose_gain = 0.1) {
  if (!adaptive) return(optimize_from(u0, iteration0, trace, control))
  loose_control <- control
  loose_control$gradtol <- max(control$gradtol, 1e-4)
  loose <- TRUE
  iterations_left <- control$maxit
  rounds <- 0L
  repeat {
    rounds <- rounds + 1L
    # Ctrl-C while the points move between rounds: the last round's result
    # is the fit (and the checkpoint), as for an interrupt inside a round.
    stopped <- tryCatch({
      recentre(u0)
      FALSE
    }, interrupt = function(cond) TRUE)
    if (stopped && rounds == 1L) stop_interrupted("while centring the integration points")
    if (stopped) {
      opt$interrupted <- TRUE
      opt$code <- -1L
      opt$message <- "interrupted by the user"
      settled <- FALSE
      break
    }
    round_control <- if (loose) loose_control else control
    round_control$maxit <- min(control$adapt_every, iterations_left)
    opt <- optimize_from(u0, iteration0, trace, round_control)
    this_round <- seq_len(opt$trace$n)
    opt$trace$round[this_round[this_round > trace$n]] <- rounds
    iterations_left <- iterations_left - (opt$iterations - iteration0)
    # A round cut short by adapt_every (code 1) has not converged.
    converged <- opt$code == 0L
    gain <- opt$value0 - opt$value
    # A gain below the optimizer's own relative tolerance cannot be told
    # apart from its stopping noise.
    settled <- converged && !loose && rounds > 1L &&
      gain < max(control$adapt_tol, control$reltol * abs(opt$value))
    if (opt$interrupted || settled || iterations_left < 1L || rounds >= control$adapt_rounds)
      break
    if (converged && rounds > 1L && gain < loose_gain) loose <- FALSE
    u0 <- opt$u
    iteration0 <- opt$iterations
    trace <- extend_trace(opt$trace, iterations_left)
  }
  opt$adaptive_rounds <- rounds
  opt$adaptive_settled <- settled
  opt$adaptive_gain <- gain
  opt
}

# Bounds on the working scale (only for parameters on their natural scale).
working_bounds <- function(model, map, control) {
  n <- length(map$free)
  lower <- rep(-Inf, n)
  upper <- rep(Inf, n)
  transformed <- map$is_log
  for (set in map$sets) transformed[set$pos] <- TRUE
  for (side in c("lower", "upper")) {
    b <- control[[side]]
    if (is.null(b)) next
    check_parameter_names(model, names(b), side)
    pos <- match(names(b), map$names)
    if (any(transformed[pos]))
      stop("bounds are not supported on scales or monotone thresholds (",
           paste0("`", names(b)[transformed[pos]], "`", collapse = ", "),
           "): they are kept in their domain already", call. = FALSE)
    if (side == "lower") lower[pos] <- b else upper[pos] <- b
  }
  list(lower = lower, upper = upper)
}
