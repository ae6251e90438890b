# Point elasticities of the choice probabilities and shares with respect to
# an attribute, integrated over the latent variables like predict().

#' Elasticities of choice probabilities with respect to an attribute
#'
#' Point elasticities `d log P / d log x` of every alternative's choice
#' probability with respect to an attribute `x` (a data column that enters
#' one or more utilities), integrated over the latent variables with the
#' fit's points as in [predict.iclv_fit()]: direct for the alternatives
#' whose utility holds the attribute, cross for the others. The derivative
#' is taken numerically (central differences on the log scale of the
#' attribute, one Richardson step) through the engine.
#'
#' The share elasticity is the sample-enumeration elasticity of each
#' alternative's market share, the derivative of the mean probability when
#' the attribute changes by the same percentage in every task, which equals
#' the probability-weighted mean of the tasks' elasticities.
#'
#' @param fit An `iclv_fit` from [iclv()].
#' @param attribute Name of a data column that enters the utilities as a
#'   plain variable (`b_price * price_A`); a column that enters through an
#'   expression (`b * log(price_A)`) is refused.
#' @param newdata A scenario as in [predict.iclv_fit()]; `NULL` for the
#'   estimation data.
#' @return A list of two data frames: `shares` (`alternative`,
#'   `elasticity`, `kind`: `"direct"` or `"cross"`) and `tasks` (one row
#'   per row of the data, in its order: `id`, `row` and each alternative's
#'   elasticity; `NA` where an alternative is unavailable).
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' e <- elasticities(fit, "price_A")
#' e$shares
#' head(e$tasks)
elasticities <- function(fit, attribute, newdata = NULL) {
  check_fit(fit, "elasticities()")
  if (!fit$n_tasks) stop("elasticities(): the model has no choice part", call. = FALSE)
  if (!is.null(newdata) && !is.data.frame(newdata))
    stop("elasticities(): `newdata` must be a data frame, not ", class(newdata)[1L],
         call. = FALSE)
  model <- fit$model
  terms <- attribute_terms(model, attribute)
  setup <- prediction_setup(fit, newdata)
  prob <- t(engine_predict(setup$engine, fit$theta_full, "prob"))
  slope <- log_attribute_derivative(fit, setup, terms)
  task_elasticity <- slope / prob
  task_elasticity[setup$prepared$avail == 0L] <- NA
  owners <- unique(model$utility_terms$alt[terms])
  kind <- ifelse(seq_along(model$alternatives) %in% owners, "direct", "cross")
  list(shares = data.frame(alternative = model$alternatives,
                           elasticity = colMeans(slope) / colMeans(prob), kind = kind,
                           stringsAsFactors = FALSE, row.names = NULL),
       tasks = probability_table(model, setup$prepared, as.vector(task_elasticity), NULL))
}

# The utility terms whose value is the attribute's column.
attribute_terms <- function(model, attribute) {
  if (!is.character(attribute) || length(attribute) != 1L || is.na(attribute))
    stop("elasticities(): `attribute` must be the name of one data column", call. = FALSE)
  values <- model$utility_terms$value
  uses <- which(vapply(values, function(value) attribute %in% all.vars(value), NA))
  if (!length(uses)) {
    columns <- unique(unlist(lapply(values, all.vars)))
    stop("elasticities(): `", attribute, "` enters no utility; the utilities use ",
         paste0("`", columns, "`", collapse = ", "), call. = FALSE)
  }
  plain <- vapply(values[uses], identical, NA, as.name(attribute))
  if (!all(plain))
    stop("elasticities(): `", attribute, "` enters ", describe_term(model, uses[!plain][1L]),
         " through an expression; only attributes that enter utilities as plain columns ",
         "have elasticities here", call. = FALSE)
  uses
}

# d P / d log x (tasks x alternatives): the attribute's terms scaled by
# exp(+-h) in every task, central differences with one Richardson step.
log_attribute_derivative <- function(fit, setup, terms) {
  prob_scaled <- function(log_factor) {
    prepared <- setup$prepared
    prepared$term_value[, terms] <- prepared$term_value[, terms] * exp(log_factor)
    engine <- engine_build(fit$model, prepared, setup$points,
                           threads = fit$threads)
    on.exit(engine_release(engine))
    t(engine_predict(engine, fit$theta_full, "prob"))
  }
  central <- function(h) (prob_scaled(h) - prob_scaled(-h)) / (2 * h)
  h <- 1e-3
  (4 * central(h / 2) - central(h)) / 3
}
