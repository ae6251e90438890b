# Methods for iclv_fit, mirroring stats: print, summary, coef, vcov, logLik,
# nobs, confint, plot (predict() in R/predict.R); estimates() (broom's columns), tidy(),
# glance().

#' Methods for fitted ICLV models
#'
#' @param object,x An `iclv_fit` from [iclv()].
#' @param type For `vcov()`: `"robust"` (default of the fit), `"classical"`
#'   or `"bhhh"`; a fit estimated with `iclv_control(se = "bhhh")` has no
#'   Hessian, and `vcov()` of `"classical"` or `"robust"` computes it on
#'   demand (with a message; about the cost of a few evaluations of the
#'   likelihood). For `plot()`: `"trace"` (convergence), `"memory"`, `"lv"`
#'   (for each latent variable, a histogram of the individuals' posterior
#'   means with the density of its prior, the structural equations' normal
#'   distribution mixed over the individuals' covariates) or `"shares"`
#'   (predicted against observed shares of each alternative, with
#'   delta-method intervals, for the estimation data or `newdata`, which
#'   must hold the choices).
#' @param newdata For `plot(type = "shares")`: a data frame with choices, as
#'   for [predict.iclv_fit()]; `NULL` for the estimation data.
#' @param parm,level As in [stats::confint()]; `level` is also the level of
#'   the intervals of `plot(type = "shares")`.
#' @param digits For `print()`: significant digits of the estimates.
#' @param ... Not used: any argument given here is refused with an error
#'   that names it.
#' @name iclv_fit-methods
#' @return `coef()`: named estimates (natural scale). `vcov()`: a matrix.
#'   `logLik()`: a `logLik` object with `df` and `nobs`. `nobs()`: the number
#'   of individuals. `confint()`: a matrix of Wald intervals. For
#'   `predict()` see [predict.iclv_fit()]. `plot()`: the fit, invisibly, or
#'   for `"lv"` a list with the posterior means (`posterior`, as
#'   `predict(type = "lv")`) and each person's prior mean and standard
#'   deviation (`prior_mean`, `prior_sd`: individuals x latent variables),
#'   for `"shares"` the shares plotted (as `predict(type = "share")`).
#'
#'   `summary()`: an object of class `summary.iclv_fit`, a list with
#'   `estimates` (as [estimates()]), `loglik`, `aic`, `bic`, `loglik_start`
#'   (at the starting values: iteration 0 of the optimizer), and for the
#'   choice part `loglik_choice` (the log-likelihood of the chosen
#'   alternatives, each task's probabilities averaged over the draws),
#'   `loglik_equal_shares` (LL(0): equal shares of the available
#'   alternatives), `loglik_observed_shares` (LL(C): a constant per
#'   alternative and nothing else), `rho2` (`1 - loglik_choice / LL(0)`) and
#'   `adj_rho2` (`1 - (loglik_choice - K) / LL(0)`, K the free parameters of
#'   the choice block); `parts`, a data frame with the log-likelihood of each
#'   part on its own at the estimates (`part`, `kind`, `n_obs`, `unit`,
#'   `loglik`: each indicator over the individuals who answered it, and the
#'   choice model over all tasks, each integrated over the latent variables
#'   by itself, so that the parts do not add up to the total); `fixed` (the
#'   fixed parameters and their values); `hessian` (`status`, one line, and
#'   `problem`, why standard errors are NA, or `NULL`); `random`, for a
#'   model with random coefficients, their distributions across individuals
#'   as [random_coefficients()] gives them (mean, median and standard
#'   deviation with delta-method standard errors, and the correlation matrix
#'   of the correlated ones), `NULL` otherwise; and the counts, convergence
#'   and timings of the fit.
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 50, control = iclv_control(threads = 1))
#' coef(fit)
#' vcov(fit, type = "classical")[1:3, 1:3]
#' logLik(fit)
#' confint(fit)[1:3, ]
#' plot(fit, "lv")
#' plot(fit, "shares")
NULL

