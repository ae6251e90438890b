# The distribution of each random coefficient across individuals, read from
# its location, spread and Cholesky entries: mean, median and standard
# deviation with delta-method standard errors (as expressions for
# delta_method()), and the correlation of the correlated ones. The
# parametrisation is in R/random.R and vignette "likelihood", section 1.5.

#' Distributions of the random coefficients
#'
#' The mean, median and standard deviation across individuals of each random
#' coefficient of a fit (`iclv_model(random =)`), with delta-method standard
#' errors ([delta_method()]), and the correlation matrix of the correlated
#' ones. The location `b` and spread `s` that the fit estimates are the
#' parameters of the distribution, not its moments: for a lognormal they are
#' the mean and standard deviation of the logarithm.
#'
#' With `v^2` the variance of the underlying normal `z = b + s xi + sum_c
#' L_c xi_c` (`v^2 = s^2 + sum_c L_c^2`, the Cholesky entries `L_c` of a
#' correlated coefficient's row):
#' * `normal`: mean = median = `b`, sd = `v`;
#' * `lognormal`: mean `exp(b + v^2/2)`, median `exp(b)`, sd
#'   `sqrt((exp(v^2) - 1) exp(2b + v^2))`; `neg_lognormal`: minus the mean
#'   and the median, the same sd;
#' * `uniform` on `b - s` to `b + s`: mean = median = `b`, sd `s / sqrt(3)`;
#' * `triangular` on `b - s` to `b + s`: mean = median = `b`, sd
#'   `s / sqrt(6)`.
#'
#' These describe the coefficient itself: a term with a coefficient of its
#' own that shifts it (`g * price_A * attitude` beside `b_price * price_A`)
#' adds to it and is not included.
#'
#' @inheritParams delta_method
#' @return A data frame with one row per random coefficient and measure (the
#'   coefficients in the order of `random`, each with `mean`, `median` and
#'   `sd`): `term` (such as `mean(b_price)`), `coef`, `distribution`,
#'   `measure`, and the columns of [delta_method()] (`estimate`,
#'   `std.error`, `statistic`, `p.value`, `conf.low`, `conf.high`,
#'   `expression`, the formula in the parameters). When some coefficients are
#'   correlated (`iclv_model(correlated =)`), its attribute `"correlation"`
#'   is their correlation matrix, `L L'` scaled to unit diagonal: of the
#'   coefficients themselves for normals, of `log(beta)` for lognormals and
#'   `log(-beta)` for neg_lognormals; otherwise `NULL`. Attribute
#'   `"correlation_inference"` then holds each correlation below the
#'   diagonal (`cor(a, c)`) with its delta-method standard error and
#'   interval, as from [delta_method()].
#' @seealso [iclv_model()] (section "Random coefficients"), [summary.iclv_fit()]
#'   (which prints this table).
#' @export
#' @examples
#' model <- iclv_model(utility = list(A = ~ asc_A + b_price * price_A + b_time * time_A,
#'                                    B = ~ b_price * price_B + b_time * time_B, C = ~ 0),
#'                     choice = "choice",
#'                     random = list(b_price = "neg_lognormal", b_time = "normal"))
#' data <- iclv_simulate(model, n_indiv = 300, n_tasks = 6, seed = 2)
#' fit <- iclv(model, data, draws = 100,
#'             control = iclv_control(threads = 1))
#' random_coefficients(fit)[c("term", "estimate", "std.error", "conf.low", "conf.high")]
random_coefficients <- function(fit, level = 0.95, type = fit$se_type) {
  check_fit(fit, "random_coefficients()")
  random <- model_random(fit$model)
  if (!nrow(random))
    stop("random_coefficients(): the model has no random coefficients ",
         "(iclv_model(random =) names them)", call. = FALSE)
  formulas <- do.call(rbind, lapply(seq_len(nrow(random)), function(i) {
    random_measure_formulas(random$coef[[i]], random$distribution[[i]],
                            cholesky_row(random, random$coef[[i]]))
  }))
  expressions <- stats::setNames(formulas$expression,
                                 sprintf("%s(%s)", formulas$measure, formulas$coef))
  inference <- delta_method(fit, expressions, level = level, type = type)
  out <- cbind(inference["term"], formulas[c("coef", "distribution", "measure")],
               inference[setdiff(names(inference), "term")])
  attr(out, "correlation") <- random_correlation(random, fit$theta_full)
  correlations <- correlation_formulas(random)
  if (length(correlations))
    attr(out, "correlation_inference") <- delta_method(fit, correlations, level = level,
                                                       type = type)
  out
}

