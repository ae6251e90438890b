# Functions of the estimates with delta-method standard errors:
# delta_method() for any smooth expression of the parameters, wtp() for the
# ratios of attribute coefficients to the cost coefficient.

#' Delta-method inference for functions of the parameters
#'
#' Evaluates smooth R expressions of the parameters at the estimates and
#' gives their standard errors by the delta method: the gradient of each
#' expression with respect to the free parameters, by central differences
#' (with one Richardson step), sandwiched by the fit's covariance matrix.
#' Fixed parameters may appear in an expression; they carry no variance.
#'
#' @param fit An `iclv_fit` from [iclv()].
#' @param expressions A character vector of R expressions, named by what
#'   each computes (an unnamed expression is named by its own text).
#'   Parameters are referred to by name; names that are not syntactic R
#'   names (lavaan's `attitude=~q1`, `q1|t1`) go in backquotes.
#' @param level Confidence level of the intervals.
#' @param type Covariance matrix used: `"robust"`, `"classical"` or
#'   `"bhhh"` (see [vcov.iclv_fit()]); by default the fit's own.
#' @return A data frame with one row per expression and broom's columns:
#'   `term`, `estimate`, `std.error`, `statistic` (z), `p.value`,
#'   `conf.low`, `conf.high`, and `expression`.
#' @seealso [wtp()]
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' delta_method(fit, c(wtp_att = "-b_att / b_price",
#'                     loading_ratio = "`attitude=~q2` / `attitude=~q3`"))
delta_method <- function(fit, expressions, level = 0.95, type = fit$se_type) {
  check_fit(fit, "delta_method()")
  expressions <- named_expressions(expressions)
  check_level(level, "delta_method()")
  vcov_free <- vcov(fit, type = type)
  theta_full <- fit$theta_full
  rows <- lapply(names(expressions), function(term) {
    expression <- parse_parameter_expression(expressions[[term]], term, names(theta_full))
    value_at <- function(theta) evaluate_parameter_expression(expression, theta, term)
    estimate <- value_at(theta_full)
    gradient <- numerical_jacobian(value_at, theta_full, names(coef(fit)))
    c(estimate = estimate, std.error = delta_std_errors(gradient, vcov_free))
  })
  estimate <- vapply(rows, `[[`, 0, "estimate")
  std_error <- vapply(rows, `[[`, 0, "std.error")
  wald_table(names(expressions), estimate, std_error, level, unname(expressions))
}

#' Willingness to pay
#'
#' The ratio of each attribute coefficient to the cost coefficient,
#' `-b_attribute / b_cost`, with delta-method standard errors
#' ([delta_method()]): what a unit of the attribute is worth in units of the
#' cost variable.
#'
#' @inheritParams delta_method
#' @param cost Name of the cost coefficient; not a random coefficient (the
#'   willingness to pay would vary across people: use [delta_method()] for
#'   the quantity wanted).
#' @param attributes Names of the coefficients to value; by default every
#'   free coefficient of the choice model other than `cost` (including the
#'   coefficients of the latent variables and the constants, but not the
#'   spreads and Cholesky entries of random coefficients, nor lognormal
#'   random coefficients, whose location is not their mean). A normal,
#'   uniform or triangular random coefficient's location is its mean, so
#'   its value is the mean willingness to pay.
#' @return A data frame as from [delta_method()], one row per attribute,
#'   `term` the attribute's coefficient.
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' wtp(fit, "b_price")
wtp <- function(fit, cost, attributes = NULL, level = 0.95, type = fit$se_type) {
  check_fit(fit, "wtp()")
  params <- fit$model$params
  # A random coefficient's spread is no coefficient of an attribute.
  choice_coefficients <- params$name[params$free & params$block == "choice" &
                                       !params$type %in% c("random_spread", "random_chol")]
  if (!is.character(cost) || length(cost) != 1L || !cost %in% choice_coefficients)
    stop("wtp(): `cost` must name one free coefficient of the choice model (",
         paste0("`", choice_coefficients, "`", collapse = ", "), ")", call. = FALSE)
  random <- model_random(fit$model)
  if (cost %in% random$coef)
    stop("wtp(): `", cost, "` is a random coefficient (", random$distribution[random$coef == cost],
         "): the willingness to pay varies across people, and the ratio to its location is ",
         "not its mean; use delta_method() for the quantity wanted (e.g. a ratio of medians, ",
         "random_coefficients() gives their expressions)", call. = FALSE)
  # A lognormal's location is the mean of its log, not of the coefficient.
  lognormal <- random$coef[random$distribution %in% c("lognormal", "neg_lognormal")]
  if (is.null(attributes)) attributes <- setdiff(choice_coefficients, c(cost, lognormal))
  if (any(attributes %in% lognormal))
    stop("wtp(): `", intersect(attributes, lognormal)[[1L]], "` is a lognormal random ",
         "coefficient, whose location is the mean of its log; use delta_method() with its ",
         "mean or median (random_coefficients() gives their expressions)", call. = FALSE)
  unknown <- setdiff(attributes, params$name)
  if (length(unknown))
    stop("wtp(): `attributes` names no parameter of the fit: ",
         paste0("`", unknown, "`", collapse = ", "), call. = FALSE)
  if (!length(attributes))
    stop("wtp(): the choice model has no coefficient besides `", cost, "` to value",
         call. = FALSE)
  expressions <- stats::setNames(sprintf("-`%s` / `%s`", attributes, cost), attributes)
  delta_method(fit, expressions, level = level, type = type)
}