#' @rdname iclv_fit-methods
#' @export
coef.iclv_fit <- function(object, ...) {
  refuse_unused_arguments(..., .fun = "coef()")
  object$coefficients
}

#' @rdname iclv_fit-methods
#' @export
vcov.iclv_fit <- function(object, type = object$se_type, ...) {
  refuse_unused_arguments(..., .fun = "vcov()")
  type <- match.arg(type, c("robust", "classical", "bhhh", "bootstrap"))
  if (type == "bootstrap" && is.null(object$vcov$bootstrap))
    stop("vcov(): the fit has no bootstrap; fit with iclv_control(se = \"bootstrap\")",
         call. = FALSE)
  if (is.null(object$vcov[[type]])) {
    # se = "bhhh": the Hessian was not computed with the fit; an interrupted
    # fit has no estimates to compute it at.
    if (object$convergence$interrupted) return(na_matrix(names(coef(object))))
    return(fit_hessian_vcov(object, type))
  }
  object$vcov[[type]]
}

#' @rdname iclv_fit-methods
#' @export
logLik.iclv_fit <- function(object, ...) {
  refuse_unused_arguments(..., .fun = "logLik()")
  structure(object$loglik, df = object$n_par, nobs = object$n_indiv, class = "logLik")
}

#' @rdname iclv_fit-methods
#' @export
nobs.iclv_fit <- function(object, ...) {
  refuse_unused_arguments(..., .fun = "nobs()")
  object$n_indiv
}

#' @rdname iclv_fit-methods
#' @export
confint.iclv_fit <- function(object, parm, level = 0.95, type = object$se_type, ...) {
  refuse_unused_arguments(..., .fun = "confint()")
  est <- coef(object)
  se <- sqrt(diag(vcov(object, type = type)))
  if (missing(parm)) parm <- names(est)
  z <- stats::qnorm(1 - (1 - level) / 2)
  out <- cbind(est[parm] - z * se[parm], est[parm] + z * se[parm])
  pct <- paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE), "%")
  dimnames(out) <- list(parm, pct)
  out
}

#' @rdname iclv_fit-methods
#' @export
print.iclv_fit <- function(x, digits = 4, ...) {
  refuse_unused_arguments(..., .fun = "print()")
  cat("ICLV model estimated by simulated maximum likelihood\n")
  header <- c(
    "Individuals" = format(x$n_indiv),
    "Choice tasks" = format(x$n_tasks),
    "Parameters" = sprintf("%d free, %d fixed", x$n_par, sum(!x$model$params$free)),
    "Integration" = integration_label(x),
    "Log-likelihood" = sprintf("%.4f", x$loglik),
    "Convergence" = sprintf("%s after %d iterations (%.1f s on %s)", x$convergence$message,
                            x$convergence$iterations, sum(x$timings), x$backend),
    "Hessian" = hessian_status(x)$status)
  cat(sprintf("  %-16s%s\n", paste0(names(header), ":"), header), sep = "")
  # Degenerate solution and disagreeing starts (R/degenerate.R, R/multistart.R).
  if (length(notes <- fit_notes(x))) cat(notes, sep = "\n")
  cat("\nEstimates:\n")
  est <- coef(x)
  block <- estimate_blocks(x$model$params, names(est))
  for (title in names(block_titles)) {
    in_block <- block == title
    if (!any(in_block)) next
    cat(block_titles[[title]], ":\n", sep = "")
    print(est[in_block], digits = digits)
  }
  cat("Use summary() for standard errors and fit statistics.\n")
  invisible(x)
}

block_titles <- c(structural = "Structural equations", measurement = "Measurement equations",
                  thresholds = "Thresholds", choice = "Choice model",
                  random = "Random coefficients: spreads and Cholesky entries")

# The block of each named parameter as estimates() and print() show it: the
# parameter table's, except that the spreads and Cholesky entries of random
# coefficients, "choice" in the table (they belong to the choice model's
# likelihood), get a block of their own beside the locations.
estimate_blocks <- function(params, names) {
  rows <- match(names, params$name)
  ifelse(params$type[rows] %in% c("random_spread", "random_chol"), "random", params$block[rows])
}

