# Predictions of a fit: choice probabilities and market shares for the
# estimation data or a scenario (newdata), with delta-method or simulated
# intervals, and each person's latent variables.

#' Predictions from a fitted ICLV model
#'
#' Choice probabilities for each choice task (row) of `newdata`, integrated
#' over the latent variables with the fit's integration (its type and number
#' of draws or nodes, spread over the prior: these are the probabilities of
#' a person described by the data, before their answers and choices are
#' seen), or the market shares they imply, or each person's latent
#' variables.
#'
#' `newdata` is checked like estimation data (a missing column, a bad value
#' or an unknown choice label is an error that names it). It needs the id
#' and the columns of the utilities and structural covariates; the choice
#' column and the indicators may be left out (they do not enter prior
#' probabilities). It may describe a single person.
#'
#' Intervals: `"delta"` by the delta method with the fit's covariance
#' matrix and the analytic Jacobian of the probabilities and shares with
#' respect to the free parameters (from the engine's gradient: each task's
#' probability of each alternative is the likelihood of a one-task person who
#' chose it; utilities, which involve no simulation, by central
#' differences); `"simulation"` by Krinsky and Robb's method: `n_sim`
#' parameter vectors drawn from the normal distribution of the estimates
#' (seeded by `seed`, so the intervals are reproducible), the predictions at
#' each, and their `(1 - level) / 2` and `(1 + level) / 2` quantiles.
#'
#' @param object An `iclv_fit` from [iclv()].
#' @param newdata A data frame in the wide format of [iclv()]: one row per
#'   choice task. `NULL` (the default) predicts for the estimation data.
#' @param type `"prob"`: one row per row of the data, in its order, with
#'   `id`, `row` and a column of probabilities per alternative. `"share"`:
#'   the sample-enumeration market share of each alternative, the mean of
#'   the probabilities over the tasks, one row per alternative, with the
#'   observed shares where the data hold choices. `"lv"`: one row per
#'   individual, in sorted id order, with each person's posterior mean and
#'   standard deviation of every latent variable given their answers and
#'   choices; for `newdata`, given the answers and choices it holds (with
#'   neither, the prior: the structural equations at the person's
#'   covariates), integrated with the fit's points spread over the prior.
#'   Random coefficients follow the latent variables: each person's
#'   conditional mean and standard deviation of the coefficient given their
#'   answers and choices.
#'   `"utility"`: like `"prob"`, the systematic utility of each alternative
#'   (`NA` where unavailable) with the latent variables and random
#'   coefficients at their prior means, which is the utility averaged over
#'   their distribution.
#' @param interval `"none"`, `"delta"` or `"simulation"` (see Details).
#' @param level Confidence level of the intervals.
#' @param n_sim Parameter vectors drawn for `interval = "simulation"`.
#' @param seed Seed of those draws (the session's random number stream is
#'   left as it was).
#' @param ... Not used: any argument given here is refused with an error
#'   that names it.
#' @return A data frame. With intervals, `"prob"` adds the columns
#'   `<alternative>_conf.low` and `<alternative>_conf.high`, and `"share"`
#'   the columns `conf.low` and `conf.high` (and `std.error` for the delta
#'   method).
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' head(predict(fit))
#' # A scenario: alternative A 10% dearer.
#' dearer <- transform(data, price_A = 1.1 * price_A)
#' predict(fit, dearer, type = "share", interval = "delta")
#' head(predict(fit, type = "lv"))
predict.iclv_fit <- function(object, newdata = NULL, type = c("prob", "share", "lv", "utility"),
                             interval = c("none", "delta", "simulation"), level = 0.95,
                             n_sim = 200L, seed = 1L, ...) {
  refuse_unused_arguments(..., .fun = "predict()")
  if (!is.null(newdata) && !is.data.frame(newdata))
    stop("predict(): `newdata` must be a data frame, not ", class(newdata)[1L],
         if (is.character(newdata)) "; give the type by name, e.g. predict(fit, type = \"lv\")",
         call. = FALSE)
  if (!is.character(type))
    stop("predict(): `type` must be \"prob\", \"share\", \"lv\" or \"utility\", not ",
         class(type)[1L],
         call. = FALSE)
  type <- match.arg(type)
  interval <- match.arg(interval)
  check_level(level, "predict()")
  if (type == "lv") return(predict_latent(object, newdata, interval))
  if (!object$n_tasks) stop("predict(): the model has no choice part", call. = FALSE)
  setup <- prediction_setup(object, newdata)
  statistic_at <- if (type == "utility") expected_utilities(object, setup) else
    function(theta_full) {
      prob <- t(engine_predict(setup$engine, theta_full, "prob"))
      if (type == "share") colMeans(prob) else as.vector(prob)
    }
  estimate <- statistic_at(object$theta_full)
  jacobian <- if (interval == "delta" && type != "utility")
    prediction_jacobian(object, setup, type)
  bounds <- prediction_bounds(object, statistic_at, estimate, interval, level, n_sim, seed,
                              jacobian)
  if (type == "share") share_table(object$model, setup, estimate, bounds)
  else probability_table(object$model, setup$prepared, estimate, bounds)
}