check_fit <- function(fit, fun) {
  if (!inherits(fit, "iclv_fit"))
    stop(fun, ": `fit` must be an iclv_fit from iclv(), not ", class(fit)[1L], call. = FALSE)
}

check_level <- function(level, fun) {
  if (!is.numeric(level) || length(level) != 1L || !is.finite(level) || level <= 0 ||
      level >= 1)
    stop(fun, ": `level` must be one number between 0 and 1", call. = FALSE)
}

# The expressions as a named character vector; an unnamed one is named by
# its own text.
named_expressions <- function(expressions) {
  if (!is.character(expressions) || !length(expressions) || anyNA(expressions))
    stop("delta_method(): `expressions` must be a character vector of R expressions, such as ",
         "c(wtp = \"-b_time / b_cost\")", call. = FALSE)
  labels <- names(expressions)
  if (is.null(labels)) labels <- rep("", length(expressions))
  labels[!nzchar(labels)] <- expressions[!nzchar(labels)]
  if (anyDuplicated(labels))
    stop("delta_method(): two expressions have the name `", labels[anyDuplicated(labels)],
         "`", call. = FALSE)
  stats::setNames(expressions, labels)
}

# One expression parsed, with every variable it uses checked to be a
# parameter (a misspelt name would otherwise be looked up elsewhere).
parse_parameter_expression <- function(text, term, parameter_names) {
  parsed <- tryCatch(parse(text = text, keep.source = FALSE), error = function(e) {
    stop("delta_method(): expression `", term, "` (", text, ") does not parse: ",
         conditionMessage(e), call. = FALSE)
  })
  if (length(parsed) != 1L)
    stop("delta_method(): expression `", term, "` must be one R expression, not ",
         length(parsed), call. = FALSE)
  unknown <- setdiff(all.vars(parsed), parameter_names)
  if (length(unknown))
    stop("delta_method(): expression `", term, "` uses ",
         paste0("`", unknown, "`", collapse = ", "), ", not a parameter of the fit ",
         "(lavaan names go in backquotes, e.g. `attitude=~q1`)", call. = FALSE)
  parsed[[1L]]
}

# The expression's value at a full parameter vector: one finite number.
evaluate_parameter_expression <- function(expression, theta_full, term) {
  value <- tryCatch(eval(expression, as.list(theta_full), baseenv()), error = function(e) {
    stop("delta_method(): expression `", term, "` fails: ", conditionMessage(e), call. = FALSE)
  })
  if (!is.numeric(value) || length(value) != 1L || !is.finite(value))
    stop("delta_method(): expression `", term, "` must give one finite number at the ",
         "estimates, not ", if (is.numeric(value) && length(value) == 1L) format(value) else
           paste(length(value), class(value)[1L], "value(s)"), call. = FALSE)
  value
}

# The Jacobian (length(f) x free parameters) of a function f of the full
# parameter vector with respect to the free parameters, by central
# differences with one Richardson step (error of order h^4), steps relative
# to each parameter's size. Shared by delta_method() and predict().
numerical_jacobian <- function(f, theta_full, free_names) {
  columns <- lapply(free_names, function(name) {
    h <- 1e-4 * max(1, abs(theta_full[[name]]))
    central <- function(step) {
      up <- theta_full
      down <- theta_full
      up[[name]] <- up[[name]] + step
      down[[name]] <- down[[name]] - step
      (f(up) - f(down)) / (2 * step)
    }
    (4 * central(h / 2) - central(h)) / 3
  })
  matrix(unlist(columns), ncol = length(free_names), dimnames = list(NULL, free_names))
}

# Standard errors sqrt(diag(J V J')) of functions with Jacobian J.
delta_std_errors <- function(jacobian, vcov_free) {
  sqrt(pmax(rowSums((jacobian %*% vcov_free) * jacobian), 0))
}

# Wald z, p and intervals from estimates and standard errors, in broom's
# columns.
wald_table <- function(term, estimate, std_error, level, expression) {
  z <- estimate / std_error
  q <- stats::qnorm(1 - (1 - level) / 2)
  data.frame(term = term, estimate = estimate, std.error = std_error, statistic = z,
             p.value = 2 * stats::pnorm(-abs(z)), conf.low = estimate - q * std_error,
             conf.high = estimate + q * std_error, expression = expression,
             stringsAsFactors = FALSE, row.names = NULL)
}