#' @rdname iclv_fit-methods
#' @export
summary.iclv_fit <- function(object, ...) {
  refuse_unused_arguments(..., .fun = "summary()")
  est <- estimates(object)
  loglik <- object$loglik
  k <- object$n_par
  n <- object$n_indiv
  params <- object$model$params
  choice_ll <- object$loglik_choice
  loglik_zero <- choice_ll[["equal_shares"]]
  k_choice <- sum(params$free & params$block == "choice")
  fixed <- !params$free
  structure(list(
    estimates = est,
    loglik = loglik,
    aic = -2 * loglik + 2 * k,
    bic = -2 * loglik + log(n) * k,
    loglik_start = start_loglik(object),
    loglik_choice = choice_ll[["model"]],
    loglik_equal_shares = loglik_zero,
    loglik_observed_shares = unname(choice_ll["observed_shares"]),
    rho2 = 1 - choice_ll[["model"]] / loglik_zero,
    adj_rho2 = 1 - (choice_ll[["model"]] - k_choice) / loglik_zero,
    n_par_choice = k_choice,
    parts = object$loglik_parts,
    fixed = stats::setNames(params$start[fixed], params$name[fixed]),
    hessian = hessian_status(object),
    hessian_computed = !is.null(object$vcov$classical),
    n_indiv = n, n_tasks = object$n_tasks, n_draws = object$n_draws,
    draw_type = object$draw_type, n_par = k, convergence = object$convergence,
    timings = object$timings, backend = object$backend, threads = object$threads,
    se_type = object$se_type, stages = object$start_stages,
    integration = integration_label(object),
    notes = fit_notes(object),
    random = if (nrow(model_random(object$model))) random_coefficients(object)
  ), class = "summary.iclv_fit")
}

# The log-likelihood at the starting values: iteration 0 of the trace.
start_loglik <- function(fit) {
  at_start <- fit$trace$loglik[fit$trace$iteration == 0L]
  if (length(at_start)) at_start[[1L]] else NA_real_
}

# The Hessian in one line (`status`) and, where the standard errors are NA,
# why (`problem`); read from the fit, so it survives saveRDS().
hessian_status <- function(fit) {
  problems <- fit$hessian_problems
  if (!is.null(problems)) {
    where <- paste0("`", problems$names, "`", collapse = ", ")
    eigen_text <- if (is.na(problems$min_eigen)) "has non-finite entries" else
      sprintf("has smallest eigenvalue %.3g", problems$min_eigen)
    return(list(
      status = paste("not negative definite; weakly identified in the direction of", where),
      problem = paste0(
        "Classical and robust standard errors are NA: the information matrix (minus the ",
        "Hessian of the log-likelihood at the estimates) ", eigen_text, ", so it cannot be ",
        "inverted. The weakest directions involve ", where, ". Fix or drop one of these ",
        "parameters, add draws, or check the normalisation; BHHH standard errors ",
        "(vcov(fit, type = \"bhhh\")) do not use the Hessian.")))
  }
  if (is.null(fit$hessian)) {
    status <- if (isTRUE(fit$convergence$interrupted))
      "not computed (the estimation was interrupted): no standard errors" else
        "not computed (se = \"bhhh\"; vcov(fit, type = \"classical\") computes it)"
    return(list(status = status, problem = NULL))
  }
  eigenvalues <- eigen(-fit$hessian, symmetric = TRUE, only.values = TRUE)$values
  list(status = sprintf("negative definite (condition number %.3g)",
                        max(eigenvalues) / min(eigenvalues)),
       problem = NULL)
}

