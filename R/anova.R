# Likelihood-ratio tests of nested fits. A simulated log-likelihood is
# comparable across fits only when both integrate over the same points on the
# same data, so anova() checks that before it compares.

#' Likelihood-ratio tests of nested ICLV fits
#'
#' Compares two or more fits of nested models on the same data, each with the
#' one before it in order of their number of free parameters: the
#' likelihood-ratio statistic `2 (LL1 - LL0)` against a chi-squared
#' distribution with the difference in free parameters as degrees of
#' freedom. The fits must use the same data (individuals, choices, answers)
#' and the same integration (method, type and number of draws or nodes,
#' seed): simulated log-likelihoods on different points differ by their
#' simulation error. Whether the models are nested is for the user to judge
#' (a model is nested in another when fixing some of the other's parameters
#' gives it, e.g. `fixed = c(b_att = 0)` in [iclv_model()]).
#' [stats::AIC()] and [stats::BIC()] work on fits through [logLik()].
#'
#' @param object An `iclv_fit`.
#' @param ... Further `iclv_fit`s.
#' @return An object of class `anova` (a data frame): one row per fit, with
#'   its free parameters (`Npar`), log-likelihood (`logLik`), `AIC`, `BIC`,
#'   and from the second row on the likelihood-ratio statistic (`LR`), its
#'   degrees of freedom (`Df`) and p-value (`Pr(>Chisq)`).
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit1 <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' model0 <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id", fixed = c(b_att = 0))
#' fit0 <- iclv(model0, data, draws = 50, control = iclv_control(threads = 1))
#' anova(fit0, fit1)
#' AIC(fit0, fit1)
anova.iclv_fit <- function(object, ...) {
  fits <- c(list(object), list(...))
  labels <- vapply(as.list(substitute(list(object, ...)))[-1L],
                   function(expr) substr(deparse1(expr), 1L, 30L), "")
  not_fit <- !vapply(fits, inherits, NA, "iclv_fit")
  if (any(not_fit))
    stop("anova(): every argument must be an iclv_fit; not ",
         paste0("`", labels[not_fit], "`", collapse = ", "), call. = FALSE)
  if (length(fits) < 2L)
    stop("anova(): give two or more nested fits, e.g. anova(fit0, fit1)", call. = FALSE)
  for (k in seq_along(fits)[-1L]) check_comparable(fits[[1L]], fits[[k]], labels[c(1L, k)])
  order_by_size <- order(vapply(fits, `[[`, 0L, "n_par"))
  fits <- fits[order_by_size]
  labels <- labels[order_by_size]
  n_par <- vapply(fits, `[[`, 0L, "n_par")
  loglik <- vapply(fits, `[[`, 0, "loglik")
  n_indiv <- fits[[1L]]$n_indiv
  statistic <- c(NA, 2 * diff(loglik))
  df <- c(NA, diff(n_par))
  p_value <- ifelse(!is.na(df) & df > 0,
                    stats::pchisq(pmax(statistic, 0), df, lower.tail = FALSE), NA_real_)
  table <- data.frame(Npar = n_par, logLik = loglik, AIC = -2 * loglik + 2 * n_par,
                      BIC = -2 * loglik + log(n_indiv) * n_par, LR = statistic, Df = df,
                      `Pr(>Chisq)` = p_value, check.names = FALSE, row.names = labels)
  structure(table, class = c("anova", "data.frame"),
            heading = c("Likelihood-ratio tests of nested ICLV models\n",
                        paste0("Integration: ", integration_label(fits[[1L]]), "\n")))
}

# Two fits' log-likelihoods are comparable: the same individuals, choices and
# answers, integrated over the same points.
check_comparable <- function(fit_a, fit_b, labels) {
  same_data <- identical(fit_a$prepared$ids, fit_b$prepared$ids) &&
    identical(fit_a$prepared$choice, fit_b$prepared$choice) &&
    identical(unname(fit_a$prepared$ind_cat), unname(fit_b$prepared$ind_cat)) &&
    identical(unname(fit_a$prepared$ind_value), unname(fit_b$prepared$ind_value))
  if (!same_data)
    stop(sprintf(paste0("anova(): `%s` and `%s` were fitted to different data (individuals, ",
                        "choices or indicator answers differ): their log-likelihoods cannot ",
                        "be compared"), labels[1L], labels[2L]), call. = FALSE)
  same_points <- identical(fit_a$draw_type, fit_b$draw_type) &&
    identical(fit_a$n_draws, fit_b$n_draws) &&
    identical(fit_a$draw_recipe, fit_b$draw_recipe) && identical(fit_a$draws, fit_b$draws)
  if (!same_points)
    stop(sprintf(paste0("anova(): `%s` and `%s` integrate differently (%s, against %s): ",
                        "refit both with the same draws or nodes"),
                 labels[1L], labels[2L], points_label(fit_a), points_label(fit_b)),
         call. = FALSE)
}

points_label <- function(fit) {
  seed <- fit$draw_recipe$seed
  sprintf("%d %s%s", fit$n_draws, fit$draw_type,
          if (is.null(seed)) "" else paste0(" with seed ", seed))
}