# A function of theta_full giving the systematic utilities (tasks x
# alternatives, as a vector; NA where unavailable) with the latent variables
# at their prior means: utilities are linear in the latent variables, so
# these are the utilities averaged over the latent variables' distribution.
expected_utilities <- function(fit, setup) {
  model <- fit$model
  prepared <- setup$prepared
  terms <- model$utility_terms
  task_indiv <- rep.int(seq_along(prepared$ids), diff(prepared$task_ptr))
  engine <- prior_engine(fit, prepared, setup$points)
  function(theta_full) {
    lv_mean <- t(engine_predict(engine, theta_full, "lv")$mean)
    utility <- matrix(0, length(task_indiv), length(model$alternatives))
    for (m in seq_len(nrow(terms))) {
      # A random coefficient's term: coefficient 1 times its prior mean.
      par <- model$plan$util_par[[m]]
      value <- (if (par >= 0L) theta_full[[par + 1L]] else 1) * prepared$term_value[, m]
      dim <- model$plan$util_lv[[m]]
      if (dim >= 0L) value <- value * lv_mean[task_indiv, dim + 1L]
      utility[, terms$alt[[m]]] <- utility[, terms$alt[[m]]] + value
    }
    utility[prepared$avail == 0L] <- NA
    as.vector(utility)
  }
}

# An engine whose posteriors are the priors: the individuals of `prepared`
# without answers or choices.
prior_engine <- function(fit, prepared, points) {
  prepared <- without_choices(prepared, fit$model)
  prepared$ind_cat[] <- 0L
  prepared$ind_value[] <- NaN
  engine_build(fit$model, prepared, plain_points(points), threads = fit$threads)
}

# Each person's posterior moments of the latent variables: for the
# estimation data with the fit's (adaptive) points; for new data with plain
# points, given the answers and choices the data hold (none: the prior).
predict_latent <- function(fit, newdata, interval) {
  if (interval != "none")
    stop("predict(type = \"lv\") has no intervals; use interval = \"none\"", call. = FALSE)
  if (is.null(newdata))
    return(latent_table(fit, fit$prepared$ids,
                        engine_predict(fit_engine(fit), fit$theta_full, "lv")))
  model <- fit$model
  prepared <- if (is.null(model$choice) || model$choice %in% names(newdata)) {
    prepare_data(model, scenario_data(model, newdata), min_indiv = 1L)
  } else {
    # Without choices the utilities' columns are not needed either.
    without_choices(prepare_data(latent_part(model), scenario_data(model, newdata),
                                 min_indiv = 1L), model)
  }
  points <- scenario_points(fit, nrow(prepared$ind_cat))
  engine <- engine_build(model, prepared, points, threads = fit$threads)
  on.exit(engine_release(engine))
  latent_table(fit, prepared$ids, engine_predict(engine, fit$theta_full, "lv"))
}

