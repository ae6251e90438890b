# Methods for iclv_fit, mirroring stats: print, summary, coef, vcov, logLik,
# nobs, confint, predict, plot; estimates() (broom's columns), tidy(),
# glance().

#' Methods for fitted ICLV models
#'
#' @param object,x An `iclv_fit` from [iclv()].
#' @param type For `vcov()`: `"robust"` (default of the fit), `"classical"`
#'   or `"bhhh"`. For `predict()`: `"prob"` (choice probabilities per task,
#'   averaged over the draws, one row per row of the data, in its order) or
#'   `"lv"` (one row per individual, in sorted id order: each person's
#'   posterior mean and standard deviation of every latent variable given
#'   their answers and choices). For `plot()`: `"trace"` (convergence) or
#'   `"memory"`.
#' @param parm,level As in [stats::confint()].
#' @param ... Unused.
#' @name iclv_fit-methods
#' @return `coef()`: named estimates (natural scale). `vcov()`: a matrix.
#'   `logLik()`: a `logLik` object with `df` and `nobs`. `nobs()`: the number
#'   of individuals. `confint()`: a matrix of Wald intervals. `predict()`: a
#'   data frame.
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
#' head(predict(fit, type = "prob"))
#' head(predict(fit, type = "lv"))
NULL

#' @rdname iclv_fit-methods
#' @export
coef.iclv_fit <- function(object, ...) object$coefficients

#' @rdname iclv_fit-methods
#' @export
vcov.iclv_fit <- function(object, type = object$se_type, ...) {
  type <- match.arg(type, c("robust", "classical", "bhhh"))
  object$vcov[[type]]
}

#' @rdname iclv_fit-methods
#' @export
logLik.iclv_fit <- function(object, ...) {
  structure(object$loglik, df = object$n_par, nobs = object$n_indiv, class = "logLik")
}

#' @rdname iclv_fit-methods
#' @export
nobs.iclv_fit <- function(object, ...) object$n_indiv

#' @rdname iclv_fit-methods
#' @export
confint.iclv_fit <- function(object, parm, level = 0.95, type = object$se_type, ...) {
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
print.iclv_fit <- function(x, ...) {
  cat("ICLV model estimated by simulated maximum likelihood\n")
  cat(sprintf("  %d individuals, %d choice tasks, %d free parameters\n", x$n_indiv, x$n_tasks,
              x$n_par))
  cat("  integration:", integration_label(x), "\n")
  cat(sprintf("  log-likelihood %.4f after %d iterations (%s), %.1f s on %s\n", x$loglik,
              x$convergence$iterations, x$convergence$message, sum(x$timings), x$backend))
  # Degenerate solution and disagreeing starts (R/degenerate.R, R/multistart.R).
  if (length(notes <- fit_notes(x))) cat(notes, sep = "\n")
  cat("\nEstimates:\n")
  print(round(coef(x), 4))
  invisible(x)
}

#' @rdname iclv_fit-methods
#' @export
summary.iclv_fit <- function(object, ...) {
  est <- estimates(object)
  loglik <- object$loglik
  k <- object$n_par
  n <- object$n_indiv
  choice_ll <- object$loglik_choice
  structure(list(
    estimates = est,
    loglik = loglik,
    aic = -2 * loglik + 2 * k,
    bic = -2 * loglik + log(n) * k,
    loglik_choice = choice_ll[["model"]],
    loglik_equal_shares = choice_ll[["equal_shares"]],
    rho2 = 1 - choice_ll[["model"]] / choice_ll[["equal_shares"]],
    n_indiv = n, n_tasks = object$n_tasks, n_draws = object$n_draws,
    draw_type = object$draw_type, n_par = k, convergence = object$convergence,
    timings = object$timings, backend = object$backend, threads = object$threads,
    se_type = object$se_type, stages = object$start_stages,
    integration = integration_label(object),
    notes = fit_notes(object)
  ), class = "summary.iclv_fit")
}

# How the latent variables were integrated out, in words.
integration_label <- function(fit) {
  integration <- fit$integration
  if (is.null(integration) || integration$method == "simulation")
    return(sprintf("simulation, %d %s draws per individual", fit$n_draws, fit$draw_type))
  sprintf("%s, %s %d, %d points per individual", fit$draw_type,
          if (integration$type == "tensor") "nodes per latent variable" else "accuracy level",
          integration$nodes, fit$n_draws)
}

#' @rdname iclv_fit-methods
#' @export
print.summary.iclv_fit <- function(x, ...) {
  cat("ICLV model: maximum likelihood\n")
  cat(sprintf("%d individuals, %d choice tasks\n", x$n_indiv, x$n_tasks))
  cat("Integration:", x$integration, "\n\n")
  est <- x$estimates
  titles <- c(structural = "Structural equations", measurement = "Measurement equations",
              thresholds = "Thresholds", choice = "Choice model")
  for (block in names(titles)) {
    rows <- est[est$block == block, , drop = FALSE]
    if (!nrow(rows)) next
    cat(titles[[block]], "\n", sep = "")
    table <- data.frame(
      Estimate = rows$estimate, `Std. Error` = rows$classical.std.error,
      `Robust SE` = rows$robust.std.error, `z value` = rows$statistic,
      `Pr(>|z|)` = rows$p.value, check.names = FALSE, row.names = rows$term)
    stats::printCoefmat(as.matrix(table), digits = 4, has.Pvalue = TRUE, P.values = TRUE,
                        cs.ind = 1:3, tst.ind = 4, signif.legend = FALSE)
    cat("\n")
  }
  cat(sprintf("z and p use %s standard errors.\n", x$se_type))
  cat(sprintf("Log-likelihood: %.4f   AIC: %.2f   BIC: %.2f   (%d parameters)\n", x$loglik,
              x$aic, x$bic, x$n_par))
  if (!is.na(x$rho2))
    cat(sprintf("Choice part: log-likelihood %.4f, equal shares %.4f, rho-squared %.4f\n",
                x$loglik_choice, x$loglik_equal_shares, x$rho2))
  conv <- x$convergence
  cat(sprintf("Convergence: %s after %d iterations (%d evaluations), max |gradient| %.2e\n",
              conv$message, conv$iterations, conv$evaluations, conv$gradient_max))
  if (length(x$notes)) cat(x$notes, sep = "\n")
  cat(sprintf("Time: %.2f s (setup %.2f, starting values %.2f, estimation %.2f, standard errors %.2f) on %s with %d thread(s)\n",
              sum(x$timings), x$timings[["setup"]], x$timings[["start"]],
              x$timings[["estimation"]], x$timings[["standard_errors"]], x$backend, x$threads))
  invisible(x)
}

#' Estimates of a fitted ICLV model as a data frame
#'
#' One row per free parameter with broom's columns (`term`, `estimate`,
#' `std.error`, `statistic`, `p.value`, `conf.low`, `conf.high`) plus `block`,
#' `robust.std.error`, `classical.std.error` and `bhhh.std.error`.
#' `std.error` is the fit's default type (`iclv_control(se =)`).
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
  se_of <- function(type) sqrt(pmax(diag(fit$vcov[[type]]), 0))
  se <- se_of(fit$se_type)
  z <- est / se
  q <- stats::qnorm(1 - (1 - level) / 2)
  params <- fit$model$params
  data.frame(
    term = names(est), estimate = unname(est), std.error = unname(se),
    statistic = unname(z), p.value = unname(2 * stats::pnorm(-abs(z))),
    conf.low = unname(est - q * se), conf.high = unname(est + q * se),
    block = params$block[match(names(est), params$name)],
    robust.std.error = unname(se_of("robust")),
    classical.std.error = unname(se_of("classical")),
    bhhh.std.error = unname(se_of("bhhh")),
    stringsAsFactors = FALSE
  )
}

