#' Simulate a data set from an ICLV model
#'
#' Draws a wide data set (one row per choice task) from a model built by
#' [iclv_model()], for given or default parameter values. Useful to check that
#' a model is identified and that estimation recovers known values.
#'
#' The data are generated as follows.
#' * **Covariates** (one value per individual): standard normal, except that a
#'   covariate whose name ends in `female`, `male` or `dummy`, or starts with
#'   `is_` or `has_`, is 0/1 with probability 1/2.
#' * **Latent variables** from the structural equations with
#'   \eqn{\eta \sim N(0, 1)}{eta ~ N(0, 1)}.
#' * **Indicators** from the measurement equations: ordered ones cut a latent
#'   response with normal (probit) or logistic (logit) errors at the
#'   thresholds; continuous ones are normal.
#' * **Choice attributes**: each data column that a utility term reads (and
#'   that is not a covariate) is drawn per task: uniform on (1, 5) when its
#'   name contains `price` or `cost`, uniform on (0, 1) otherwise.
#'   Availability columns, if the model has them, are all 1.
#' * **Random coefficients** (`random` in [iclv_model()]), one value per
#'   individual, from their distributions with
#'   \eqn{\xi \sim N(0, 1)}{xi ~ N(0, 1)}.
#' * **Choices** maximise utility plus Gumbel (type I extreme value) errors,
#'   that is, they follow the multinomial logit model (given the random
#'   coefficients: a mixed logit).
#'
#' `attributes` overrides any of these for a named column: a function of `n`
#' returning `n` values, where `n` is the number of individuals for a
#' covariate and the number of rows (`n_indiv * n_tasks`) for an attribute.
#'
#' Default parameter values (`theta = NULL`, or for the parameters `theta`
#' does not name): the start values of the parameter table, except that free
#' loadings are 1, free structural paths whose start is 0 are 0.5, and free
#' choice coefficients are drawn with the seed: constants (alternative
#' specific constants) \eqn{\pm U(0.2, 1)}{+-U(0.2, 1)}, coefficients of
#' terms that read a `price`/`cost` column \eqn{-U(0.5, 1.5)}{-U(0.5, 1.5)},
#' all others \eqn{+U(0.5, 1.5)}{+U(0.5, 1.5)}. A lognormal random
#' coefficient's location is the log of the size so drawn; free spreads of
#' random coefficients are 0.5 and their Cholesky entries 0.
#'
#' The random number generator is seeded with `seed` for the simulation only:
#' the caller's random number stream (`.Random.seed`) is restored afterwards.
#'
#' @param model An `iclv_model` from [iclv_model()].
#' @param theta Optional named numeric vector of true parameter values on the
#'   natural scale, named as in the parameter table (`iclv_parameters()`);
#'   parameters it does not name take the defaults described below. Fixed
#'   parameters keep their fixed value.
#' @param n_indiv Number of individuals (at least 2).
#' @param n_tasks Number of choice tasks per individual (ignored when the model
#'   has no choice part: then there is one row per individual).
#' @param attributes Optional named list of functions `function(n)` that
#'   generate a covariate or attribute column (see Details).
#' @param seed Seed for the random number generator.
#' @return A data frame with one row per task (one row per individual, without
#'   `task` and choice columns, when the model has no choice part) and columns
#'   for the id, the task number (`task`, or the model's `task` column),
#'   the choice (alternative names), the attributes, the availability columns
#'   (if any), the covariates and the indicators (covariates and indicators
#'   repeat on all rows of an individual). Attribute `"theta"` holds the true
#'   parameter values (named, one per row of the parameter table) and
#'   attribute `"latent"` the simulated latent variables (individuals x
#'   latent variables); with random coefficients, attribute `"random"` holds
#'   each individual's coefficients (individuals x random coefficients).
#' @export
#' @examples
#' model <- iclv_model(
#'   latent = "attitude =~ q1 + q2 + q3
#'             attitude ~ age",
#'   utility = list(A = ~ asc_A + b_price * price_A + b_att * attitude,
#'                  B = ~ b_price * price_B),
#'   choice = "choice", id = "id"
#' )
#' sim <- iclv_simulate(model, n_indiv = 50, n_tasks = 4)
#' head(sim)
#' attr(sim, "theta")
iclv_simulate <- function(model, theta = NULL, n_indiv = 500, n_tasks = 6,
                          attributes = NULL, seed = 1) {
  if (!inherits(model, "iclv_model")) {
    stop("`model` must be an iclv_model (from iclv_model())", call. = FALSE)
  }
  n_indiv <- check_whole(n_indiv, "`n_indiv`", min = 2)
  has_choice <- model_has_choice(model)
  n_tasks <- if (has_choice) check_whole(n_tasks, "`n_tasks`", min = 1) else 1L
  if (!is.null(attributes) &&
      (!is.list(attributes) || is.null(names(attributes)) ||
       !all(vapply(attributes, is.function, TRUE)))) {
    stop("`attributes` must be a named list of functions of n", call. = FALSE)
  }

  restore_random_seed <- save_random_seed()
  on.exit(restore_random_seed(), add = TRUE)
  set.seed(seed)

  theta_full <- simulation_theta(model, theta)

  covariates <- simulate_covariates(model, n_indiv, attributes)
  latent <- simulate_latent(model, theta_full, covariates, n_indiv)
  indicators <- simulate_indicators(model, theta_full, latent, n_indiv)

  person <- rep(seq_len(n_indiv), each = n_tasks)
  out <- data.frame(seq_len(n_indiv)[person])
  names(out) <- model$id
  if (has_choice) {
    out[[model$task %||% "task"]] <- rep(seq_len(n_tasks), times = n_indiv)
    out[[model$choice]] <- NA_character_
    n_rows <- nrow(out)
    for (column in choice_attribute_columns(model)) {
      out[[column]] <- simulate_attribute(column, n_rows, attributes)
    }
    for (column in availability_columns(model)) out[[column]] <- 1L
  }
  for (c in seq_along(model$covariates)) {
    out[[model$covariates[[c]]]] <- covariates[person, c]
  }
  for (k in seq_along(model$indicators)) {
    out[[model$indicators[[k]]]] <- indicators[[k]][person]
  }
  if (has_choice) {
    out[[model$choice]] <- simulate_choices(model, theta_full, out, latent[person, , drop = FALSE])
  }
  rownames(out) <- NULL
  colnames(latent) <- model_dims(model)
  attr(out, "theta") <- stats::setNames(theta_full, model$params$name)
  attr(out, "latent") <- latent[, seq_along(model$latent), drop = FALSE]
  n_random <- nrow(model_random(model))
  if (n_random) attr(out, "random") <- latent[, length(model$latent) + seq_len(n_random), drop = FALSE]
  out
}


