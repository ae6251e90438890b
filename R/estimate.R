#' Estimate an ICLV model by simulated maximum likelihood
#'
#' Builds the compiled engine once (data and draws laid out in memory), then
#' lets [stats::optim()] maximise the simulated log-likelihood with the
#' engine's analytic gradient ("BFGS", or "L-BFGS-B" when bounds are given),
#' and computes classical, robust and BHHH standard errors.
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
#' @section Degenerate solutions, multi-start and convergence codes:
#' At the end of an estimation iclv() checks for a degenerate solution: a
#' latent variable whose scale has collapsed (its reference indicator no
#' longer measured by it while the free loadings explode), an indicator
#' explained without error, thresholds or choice coefficients running off, or
#' a Hessian that is not negative definite. When the optimizer stopped on its
#' tolerance at such a point, iclv() estimates again from alternative starts
#' (the other starts of `iclv_control(starts =)`, the staged start when
#' `start` was given, the latent stage in the model's own normalisation, the
#' data-driven defaults, random starts; three at most) and keeps the best
#' log-likelihood, a regular solution winning ties within 0.01. If the best is
#' still degenerate it is reported as such: `fit$degenerate` lists what was
#' found and what to do, and print() and summary() say so. `fit$starts` is a
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
#'   variables, simulation above). The summary says which was used;
#'   [check_integration()] compares with a finer rule.
#' @param nodes Quadrature nodes per latent variable (product rules), or the
#'   accuracy level of a sparse grid (exact for polynomials of total degree
#'   `2 * nodes - 1`). Default: 20 nodes for 1-2 latent variables, 12 for 3;
#'   level 5-6 for sparse grids.
#' @param adaptive Adaptive quadrature: the nodes are centred and scaled at
#'   each person's posterior mean and standard deviation, re-centred at the
#'   estimates and estimated again until the log-likelihood settles (as in
#'   GLLAMM), so that 5-10 nodes per latent variable are enough even for
#'   sharply peaked posteriors.
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
                 adaptive = FALSE) {
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
  settings <- resolve_integration(integration, length(model$latent), nodes, adaptive)
  points <- integration_points(model, settings, draws, draw_type, control$seed, n_indiv)
  backend <- resolve_backend(backend, n_indiv, dim(points$draws)[2L])
  build <- function(draws, weights, monitor = NULL)
    engine_build(model, prepared, draws, weights, threads = control$threads,
                 memory = control$memory, backend = backend, monitor = monitor)
  engine <- build(points$draws, points$weights)
  monitor <- attr(engine, "monitor")
  map <- working_map(model)
  bounds <- working_bounds(model, map, control)
  timings[["setup"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  checkpoint <- if (!is.null(resume)) read_checkpoint(resume, model, n_indiv) else NULL
  search <- NULL
  if (!is.null(checkpoint)) {
    theta_full <- fill_theta(model, map, checkpoint$theta)
    stages <- "resumed"
  } else {
    search <- start_search(model, prepared, engine, map, start, control, bounds)
    theta_full <- search$theta_full
    stages <- search$stages
  }
  timings[["start"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  on_iteration <- function(u, iteration, trace) {
    engine_memory_check(engine, "iteration", iteration)
    if (!is.null(control$checkpoint) && iteration %% control$checkpoint_every == 0L)
      write_checkpoint(control$checkpoint, model, n_indiv, map, u, iteration, trace)
  }
  optimize_from <- function(u0, iteration0, trace)
    run_optimizer(make_objective(engine, model, map), u0, control, lower = bounds$lower,
                  upper = bounds$upper, iteration0 = iteration0, trace = trace,
                  on_iteration = on_iteration)
  u0 <- to_working(map, theta_full[map$free])
  iteration0 <- checkpoint$iteration %||% 0L
  trace <- extend_trace(checkpoint$trace, control$maxit)
  if (!settings$adaptive) {
    opt <- optimize_from(u0, iteration0, trace)
  } else {
    # Adaptive quadrature: centre and scale the nodes at each person's
    # posterior, estimate, and repeat at the new estimates until the
    # log-likelihood settles (the nodes move with the parameters).
    centre <- NULL
    previous <- Inf
    for (round in seq_len(adaptive_rounds)) {
      built <- integration_engine(model, prepared, settings, fill_theta(model, map,
                                  to_natural(map, u0)), threads = control$threads,
                                  centre = centre, memory = control$memory,
                                  backend = backend, monitor = monitor)
      engine <- built$engine
      points$draws <- built$draws
      points$weights <- built$weights
      points$recipe <- NULL
      centre <- built$posterior
      opt <- optimize_from(u0, iteration0, trace)
      if (opt$interrupted || abs(opt$value - previous) < 1e-6) break
      previous <- opt$value
      u0 <- opt$u
      iteration0 <- opt$iterations
      trace <- extend_trace(opt$trace, control$maxit)
    }
  }
  if (!is.null(control$checkpoint))
    write_checkpoint(control$checkpoint, model, n_indiv, map, opt$u, opt$iterations, opt$trace)
  timings[["estimation"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  se <- if (opt$interrupted) NULL else
    standard_errors(engine, model, map, opt$u, control$hessian_step)
  timings[["standard_errors"]] <- proc.time()[["elapsed"]] - t0

  # A degenerate solution is not converged: restart from alternatives first.
  t0 <- proc.time()[["elapsed"]]
  settled <- settle_fit(opt, se, search, model, prepared, engine, map, start, control, bounds,
                        optimize_from)
  opt <- settled$opt
  se <- settled$se
  timings[["estimation"]] <- timings[["estimation"]] + proc.time()[["elapsed"]] - t0

  fit <- new_fit(model, prepared, engine, map, opt, se, control, timings, monitor,
                 draws = points, backend = backend, call = call, stages = stages,
                 integration = settings)
  fit$starts <- settled$starts
  fit$degenerate <- settled$findings
  warn_fit(fit)
  fit
}

# Rounds of adaptation (each a full optimization from the last estimates).
adaptive_rounds <- 5L

# The integration points the engine is built on first: simulation draws, or
# a quadrature rule (adaptive rules start from the plain rule, centred at the
# prior).
integration_points <- function(model, settings, draws, draw_type, seed, n_indiv) {
  n_dim <- length(model$latent)
  if (settings$method == "simulation") {
    drawn <- resolve_draws(draws, draw_type, seed, n_indiv, n_dim)
    # Generated draws are kept as their recipe (a fit stays small when saved);
    # the user's own draws are kept as they are.
    recipe <- if (drawn$type == "user") NULL else
      list(n_draws = dim(drawn$draws)[2L], draw_type = drawn$type, seed = seed)
    return(list(draws = drawn$draws, weights = NULL, type = drawn$type, recipe = recipe))
  }
  rule <- quadrature_rule(n_dim, settings$nodes, settings$type)
  list(draws = quadrature_draws(rule, n_indiv), weights = rule$weights,
       type = sprintf("%sGauss-Hermite %s", if (settings$adaptive) "adaptive " else "",
                      if (settings$type == "tensor") "product rule" else "sparse grid"),
       recipe = if (settings$adaptive) NULL else list(settings = settings))
}

# The points of a fit again, from their recipe: the same draws (same type and
# seed) or the same quadrature rule.
points_from_recipe <- function(recipe, n_indiv, n_dim) {
  if (!is.null(recipe$settings)) {
    rule <- quadrature_rule(n_dim, recipe$settings$nodes, recipe$settings$type)
    return(list(draws = quadrature_draws(rule, n_indiv), weights = rule$weights))
  }
  drawn <- resolve_draws(recipe$n_draws, recipe$draw_type, recipe$seed, n_indiv, n_dim)
  list(draws = drawn$draws, weights = NULL)
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

process_rss_mb <- function() .Call(C_memmon_rss)$rss_mb
