#' Estimate an ICLV model by simulated maximum likelihood
#'
#' Builds the compiled engine once (data and draws laid out in memory), then
#' lets [stats::optim()] maximise the simulated log-likelihood with the
#' engine's analytic gradient ("BFGS", or "L-BFGS-B" when bounds are given),
#' and computes classical, robust and BHHH standard errors.
#'
#' @section Starting values:
#' Unless `start` names every free parameter, starting values are found in
#' stages: (1) the parameter table's defaults, with thresholds of ordered
#' indicators placed at the quantiles of their answer shares and continuous
#' indicators' intercepts and scales from their means and standard deviations;
#' (2) the latent part alone (structural and measurement equations: the same
#' engine with the choice part switched off); (3) the choice coefficients from
#' a plain multinomial logit in which each latent variable is replaced by its
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
#'   draws x latent variables of your own standard normal draws.
#' @param draw_type Type of draws, see [iclv_loglik()].
#' @param start Named starting values (natural scale) for some or all free
#'   parameters.
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
#'   `2 * nodes - 1`). Default: 20 nodes for 1-2 latent variables, 12 for 3;
#'   level 5-6 for sparse grids.
#' @param adaptive Move the draws or nodes to each person's posterior (see
#'   section "Integration")? `NULL` (the default) does so whenever the model
#'   has indicators, which is when plain points are inaccurate.
#' @return An object of class `iclv_fit`; see [summary.iclv_fit()],
#'   [estimates()], [predict.iclv_fit()].
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
  check_start(model, start)
  timings <- c(setup = 0, start = 0, estimation = 0, standard_errors = 0)

  t0 <- proc.time()[["elapsed"]]
  prepared <- prepare_data(model, data)
  n_indiv <- nrow(prepared$ind_cat)
  settings <- resolve_integration(integration, length(model$latent), nodes, adaptive, model)
  points <- integration_points(model, settings, draws, draw_type, control$seed, n_indiv)
  backend <- resolve_backend(backend, n_indiv, dim(points$base)[2L])
  monitor <- new_memory_monitor(limits = control$memory)
  build <- function(draws, weights)
    engine_build(model, prepared, draws, weights, threads = control$threads,
                 memory = control$memory, backend = backend, monitor = monitor)
  # Adaptive points are centred on the posteriors at the parameters the next
  # stage starts from; plain points are built once.
  adapt_at <- function(theta_full) {
    adapted <- adapt_points(points, theta_full, build)
    points <<- adapted$points
    adapted$engine
  }
  checkpoint <- if (!is.null(resume)) read_checkpoint(resume, model, n_indiv) else NULL
  map <- working_map(model)
  bounds <- working_bounds(model, map, control)
  engine <- if (!points$adaptive) {
    inputs <- engine_points(points)
    build(inputs$draws, inputs$weights)
  } else if (!is.null(checkpoint)) {
    # A resumed run goes on from the checkpoint's centres (when they fit
    # the points' dimensions).
    if (identical(dim(checkpoint$centre$chol)[-1L], rep(length(model$latent), 2L)))
      points$centre <- checkpoint$centre
    adapt_at(fill_theta(model, map, checkpoint$theta))
  } else {
    adapt_at(default_theta(model, prepared, start))
  }
  timings[["setup"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  if (!is.null(checkpoint)) {
    theta_full <- fill_theta(model, map, checkpoint$theta)
    stages <- "resumed"
  } else {
    theta_full <- starting_values(model, prepared, engine, map, start, control)
    stages <- attr(theta_full, "stages")
  }
  timings[["start"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  on_iteration <- function(u, iteration, trace) {
    engine_memory_check(engine, "iteration", iteration)
    if (!is.null(control$checkpoint) && iteration %% control$checkpoint_every == 0L)
      write_checkpoint(control$checkpoint, model, n_indiv, map, u, iteration, trace,
                       points$centre)
  }
  optimize_from <- function(u0, iteration0, trace, round_control)
    run_optimizer(make_objective(engine, model, map), u0, round_control,
                  lower = bounds$lower, upper = bounds$upper, iteration0 = iteration0,
                  trace = trace, on_iteration = on_iteration)
  u0 <- to_working(map, theta_full[map$free])
  iteration0 <- checkpoint$iteration %||% 0L
  trace <- extend_trace(checkpoint$trace, control$maxit)
  opt <- optimize_adaptive(optimize_from, u0, iteration0, trace, control, points$adaptive,
                           recentre = function(u) {
                             engine <<- adapt_at(fill_theta(model, map, to_natural(map, u)))
                           })
  if (!is.null(control$checkpoint))
    write_checkpoint(control$checkpoint, model, n_indiv, map, opt$u, opt$iterations, opt$trace,
                     points$centre)
  timings[["estimation"]] <- proc.time()[["elapsed"]] - t0

  t0 <- proc.time()[["elapsed"]]
  se <- if (opt$interrupted) NULL else
    standard_errors(engine, model, map, opt$u, control$hessian_step)
  timings[["standard_errors"]] <- proc.time()[["elapsed"]] - t0

  fit <- new_fit(model, prepared, engine, map, opt, se, control, timings, monitor,
                 draws = points, backend = backend, call = call, stages = stages,
                 integration = settings)
  warn_fit(fit)
  fit
}

# The optimization, in rounds when the points are adaptive: the points are
# centred on the posteriors at each round's starting parameters (and kept
# there during the round, so the objective is smooth), and the optimizer runs
# to convergence (or for `control$adapt_every` iterations). The rounds end
# when re-centring no longer moves the optimum: a converged round that gained
# less than `control$adapt_tol` in log-likelihood from its start (the gain is
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
    recentre(u0)
    round_control <- if (loose) loose_control else control
    round_control$maxit <- min(control$adapt_every, iterations_left)
    opt <- optimize_from(u0, iteration0, trace, round_control)
    this_round <- seq_len(opt$trace$n)
    opt$trace$round[this_round[this_round > trace$n]] <- rounds
    iterations_left <- iterations_left - (opt$iterations - iteration0)
    # A round cut short by adapt_every (code 1) has not converged.
    converged <- opt$code == 0L
    gain <- opt$value0 - opt$value
    settled <- converged && !loose && rounds > 1L && gain < control$adapt_tol
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

check_start <- function(model, start) {
  if (is.null(start)) return(invisible())
  if (!is.numeric(start) || is.null(names(start)))
    stop("`start` must be a named numeric vector (names as in iclv_parameters(model))",
         call. = FALSE)
  check_parameter_names(model, names(start), "start")
  bad <- !is.finite(start)
  if (any(bad))
    stop("`start` has non-finite values: ", paste0("`", names(start)[bad], "`", collapse = ", "),
         call. = FALSE)
  invisible()
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

# Stage-wise starting values (see ?iclv).
starting_values <- function(model, prepared, engine, map, start, control) {
  params <- model$params
  theta_full <- default_theta(model, prepared, start)
  user_rows <- match(names(start), params$name)
  stages <- "defaults"
  all_given <- length(user_rows) == sum(params$free)
  if (control$start_stages && !all_given) {
    latent_rows <- which(params$free & params$block != "choice")
    moving <- match(setdiff(latent_rows, user_rows), map$free)
    if (length(moving)) {
      u_full <- to_working(map, theta_full[map$free])
      objective <- make_objective(engine, model, map, choice = FALSE)
      sub <- sub_objective(objective, u_full, moving)
      stage_control <- control
      stage_control$trace <- FALSE
      stage_control$reltol <- max(control$reltol, 1e-8)
      stage_control$gradtol <- max(control$gradtol, 1e-5)
      opt <- run_optimizer(sub, u_full[moving], stage_control)
      if (isTRUE(opt$interrupted)) stop_interrupted("while finding starting values")
      u_full[moving] <- opt$u
      theta_full <- fill_theta(model, map, to_natural(map, u_full))
      stages <- c(stages, "latent")
    }
    if (length(prepared$choice)) {
      lv <- engine_predict(engine, theta_full, "lv")
      user_choice <- intersect(names(start), params$name[params$block == "choice"])
      # A person whose integral is not positive (a plain sparse grid's
      # negative weights) has no posterior mean: the prior mean, 0, stands in.
      lv_mean <- t(lv$mean)
      no_posterior <- which(!is.finite(rowSums(lv_mean)))
      if (length(no_posterior)) {
        warn_nonpositive(no_posterior, prepared$ids, "at the starting values")
        lv_mean[no_posterior, ] <- 0
      }
      mnl_theta <- mnl_start(model, prepared, theta_full, lv_mean)
      keep_user <- match(user_choice, params$name)
      mnl_theta[keep_user] <- theta_full[keep_user]
      theta_full <- mnl_theta
      stages <- c(stages, "mnl")
    }
  }
  structure(theta_full, stages = stages)
}

# The parameter table's defaults refined from the data (stage 1), with the
# user's starting values in place.
default_theta <- function(model, prepared, start) {
  params <- model$params
  theta_full <- data_start(model, prepared, params$start)
  theta_full[match(names(start), params$name)] <- start
  theta_full
}

# Re-raises a user interrupt that a stage's optimizer caught, so that Ctrl-C
# stops iclv() and not only the stage (no iteration has run: nothing to save).
stop_interrupted <- function(where) {
  stop(structure(class = c("interrupt", "condition"),
                 list(message = paste("iclv() was interrupted", where), call = NULL)))
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

process_rss_mb <- function() .Call(C_memmon_rss)$rss_mb