# Saves the global random number state and returns a function that puts it
# back (or removes the state again when there was none).
save_random_seed <- function() {
  env <- globalenv()
  had_seed <- exists(".Random.seed", envir = env, inherits = FALSE)
  old_seed <- if (had_seed) get(".Random.seed", envir = env, inherits = FALSE) else NULL
  function() {
    if (had_seed) {
      assign(".Random.seed", old_seed, envir = env)
    } else if (exists(".Random.seed", envir = env, inherits = FALSE)) {
      rm(".Random.seed", envir = env)
    }
  }
}

# Full natural-scale theta: defaults (see ?iclv_simulate), then the values
# the user gave.
simulation_theta <- function(model, theta) {
  params <- model$params
  value <- as.double(params$start)
  free <- params$free
  value[free & params$type == "loading"] <- 1
  paths <- free & params$type %in% c("covariate_path", "lv_path") & value == 0
  value[paths] <- 0.5

  for (p in which(free & params$type == "choice")) {
    terms <- model$utility_terms[model$utility_terms$coef == params$name[[p]], , drop = FALSE]
    columns <- unlist(lapply(terms$value, function(v) if (is.null(v)) character(0) else all.vars(v)))
    is_constant <- all(vapply(terms$value, is.null, TRUE)) && all(is.na(terms$lv))
    value[[p]] <- if (any(grepl("price|cost", columns, ignore.case = TRUE))) {
      -stats::runif(1L, 0.5, 1.5)
    } else if (is_constant) {
      sample(c(-1, 1), 1L) * stats::runif(1L, 0.2, 1)
    } else {
      stats::runif(1L, 0.5, 1.5)
    }
  }

  random <- model_random(model)
  for (i in seq_len(nrow(random))) {
    p <- match(random$coef[[i]], params$name)
    if (random$distribution[[i]] %in% c("lognormal", "neg_lognormal")) value[[p]] <- log(abs(value[[p]]))
    value[free & params$type == "random_spread"] <- 0.5
  }

  if (!is.null(theta)) {
    if (!is.numeric(theta) || is.null(names(theta)) || anyNA(names(theta))) {
      stop("`theta` must be a named numeric vector (names from the parameter table)",
           call. = FALSE)
    }
    unknown <- setdiff(names(theta), params$name)
    if (length(unknown)) {
      stop("`theta` names unknown parameters: ", paste0("`", unknown, "`", collapse = ", "),
           call. = FALSE)
    }
    if (any(!is.finite(theta))) {
      stop("`theta` has non-finite values for ",
           paste0("`", names(theta)[!is.finite(theta)], "`", collapse = ", "), call. = FALSE)
    }
    index <- match(names(theta), params$name)
    changed_fixed <- !free[index] & theta != params$start[index]
    if (any(changed_fixed)) {
      stop("parameter", if (sum(changed_fixed) > 1L) "s " else " ",
           paste0("`", names(theta)[changed_fixed], "`", collapse = ", "),
           " fixed in the model cannot be given other values in `theta`", call. = FALSE)
    }
    value[index] <- as.double(theta)
  }
  scales <- params$type %in% scale_types
  if (any(value[scales] <= 0)) {
    stop("scale parameters must be positive: ",
         paste0("`", params$name[scales & value <= 0], "`", collapse = ", "), call. = FALSE)
  }
  value
}