# Posterior moments (dimensions x individuals: latent variables, then random
# coefficients) as a data frame.
latent_table <- function(fit, ids, lv) {
  mean <- t(lv$mean)
  sd <- t(lv$sd)
  latent <- model_dims(fit$model)
  colnames(mean) <- latent
  colnames(sd) <- paste0(latent, "_sd")
  data.frame(id = ids, mean, sd, check.names = FALSE)
}

# The model without its choice part, for preparing data that hold no
# choices.
latent_part <- function(model) {
  model[c("alternatives", "utility_terms", "choice", "availability", "task")] <- list(NULL)
  model
}

# Prepared data with no choice tasks, shaped for the full model's engine, so
# that its posteriors rest on the answers alone (or, without answers, are the
# prior).
without_choices <- function(prepared, model) {
  prepared$task_ptr[] <- 0L
  prepared$rows <- integer(0)
  prepared$choice <- integer(0)
  prepared$avail <- matrix(0L, 0L, length(model$alternatives),
                           dimnames = list(NULL, model$alternatives))
  prepared$term_value <- matrix(0, 0L, NROW(model$utility_terms))
  prepared
}

# The prepared data, the plain points and an engine on them (prior
# averages) for the estimation data or a scenario; `observed` tells whether
# the data hold real choices.
prediction_setup <- function(fit, newdata) {
  if (is.null(newdata)) {
    return(list(prepared = fit$prepared, points = plain_points(fit_points(fit)),
                engine = fit_engine(fit, plain = TRUE), observed = TRUE))
  }
  model <- fit$model
  prepared <- prepare_data(model, scenario_data(model, newdata), min_indiv = 1L)
  points <- scenario_points(fit, nrow(prepared$ind_cat))
  list(prepared = prepared, points = points, observed = model$choice %in% names(newdata),
       engine = engine_build(model, prepared, points,
                             threads = fit$threads))
}

# Scenario data completed for prepare_data(): indicators left out become
# missing answers, and a missing choice column a placeholder (the first
# available alternative of each task), which prior probabilities do not use.
scenario_data <- function(model, newdata) {
  for (indicator in setdiff(model$indicators, names(newdata))) newdata[[indicator]] <- NA_real_
  if (is.null(model$choice) || model$choice %in% names(newdata)) return(newdata)
  # Bad availability columns are reported by prepare_data(), with the rows.
  avail <- tryCatch(availability_matrix(model, newdata), error = function(e) NULL)
  first <- if (is.null(avail)) rep(1L, nrow(newdata)) else max.col(avail, ties.method = "first")
  newdata[[model$choice]] <- if (is.null(model$choice_codes)) model$alternatives[first]
                             else unname(model$choice_codes[model$alternatives[first]])
  newdata
}

# Plain base points for the individuals of a scenario, made as the fit's
# were: from its recipe, or, for the user's own draws, Halton draws of the
# same number.
scenario_points <- function(fit, n_indiv) {
  n_dim <- n_dims(fit$model)
  if (!is.null(fit$draw_recipe))
    return(points_from_recipe(fit$draw_recipe, n_indiv, n_dim,
                              adaptive = isTRUE(fit$integration$adaptive)))
  recipe <- list(n_draws = fit$n_draws, draw_type = "halton", seed = 1L)
  points_from_recipe(recipe, n_indiv, n_dim)
}

# The analytic Jacobian of the probabilities (type "prob") or of the shares,
# their means over the tasks (type "share").
prediction_jacobian <- function(fit, setup, type) {
  jacobian <- probability_jacobian(fit, setup$prepared, setup$points)
  if (type == "prob") return(jacobian)
  n_tasks <- length(setup$prepared$choice)
  alternative <- rep(seq_along(fit$model$alternatives), each = n_tasks)
  rowsum(jacobian, alternative, reorder = TRUE) / n_tasks
}