# How the latent variables were integrated out, and how accurately, in words.
integration_label <- function(fit) {
  integration <- fit$integration
  label <- if (is.null(integration) || integration$method == "simulation") {
    sprintf("simulation, %d %s per individual", fit$n_draws, fit$draw_type)
  } else {
    sprintf("%s, %s %d, %d points per individual", fit$draw_type,
            if (integration$type == "tensor") "nodes per latent variable" else "accuracy level",
            integration$nodes, fit$n_draws)
  }
  error <- fit$integration_error
  if (is.null(error)) return(label)
  sprintf("%s; integration error of the log-likelihood %s (%s)", label,
          if (is.na(error$error)) "unknown" else format(signif(error$error, 2)), error$kind)
}

#' @rdname iclv_fit-methods
#' @export
print.summary.iclv_fit <- function(x, digits = 4, ...) {
  refuse_unused_arguments(..., .fun = "print()")
  cat("ICLV model: maximum likelihood\n")
  cat(sprintf("%d individuals, %d choice tasks\n", x$n_indiv, x$n_tasks))
  cat("Integration:", x$integration, "\n\n")
  est <- x$estimates
  for (block in names(block_titles)) {
    rows <- est[est$block == block, , drop = FALSE]
    if (!nrow(rows)) next
    cat(block_titles[[block]], "\n", sep = "")
    # Without a Hessian (se = "bhhh") the BHHH standard errors stand in for
    # the classical and robust ones.
    errors <- if (!x$hessian_computed)
      data.frame(`BHHH SE` = rows$bhhh.std.error, check.names = FALSE) else
        data.frame(`Std. Error` = rows$classical.std.error,
                   `Robust SE` = rows$robust.std.error, check.names = FALSE)
    table <- data.frame(Estimate = rows$estimate, errors, `z value` = rows$statistic,
                        `Pr(>|z|)` = rows$p.value, check.names = FALSE, row.names = rows$term)
    stats::printCoefmat(as.matrix(table), digits = digits, has.Pvalue = TRUE, P.values = TRUE,
                        cs.ind = seq_len(1L + ncol(errors)), tst.ind = 2L + ncol(errors),
                        signif.legend = FALSE)
    cat("\n")
  }
  print_random_coefficients(x$random, digits)
  cat(sprintf("z and p use %s standard errors.\n", x$se_type))
  if (!is.null(x$hessian$problem)) cat(strwrap(x$hessian$problem), sep = "\n")
  if (length(x$fixed)) {
    cat("Fixed parameters:\n")
    print(x$fixed, digits = digits)
  }
  cat("\n")
  cat(sprintf("Log-likelihood: %.4f   AIC: %.2f   BIC: %.2f   (%d parameters)\n", x$loglik,
              x$aic, x$bic, x$n_par))
  cat(sprintf("Log-likelihood at the starting values: %.4f\n", x$loglik_start))
  print_choice_statistics(x)
  print_part_logliks(x$parts)
  cat("Hessian: ", x$hessian$status, "\n", sep = "")
  conv <- x$convergence
  cat(sprintf("Convergence: %s after %d iterations (%d evaluations), max |gradient| %.2e\n",
              conv$message, conv$iterations, conv$evaluations, conv$gradient_max))
  if (length(x$notes)) cat(x$notes, sep = "\n")
  cat(sprintf("Time: %.2f s (setup %.2f, starting values %.2f, estimation %.2f, standard errors %.2f) on %s with %d thread(s)\n",
              sum(x$timings), x$timings[["setup"]], x$timings[["start"]],
              x$timings[["estimation"]], x$timings[["standard_errors"]], x$backend, x$threads))
  invisible(x)
}