looks_binary <- function(name) {
  grepl("(female|male|dummy)$", name, ignore.case = TRUE) ||
    grepl("^(is|has)_", name, ignore.case = TRUE)
}

generated_column <- function(column, n, attributes) {
  value <- attributes[[column]](n)
  if (!(is.numeric(value) || is.logical(value)) || length(value) != n) {
    stop("`attributes$", column, "` must return ", n, " numbers", call. = FALSE)
  }
  as.double(value)
}

simulate_covariates <- function(model, n_indiv, attributes) {
  covariates <- matrix(0, n_indiv, length(model$covariates),
                       dimnames = list(NULL, model$covariates))
  for (c in seq_along(model$covariates)) {
    name <- model$covariates[[c]]
    covariates[, c] <- if (!is.null(attributes[[name]])) {
      generated_column(name, n_indiv, attributes)
    } else if (looks_binary(name)) {
      stats::rbinom(n_indiv, 1L, 0.5)
    } else {
      stats::rnorm(n_indiv)
    }
  }
  covariates
}

# Structural equations, in the (topological) order of model$latent, then
# the random coefficients (R/random.R): one column per integration
# dimension, each person's value.
simulate_latent <- function(model, theta_full, covariates, n_indiv) {
  plan <- model$plan
  n_dim <- length(plan$lv_alpha)
  latent <- matrix(0, n_indiv, n_dim)
  xi <- matrix(stats::rnorm(n_indiv * n_dim), n_indiv, n_dim)
  kind <- plan$lv_kind %||% integer(n_dim)
  par <- function(index) if (index < 0L) NA_real_ else theta_full[[index + 1L]]
  for (l in seq_len(n_dim)) {
    alpha <- par(plan$lv_alpha[[l]])
    sigma <- par(plan$lv_sigma[[l]])
    value <- (if (is.na(alpha)) 0 else alpha) +
      (if (is.na(sigma)) 1 else sigma) * random_draw_map(kind[[l]], xi[, l])
    for (i in seq_csr(plan$lv_cov_ptr, l)) {
      value <- value + par(plan$lv_cov_par[[i]]) * covariates[, plan$lv_cov_col[[i]] + 1L]
    }
    for (i in seq_csr(plan$lv_path_ptr, l)) {
      value <- value + par(plan$lv_path_par[[i]]) * latent[, plan$lv_path_from[[i]] + 1L]
    }
    for (i in seq_csr(plan$lv_chol_ptr %||% integer(n_dim + 1L), l)) {
      value <- value + par(plan$lv_chol_par[[i]]) * xi[, plan$lv_chol_from[[i]] + 1L]
    }
    latent[, l] <- random_value_map(kind[[l]], value)
  }
  latent
}