# Each correlation of two correlated coefficients' underlying normals as an
# R expression of the Cholesky entries (row a of L: `a~~c` below the
# diagonal, the spread `a~~a` on it): (L L')_ac / sqrt((L L')_aa (L L')_cc),
# named cor(a, c), a after c in `random`.
correlation_formulas <- function(random) {
  block <- random$coef[random$correlated]
  entry <- function(a, j) backquote(if (a == j) random_spread_name(a) else lavaan_name(a, "~~", j))
  product <- function(a, c) {
    shared <- block[seq_len(min(match(a, block), match(c, block)))]
    paste0("(", paste(vapply(shared, function(j) paste(entry(a, j), "*", entry(c, j)), ""),
                      collapse = " + "), ")")
  }
  pairs <- cholesky_entries(random)
  stats::setNames(
    sprintf("%s / sqrt(%s * %s)", vapply(seq_len(nrow(pairs)), function(i)
      product(pairs$a[[i]], pairs$b[[i]]), ""),
      vapply(pairs$a, function(a) product(a, a), ""), vapply(pairs$b, function(c) product(c, c), "")),
    sprintf("cor(%s, %s)", pairs$a, pairs$b))
}

# The Cholesky entries below the diagonal in `coef`'s row (parameter names
# `coef~~c`): none for a coefficient outside the correlated block or first
# in it.
cholesky_row <- function(random, coef) {
  entries <- cholesky_entries(random)
  lavaan_name(coef, "~~", entries$b[entries$a == coef])
}

# Mean, median and sd of one coefficient as R expressions of the parameters
# (names in backquotes): one row per measure.
random_measure_formulas <- function(coef, distribution, chol_names) {
  location <- backquote(coef)
  spread <- backquote(random_spread_name(coef))
  # Variance of the underlying normal: the sum of squares of the row of L.
  squares <- paste0(c(spread, backquote(chol_names)), "^2", collapse = " + ")
  variance <- if (length(chol_names)) paste0("(", squares, ")") else squares
  normal_sd <- if (length(chol_names)) sprintf("sqrt(%s)", squares) else spread
  lognormal_mean <- sprintf("exp(%s + %s / 2)", location, variance)
  lognormal_sd <- sprintf("sqrt((exp(%s) - 1) * exp(2 * %s + %s))", variance, location, variance)
  formulas <- switch(distribution,
    normal = c(location, location, normal_sd),
    lognormal = c(lognormal_mean, sprintf("exp(%s)", location), lognormal_sd),
    neg_lognormal = c(paste0("-", lognormal_mean), sprintf("-exp(%s)", location), lognormal_sd),
    uniform = c(location, location, paste(spread, "/ sqrt(3)")),
    triangular = c(location, location, paste(spread, "/ sqrt(6)")),
    stop("random_coefficients(): no formulas for distribution '", distribution, "' of '",
         coef, "'", call. = FALSE))
  data.frame(coef = coef, distribution = distribution, measure = c("mean", "median", "sd"),
             expression = formulas, stringsAsFactors = FALSE)
}

backquote <- function(names) paste0("`", names, "`", recycle0 = TRUE)

# The correlation matrix L L' (scaled) of the correlated coefficients' underlying
# normals at the estimates, or NULL when none are correlated.
random_correlation <- function(random, theta_full) {
  block <- random$coef[random$correlated]
  if (!length(block)) return(NULL)
  cholesky <- diag(theta_full[random_spread_name(block)], nrow = length(block))
  dimnames(cholesky) <- list(block, block)
  entries <- cholesky_entries(random)
  cholesky[cbind(entries$a, entries$b)] <- theta_full[lavaan_name(entries$a, "~~", entries$b)]
  stats::cov2cor(cholesky %*% t(cholesky))
}