#' @rdname estimates
#' @param x An `iclv_fit`.
#' @param conf.int,conf.level,... As in broom's `tidy()`.
#' @exportS3Method generics::tidy
tidy.iclv_fit <- function(x, conf.int = TRUE, conf.level = 0.95, ...) {
  out <- estimates(x, level = conf.level)
  if (!conf.int) out$conf.low <- out$conf.high <- NULL
  out
}

#' @rdname estimates
#' @exportS3Method generics::glance
glance.iclv_fit <- function(x, ...) {
  s <- summary(x)
  data.frame(logLik = s$loglik, AIC = s$aic, BIC = s$bic, nobs = s$n_indiv,
             n_tasks = s$n_tasks, n_draws = s$n_draws, rho2 = s$rho2,
             iterations = s$convergence$iterations, converged = s$convergence$code == 0L,
             seconds = sum(s$timings))
}

#' @rdname iclv_fit-methods
#' @export
predict.iclv_fit <- function(object, type = c("prob", "lv"), ...) {
  type <- match.arg(type)
  engine <- fit_engine(object)
  ids <- object$prepared$ids
  if (type == "prob") {
    if (!object$n_tasks) stop("the model has no choice part", call. = FALSE)
    prob <- t(engine_predict(engine, object$theta_full, "prob"))
    colnames(prob) <- object$model$alternatives
    task_indiv <- rep.int(seq_along(ids), diff(object$prepared$task_ptr))
    out <- data.frame(id = ids[task_indiv], row = object$prepared$rows, prob,
                      check.names = FALSE)[order(object$prepared$rows), , drop = FALSE]
    rownames(out) <- NULL
    return(out)
  }
  lv <- engine_predict(engine, object$theta_full, "lv")
  mean <- t(lv$mean)
  sd <- t(lv$sd)
  latent <- object$model$latent
  colnames(mean) <- latent
  colnames(sd) <- paste0(latent, "_sd")
  data.frame(id = ids, mean, sd, check.names = FALSE)
}

#' @rdname iclv_fit-methods
#' @export
plot.iclv_fit <- function(x, type = c("trace", "memory"), ...) {
  type <- match.arg(type)
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
