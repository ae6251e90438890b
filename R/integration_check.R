# How accurate the integration of a fit is: the estimate every fit carries
# (printed by summary()), and check_integration() against a finer rule.

# A fit's own estimate of the integration error of its log-likelihood:
# list(error, kind, min_ess).
#   Simulation: the importance-sampling standard error. With draws z_r and
#   weights v_r = w_r p(y_n | eta_r) (w_r including the density ratio of
#   adaptive draws), person n's estimate of L_n has relative variance
#   1/ESS_n - 1/R, ESS_n = (sum v)^2 / sum v^2; the log-likelihood's standard
#   error is the root of their sum. For quasi-random draws (Halton, Sobol) the
#   true error is usually smaller: the figure is conservative.
#   Quadrature: the absolute difference to a rule with more nodes (4 more per
#   dimension for product rules, one level more for sparse grids), centred
#   as the fit's rule.
# `spend`: the fit's engine may spend its points' weights (new_fit() frees it
# next).
integration_error <- function(fit, spend = FALSE) {
  method <- fit$integration$method %||% "simulation"
  if (method == "simulation") {
    ess <- effective_sizes(fit_engine(fit), fit$theta_full, spend)
    variance <- pmax(1 / ess - 1 / fit$n_draws, 0)
    return(list(error = sqrt(sum(variance)), kind = "importance-sampling standard error",
                min_ess = min(ess)))
  }
  settings <- fit$integration
  finer <- settings$nodes + if (settings$type == "tensor") 4L else 1L
  if (!is.null(rule_size_problem(n_dims(fit$model), finer, settings$type)))
    return(list(error = NA_real_, kind = "not estimated (no finer rule within the limits)",
                min_ess = NA_real_))
  loglik_finer <- loglik_with_rule(fit, finer)
  list(error = abs(loglik_finer - fit$loglik),
       kind = if (settings$type == "tensor")
         sprintf("difference to %d nodes per latent variable", finer) else
           sprintf("difference to a level-%d sparse grid", finer),
       min_ess = NA_real_)
}

# The estimated integration error at `theta_full` (log-likelihood `loglik`)
# on an estimation's engine (its points as the estimation left them), before
# the fit exists: what iclv() checks for spikes and rough surfaces.
integration_error_at <- function(engine, model, prepared, settings, points, theta_full, loglik) {
  integration_error(list(
    model = model, prepared = prepared, integration = settings, engine = engine,
    theta_full = theta_full, loglik = loglik, n_draws = points$n_draws,
    n_indiv = nrow(prepared$ind_cat), centre = points$centre[c("mean", "chol")],
    threads = engine_info(engine)$n_threads))
}

# Each person's effective sample size (sum v)^2 / sum v^2 of the weights
# v_r = w_r p(y_n | eta_r) of the engine's points at theta_full (measured
# by the engine, without a people x points matrix in R). With `spend`, an
# engine of moved points measures them in the place of its points' weights,
# which are then spent (for an engine freed next).
effective_sizes <- function(engine, theta_full, spend = FALSE) {
  if (is_sharded(engine)) return(sharded_point_ess(engine, theta_full, spend))
  .Call(C_engine_point_ess, engine, as.double(theta_full), isTRUE(spend))
}

# The log-likelihood at the estimates under the fit's quadrature rule with
# `nodes` instead, centred as the fit's rule.
loglik_with_rule <- function(fit, nodes) {
  settings <- fit$integration
  settings$nodes <- nodes
  check_rule_size(n_dims(fit$model), nodes, settings$type)
  points <- points_from_recipe(list(settings = settings), fit$n_indiv, n_dims(fit$model))
  points$centre <- fit$centre
  loglik_with_points(fit, points)
}

loglik_with_points <- function(fit, points) {
  engine <- engine_build(fit$model, fit$prepared, points, threads = fit$threads)
  on.exit(engine_release(engine))
  engine_eval(engine, unname(fit$theta_full), gradient = FALSE)$loglik
}

#' Check the accuracy of the integration at the estimates
#'
#' Recomputes the log-likelihood at the estimates with a finer integration
#' rule and reports the difference. For quadrature, the finer rule has twice
#' the nodes (Gauss-Hermite nodes per latent variable, or twice the accuracy
#' level of a sparse grid); for simulation, four times the draws (Halton
#' draws replace your own draws). An adaptive fit's finer rule is centred on
#' the same posteriors. For simulation, the importance-sampling standard
#' error of the fit's log-likelihood is reported as well (see `summary()`).
#' A difference well below 0.1 means the integration error does not matter
#' for inference; otherwise re-estimate with more nodes or draws, or with
#' `adaptive = TRUE`.
#'
#' @param fit An `iclv_fit` from [iclv()].
#' @param nodes The nodes (quadrature) or draws (simulation) of the finer
#'   rule, instead of the default.
#' @return A one-row data frame: `method` (`"quadrature"` or
#'   `"simulation"`), `adaptive`, `nodes` (nodes or draws of the fit),
#'   `nodes_finer`, `loglik` (of the fit), `loglik_finer`, `difference`
#'   (`loglik_finer - loglik`) and `std_error` (the importance-sampling
#'   standard error of `loglik`; `NA` for quadrature).
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 100, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 25, control = iclv_control(threads = 1))
#' check_integration(fit)
check_integration <- function(fit, nodes = NULL) {
  if (!inherits(fit, "iclv_fit"))
    stop("`fit` must be an iclv_fit (from iclv())", call. = FALSE)
  n_dim <- n_dims(fit$model)
  integration <- fit$integration
  method <- integration$method %||% "simulation"
  adaptive <- isTRUE(integration$adaptive)
  std_error <- NA_real_
  if (method == "quadrature") {
    base <- integration$nodes
    finer <- if (is.null(nodes)) 2L * base else check_whole(nodes, "`nodes`")
    loglik_finer <- loglik_with_rule(fit, finer)
  } else {
    base <- fit$n_draws
    finer <- if (is.null(nodes)) 4L * base else check_whole(nodes, "`nodes`")
    draw_type <- fit$draw_recipe$draw_type %||% "halton"
    seed <- fit$draw_recipe$seed %||% 1L
    points <- points_from_recipe(list(n_draws = finer, draw_type = draw_type, seed = seed),
                                 fit$n_indiv, n_dim, adaptive = adaptive)
    points$centre <- fit$centre
    loglik_finer <- loglik_with_points(fit, points)
    std_error <- integration_error(fit)$error
  }
  data.frame(method = method, adaptive = adaptive, nodes = base, nodes_finer = finer,
             loglik = fit$loglik, loglik_finer = loglik_finer,
             difference = loglik_finer - fit$loglik, std_error = std_error,
             stringsAsFactors = FALSE)
}