# Lower and upper bounds (and delta-method standard errors) of a vector of
# predictions, or NULL without intervals. The delta method uses `jacobian`
# (predictions x free parameters) when given, else central differences of
# statistic_at (the utilities, which involve no simulation).
prediction_bounds <- function(fit, statistic_at, estimate, interval, level, n_sim, seed,
                              jacobian = NULL) {
  if (interval == "none") return(NULL)
  vcov_free <- vcov(fit)
  if (anyNA(vcov_free))
    stop("predict(): the fit has no standard errors (see summary(fit)), so no intervals",
         call. = FALSE)
  if (interval == "delta") {
    if (is.null(jacobian))
      jacobian <- numerical_jacobian(statistic_at, fit$theta_full, names(coef(fit)))
    std_error <- delta_std_errors(jacobian, vcov_free)
    q <- stats::qnorm(1 - (1 - level) / 2)
    return(list(low = estimate - q * std_error, high = estimate + q * std_error,
                std_error = std_error))
  }
  draws <- parameter_draws(coef(fit), vcov_free, n_sim, seed)
  values <- vapply(seq_len(nrow(draws)), function(s)
    statistic_at(fill_theta(fit$model, fit$map, draws[s, ])), estimate)
  values <- matrix(values, nrow = length(estimate))
  usable <- colSums(!is.finite(values)) == 0L
  if (!all(usable))
    warning(sum(!usable), " of ", n_sim, " parameter draws give predictions that are not ",
            "finite (outside the parameters' admissible range) and are left out", call. = FALSE)
  probs <- c((1 - level) / 2, (1 + level) / 2)
  limits <- apply(values[, usable, drop = FALSE], 1L, stats::quantile, probs = probs,
                  names = FALSE)
  list(low = limits[1L, ], high = limits[2L, ])
}

# n_sim draws (rows) of the free parameters from N(estimate, vcov), seeded
# without disturbing the session's random numbers. The symmetric square root
# copes with a covariance matrix that is only semi-definite.
parameter_draws <- function(estimate, vcov_free, n_sim, seed) {
  if (!is.numeric(n_sim) || length(n_sim) != 1L || !is.finite(n_sim) || n_sim < 2)
    stop("`n_sim` must be one number of at least 2", call. = FALSE)
  n_sim <- as.integer(n_sim)
  eig <- eigen(vcov_free, symmetric = TRUE)
  root <- eig$vectors %*% (sqrt(pmax(eig$values, 0)) * t(eig$vectors))
  restore_random_seed <- save_random_seed()
  on.exit(restore_random_seed(), add = TRUE)
  set.seed(seed)
  normal <- matrix(stats::rnorm(n_sim * length(estimate)), n_sim)
  out <- normal %*% root + rep(estimate, each = n_sim)
  colnames(out) <- names(estimate)
  out
}

# Probabilities (tasks x alternatives in the prepared order, as a vector) as
# a data frame in the data's row order.
probability_table <- function(model, prepared, estimate, bounds) {
  alternatives <- model$alternatives
  as_matrix <- function(values) matrix(values, ncol = length(alternatives),
                                       dimnames = list(NULL, alternatives))
  prob <- as_matrix(estimate)
  if (!is.null(bounds)) {
    low <- as_matrix(bounds$low)
    high <- as_matrix(bounds$high)
    colnames(low) <- paste0(alternatives, "_conf.low")
    colnames(high) <- paste0(alternatives, "_conf.high")
    prob <- cbind(prob, low, high)
  }
  task_indiv <- rep.int(seq_along(prepared$ids), diff(prepared$task_ptr))
  out <- data.frame(id = prepared$ids[task_indiv], row = prepared$rows, prob,
                    check.names = FALSE)[order(prepared$rows), , drop = FALSE]
  rownames(out) <- NULL
  out
}

# Shares as a data frame, one row per alternative.
share_table <- function(model, setup, estimate, bounds) {
  out <- data.frame(alternative = model$alternatives, share = estimate,
                    stringsAsFactors = FALSE)
  if (setup$observed) {
    n_alt <- length(model$alternatives)
    out$observed <- tabulate(setup$prepared$choice + 1L, n_alt) / length(setup$prepared$choice)
  }
  if (!is.null(bounds$std_error)) out$std.error <- bounds$std_error
  if (!is.null(bounds)) {
    out$conf.low <- bounds$low
    out$conf.high <- bounds$high
  }
  out
}