# One vector per indicator: integer categories 1..J or continuous values.
simulate_indicators <- function(model, theta_full, latent, n_indiv) {
  plan <- model$plan
  par <- function(index) if (index < 0L) NA_real_ else theta_full[[index + 1L]]
  lapply(seq_along(model$indicators), function(k) {
    intercept <- par(plan$ind_intercept[[k]])
    scale <- par(plan$ind_scale[[k]])
    mean <- rep(if (is.na(intercept)) 0 else intercept, n_indiv)
    for (i in seq_csr(plan$ind_load_ptr, k)) {
      mean <- mean + par(plan$ind_load_par[[i]]) * latent[, plan$ind_load_lv[[i]] + 1L]
    }
    scale <- if (is.na(scale)) 1 else scale
    family <- model$family[[k]]
    if (family == "continuous") return(mean + scale * stats::rnorm(n_indiv))
    error <- if (family == "ordered_logit") stats::rlogis(n_indiv) else stats::rnorm(n_indiv)
    response <- mean + scale * error
    thr <- seq_csr(plan$ind_thr_ptr, k)
    tau <- plan$ind_thr_sign[thr] * theta_full[plan$ind_thr_par[thr] + 1L]
    if (is.unsorted(tau, strictly = TRUE)) {
      stop("the thresholds of indicator `", model$indicators[[k]],
           "` are not increasing: ", paste(format(tau), collapse = ", "), call. = FALSE)
    }
    1L + as.integer(rowSums(outer(response, tau, `>`)))
  })
}

# Data columns the utility terms read, other than covariates.
choice_attribute_columns <- function(model) {
  columns <- character(0)
  for (m in seq_len(nrow(model$utility_terms))) {
    for (v in term_variables(model, m)) {
      if (!is_model_constant(v, term_environment(model, m))) columns <- c(columns, v)
    }
  }
  setdiff(unique(columns), c(model$covariates, model$indicators, model$id))
}

simulate_attribute <- function(column, n_rows, attributes) {
  if (!is.null(attributes[[column]])) return(generated_column(column, n_rows, attributes))
  if (grepl("price|cost", column, ignore.case = TRUE)) {
    stats::runif(n_rows, 1, 5)
  } else {
    stats::runif(n_rows, 0, 1)
  }
}

# Multinomial logit choices: the alternative with the largest utility plus a
# Gumbel error. `latent` has one row per data row.
simulate_choices <- function(model, theta_full, data, latent) {
  n_rows <- nrow(data)
  avail <- availability_matrix(model, data)
  values <- utility_term_values(model, data, avail)
  terms <- model$utility_terms
  plan <- model$plan
  utility <- matrix(0, n_rows, length(model$alternatives))
  for (m in seq_len(nrow(terms))) {
    par <- plan$util_par[[m]]
    contribution <- (if (par >= 0L) theta_full[[par + 1L]] else 1) * values[, m]
    if (plan$util_lv[[m]] >= 0L) contribution <- contribution * latent[, plan$util_lv[[m]] + 1L]
    utility[, terms$alt[[m]]] <- utility[, terms$alt[[m]]] + contribution
  }
  gumbel <- -log(-log(matrix(stats::runif(length(utility)), n_rows)))
  chosen <- max.col(utility + gumbel, ties.method = "first")
  model$alternatives[chosen]
}