# The random coefficients' distributions (random_coefficients()): one line
# per coefficient, each measure with its standard error in brackets; then
# the correlation matrix of the correlated ones.
print_random_coefficients <- function(random, digits) {
  if (is.null(random)) return(invisible())
  cat("Random coefficients: distribution across individuals (delta-method standard errors)\n")
  coefs <- unique(random$coef)
  cells <- vapply(c("mean", "median", "sd"), function(measure) {
    rows <- random[random$measure == measure, , drop = FALSE]
    rows <- rows[match(coefs, rows$coef), , drop = FALSE]
    sprintf("%s (%s)", format(rows$estimate, digits = digits),
            format(rows$std.error, digits = digits))
  }, character(length(coefs)))
  table <- cbind(distribution = random$distribution[match(coefs, random$coef)],
                 matrix(cells, nrow = length(coefs)))
  dimnames(table) <- list(coefs, c("distribution", "mean", "median", "sd"))
  print(table, quote = FALSE, right = TRUE)
  correlation <- attr(random, "correlation")
  if (!is.null(correlation)) {
    cat("Correlation of the underlying normals z (beta = z, exp(z) or -exp(z)):\n")
    print(correlation, digits = digits)
    inference <- attr(random, "correlation_inference")
    if (!is.null(inference))
      cat(sprintf("  %s: %s (%s)\n", inference$term, format(inference$estimate, digits = digits),
                  format(inference$std.error, digits = digits)), sep = "")
  }
  cat("\n")
}

print_choice_statistics <- function(x) {
  if (is.na(x$rho2)) return(invisible())
  cat(sprintf("Choice part (%d tasks):\n", x$n_tasks))
  lines <- c(
    "LL(0), equal shares" = sprintf("%.4f", x$loglik_equal_shares),
    "LL(C), observed shares" = sprintf("%.4f", x$loglik_observed_shares),
    "LL(final), per task" = sprintf("%.4f", x$loglik_choice),
    "rho-squared vs LL(0)" = sprintf("%.4f", x$rho2),
    "adjusted rho-squared" = sprintf("%.4f (%d choice parameters)", x$adj_rho2, x$n_par_choice))
  cat(sprintf("  %-24s%s\n", paste0(names(lines), ":"), lines), sep = "")
}

print_part_logliks <- function(parts) {
  if (is.null(parts) || !nrow(parts)) return(invisible())
  cat("Log-likelihood of each part on its own at the estimates:\n")
  table <- data.frame(observations = paste(parts$n_obs, parts$unit),
                      `log-likelihood` = sprintf("%.4f", parts$loglik),
                      row.names = paste0("  ", parts$part), check.names = FALSE)
  print(table, right = TRUE)
}

#' Estimates of a fitted ICLV model as a data frame
#'
#' One row per free parameter with broom's columns (`term`, `estimate`,
#' `std.error`, `statistic`, `p.value`, `conf.low`, `conf.high`) plus `block`,
#' `robust.std.error`, `classical.std.error` and `bhhh.std.error`.
#' `block` is `"structural"`, `"measurement"`, `"thresholds"`, `"choice"`,
#' or `"random"` for the spreads (`b~~b`) and Cholesky entries (`a~~c`) of
#' random coefficients, whose locations keep the coefficients' names in
#' `"choice"` ([random_coefficients()] turns them into means, medians and
#' standard deviations). `std.error` is the fit's default type (`iclv_control(se =)`). A fit
#' estimated with `iclv_control(se = "bhhh")` has no Hessian, and its
#' `robust.std.error` and `classical.std.error` are `NA` (`vcov(fit, type =
#' "robust")` computes them on demand). A fit with
#' a bootstrap has `bootstrap.std.error` too, and with
#' `iclv_control(se = "bootstrap")` its intervals are the bootstrap's
#' percentile intervals.
#'
#' @param fit An `iclv_fit`.
#' @param level Confidence level of the intervals.
#' @return A data frame.
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3")
#' data <- iclv_simulate(model, n_indiv = 100, seed = 2)
#' fit <- iclv(model, data, draws = 30, control = iclv_control(threads = 1))
#' estimates(fit)
estimates <- function(fit, level = 0.95) {
  if (!inherits(fit, "iclv_fit")) stop("`fit` must be an iclv_fit from iclv()", call. = FALSE)
  est <- coef(fit)
  se_of <- function(type) {
    v <- fit$vcov[[type]]
    if (is.null(v)) rep(NA_real_, length(est)) else sqrt(pmax(diag(v), 0))
  }
  se <- se_of(fit$se_type)
  z <- est / se
  q <- stats::qnorm(1 - (1 - level) / 2)
  params <- fit$model$params
  out <- data.frame(
    term = names(est), estimate = unname(est), std.error = unname(se),
    statistic = unname(z), p.value = unname(2 * stats::pnorm(-abs(z))),
    conf.low = unname(est - q * se), conf.high = unname(est + q * se),
    block = estimate_blocks(params, names(est)),
    robust.std.error = unname(se_of("robust")),
    classical.std.error = unname(se_of("classical")),
    bhhh.std.error = unname(se_of("bhhh")),
    stringsAsFactors = FALSE
  )
  if (is.null(fit$bootstrap)) return(out)
  out$bootstrap.std.error <- unname(se_of("bootstrap"))
  if (fit$se_type == "bootstrap") {
    # Percentile intervals of the converged replicates.
    replicates <- fit$bootstrap$estimates[fit$bootstrap$converged, names(est), drop = FALSE]
    limits <- apply(replicates, 2L, stats::quantile, probs = c((1 - level) / 2, (1 + level) / 2),
                    names = FALSE)
    out$conf.low <- limits[1L, ]
    out$conf.high <- limits[2L, ]
  }
  out
}

#' @rdname estimates
#' @param x An `iclv_fit`.
#' @param conf.int,conf.level,... As in broom's `tidy()`.
#' @exportS3Method generics::tidy
tidy.iclv_fit <- function(x, conf.int = TRUE, conf.level = 0.95, ...) {
  refuse_unused_arguments(..., .fun = "tidy()")
  out <- estimates(x, level = conf.level)
  if (!conf.int) out$conf.low <- out$conf.high <- NULL
  out
}

#' @rdname estimates
#' @exportS3Method generics::glance
glance.iclv_fit <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "glance()")
  s <- summary(x)
  data.frame(logLik = s$loglik, AIC = s$aic, BIC = s$bic, nobs = s$n_indiv,
             n_tasks = s$n_tasks, n_draws = s$n_draws, rho2 = s$rho2,
             iterations = s$convergence$iterations, converged = s$convergence$code == 0L,
             seconds = sum(s$timings))
}

#' @rdname iclv_fit-methods
#' @export
plot.iclv_fit <- function(x, type = c("trace", "memory", "lv", "shares"), newdata = NULL,
                          level = 0.95, ...) {
  refuse_unused_arguments(..., .fun = "plot()")
  type <- match.arg(type)
  if (!is.null(newdata) && type != "shares")
    stop("plot(): `newdata` is for type = \"shares\" only", call. = FALSE)
  if (type == "lv") return(invisible(plot_latent(x)))
  if (type == "shares") return(invisible(plot_shares(x, newdata, level)))
  if (type == "trace") {
    tr <- x$trace
    old <- graphics::par(mfrow = c(1, 2))
    on.exit(graphics::par(old))
    graphics::plot(tr$iteration, tr$loglik, type = "l", xlab = "iteration",
                   ylab = "log-likelihood", main = "Convergence")
    graphics::plot(tr$iteration, pmax(tr$gradient_norm, 1e-12), type = "l", log = "y",
                   xlab = "iteration", ylab = "gradient norm", main = "Gradient")
  } else {
    mem <- x$memory
    iter <- mem[!is.na(mem$iteration), , drop = FALSE]
    if (!nrow(iter)) iter <- mem
    x_axis <- if (all(is.na(iter$iteration))) seq_len(nrow(iter)) else iter$iteration
    gpu <- iter$gpu_mb
    ylim <- range(c(0, iter$cpu_mb, gpu), na.rm = TRUE)
    graphics::plot(x_axis, iter$cpu_mb, type = "l", ylim = ylim, xlab = "iteration",
                   ylab = "MB", main = "Memory")
    if (any(!is.na(gpu))) graphics::lines(x_axis, gpu, lty = 2)
    graphics::legend("bottomright", c("process RSS", "GPU (engine)"), lty = 1:2, bty = "n")
  }
  invisible(x)
}
