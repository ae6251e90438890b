# Methods for iclv_fit: shapes and classes of what each returns, and the
# elements of the fit object that the documentation promises.

methods_model <- iclv_model("
    attitude =~ q1 + q2 + q3
    attitude ~ age",
  utility = list(A = ~ asc_A + b_price * price_A + b_att * attitude,
                 B = ~ b_price * price_B,
                 C = ~ asc_C + b_price * price_C),
  choice = "choice", id = "id", categories = 4)
methods_data <- iclv_simulate(methods_model, n_indiv = 200, n_tasks = 3, seed = 21)
methods_fit <- iclv(methods_model, methods_data, draws = 50,
                    control = iclv_control(threads = 2))
free_names <- with(iclv_parameters(methods_model), name[free])
n_free <- length(free_names)

test_that("the fit has the documented elements", {
  fit <- methods_fit
  expect_s3_class(fit, "iclv_fit")
  for (element in c("coefficients", "vcov", "loglik", "n_indiv", "n_tasks", "n_draws",
                    "draw_type", "backend", "convergence", "timings", "trace", "model",
                    "call"))
    expect_true(element %in% names(fit), info = element)
  expect_identical(names(fit$coefficients), free_names)
  expect_named(fit$vcov, c("classical", "robust", "bhhh"))
  expect_true(is.numeric(fit$loglik) && length(fit$loglik) == 1L && fit$loglik < 0)
  expect_identical(fit$n_indiv, 200L)
  expect_identical(fit$n_tasks, 600L)
  expect_identical(fit$n_draws, 50L)
  expect_identical(fit$draw_type, "halton")
  expect_identical(fit$backend, "cpu")
  expect_true(all(c("code", "message", "iterations", "gradient_norm") %in%
                    names(fit$convergence)))
  expect_identical(fit$convergence$code, 0L)
  expect_type(fit$convergence$message, "character")
  expect_true(fit$convergence$iterations >= 1)
  expect_true(fit$convergence$gradient_norm >= 0)
  expect_named(fit$timings, c("setup", "start", "estimation", "standard_errors"))
  expect_true(all(fit$timings >= 0))
  expect_s3_class(fit$trace, "data.frame")
  expect_named(fit$trace, c("iteration", "loglik", "gradient_norm", "seconds", "rss_mb"))
  expect_identical(fit$trace$iteration, seq.int(0L, fit$convergence$iterations))
  expect_equal(fit$trace$loglik[nrow(fit$trace)], fit$loglik, tolerance = 1e-8)
  expect_false(is.unsorted(fit$trace$seconds))
  expect_s3_class(fit$model, "iclv_model")
  expect_true(is.call(fit$call))
  expect_identical(fit$call[[1]], as.name("iclv"))
})

test_that("print() and summary() print and return the right classes", {
  out <- capture.output(res <- print(methods_fit))
  expect_identical(res, methods_fit)
  expect_match(out[1], "ICLV model")
  expect_true(any(grepl("200 individuals, 600 choice tasks", out)))
  expect_true(any(grepl("integration: simulation, 50 halton draws per individual", out)))
  expect_true(any(grepl("b_price", out)))

  s <- summary(methods_fit)
  expect_s3_class(s, "summary.iclv_fit")
  expect_s3_class(s$estimates, "data.frame")
  expect_equal(nrow(s$estimates), n_free)
  expect_equal(s$loglik, methods_fit$loglik)
  expect_equal(s$aic, -2 * methods_fit$loglik + 2 * n_free)
  expect_equal(s$bic, -2 * methods_fit$loglik + log(200) * n_free)
  expect_true(s$rho2 > 0 && s$rho2 < 1)
  out <- capture.output(res <- print(s))
  expect_identical(res, s)
  for (title in c("Structural equations", "Measurement equations", "Thresholds",
                  "Choice model", "Log-likelihood", "rho-squared", "Convergence"))
    expect_true(any(grepl(title, out, fixed = TRUE)), info = title)
  expect_true(any(grepl("asc_C", out, fixed = TRUE)))
})

test_that("coef(), vcov(), logLik() and nobs() have the right shapes", {
  est <- coef(methods_fit)
  expect_type(est, "double")
  expect_named(est, free_names)
  for (type in c("robust", "classical", "bhhh")) {
    v <- vcov(methods_fit, type = type)
    expect_true(is.matrix(v), info = type)
    expect_identical(dimnames(v), list(free_names, free_names), info = type)
    expect_true(all(is.finite(v)), info = type)
    expect_identical(v, methods_fit$vcov[[type]], info = type)
  }
  expect_identical(vcov(methods_fit), methods_fit$vcov$robust)
  expect_error(vcov(methods_fit, type = "sandwich"), "should be one of")

  ll <- logLik(methods_fit)
  expect_s3_class(ll, "logLik")
  expect_equal(as.numeric(ll), methods_fit$loglik)
  expect_identical(attr(ll, "df"), n_free)
  expect_identical(attr(ll, "nobs"), 200L)
  expect_equal(AIC(methods_fit), -2 * methods_fit$loglik + 2 * n_free)
  expect_equal(BIC(methods_fit), -2 * methods_fit$loglik + log(200) * n_free)
  expect_identical(nobs(methods_fit), 200L)
})

test_that("confint() gives a P x 2 matrix of Wald intervals", {
  ci <- confint(methods_fit)
  expect_true(is.matrix(ci))
  expect_equal(dim(ci), c(n_free, 2L))
  expect_identical(rownames(ci), free_names)
  expect_identical(colnames(ci), c("2.5 %", "97.5 %"))
  se <- sqrt(diag(vcov(methods_fit)))
  expect_equal(ci[, 1], coef(methods_fit) - qnorm(0.975) * se)
  expect_equal(ci[, 2], coef(methods_fit) + qnorm(0.975) * se)
  ci90 <- confint(methods_fit, parm = c("b_price", "b_att"), level = 0.9)
  expect_equal(dim(ci90), c(2L, 2L))
  expect_identical(colnames(ci90), c("5 %", "95 %"))
  expect_true(all(ci90[, 1] > ci[c("b_price", "b_att"), 1]))
})

test_that("predict(type = \"prob\") gives one row per task with probabilities summing to 1", {
  prob <- predict(methods_fit, type = "prob")
  expect_s3_class(prob, "data.frame")
  expect_equal(nrow(prob), 600L)
  alternatives <- c("A", "B", "C")
  expect_true(all(alternatives %in% names(prob)))
  p <- as.matrix(prob[alternatives])
  expect_true(all(p >= 0 & p <= 1))
  expect_equal(unname(rowSums(p)), rep(1, 600))
  expect_identical(prob$id, methods_data$id)
  # The default type is "prob"; the chosen alternatives' log-probabilities
  # give the choice part's log-likelihood.
  expect_identical(predict(methods_fit), prob)
  chosen <- p[cbind(seq_len(600), match(methods_data$choice, alternatives))]
  expect_equal(sum(log(chosen)), summary(methods_fit)$loglik_choice)
})

test_that("predict(type = \"lv\") gives one row per individual with means and sds", {
  lv <- predict(methods_fit, type = "lv")
  expect_s3_class(lv, "data.frame")
  expect_equal(nrow(lv), 200L)
  expect_named(lv, c("id", "attitude", "attitude_sd"))
  expect_identical(lv$id, unique(methods_data$id))
  expect_true(all(is.finite(lv$attitude)))
  expect_true(all(lv$attitude_sd > 0 & lv$attitude_sd < 1.5))
  # The posterior means track the simulated latent variables.
  expect_gt(cor(lv$attitude, attr(methods_data, "latent")[, "attitude"]), 0.6)
  expect_error(predict(methods_fit, type = "eta"), "should be one of")
})

test_that("predict() works on a fit that was saved and loaded", {
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path))
  saveRDS(methods_fit, path)
  loaded <- readRDS(path)
  expect_equal(predict(loaded, type = "prob"), predict(methods_fit, type = "prob"))
  expect_equal(predict(loaded, type = "lv"), predict(methods_fit, type = "lv"))
})

test_that("update() refits with changed arguments", {
  fit20 <- update(methods_fit, draws = 20)
  expect_s3_class(fit20, "iclv_fit")
  expect_identical(fit20$n_draws, 20L)
  expect_identical(names(coef(fit20)), free_names)
  expect_false(isTRUE(all.equal(fit20$loglik, methods_fit$loglik)))
  expect_identical(fit20$call$draws, 20)
})

test_that("plot() draws the trace and memory panels", {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_identical(plot(methods_fit), methods_fit)
  expect_identical(plot(methods_fit, type = "trace"), methods_fit)
  expect_identical(plot(methods_fit, type = "memory"), methods_fit)
  expect_error(plot(methods_fit, type = "pie"), "should be one of")
})

test_that("estimates() has broom's columns plus block and robust.std.error", {
  est <- estimates(methods_fit)
  expect_s3_class(est, "data.frame")
  expect_equal(nrow(est), n_free)
  expect_true(all(c("term", "estimate", "std.error", "statistic", "p.value", "conf.low",
                    "conf.high", "block", "robust.std.error") %in% names(est)))
  expect_identical(est$term, free_names)
  expect_equal(est$estimate, unname(coef(methods_fit)))
  expect_equal(est$std.error, unname(sqrt(diag(vcov(methods_fit)))))
  expect_equal(est$robust.std.error, unname(sqrt(diag(vcov(methods_fit, "robust")))))
  expect_equal(est$statistic, est$estimate / est$std.error)
  expect_true(all(est$p.value >= 0 & est$p.value <= 1))
  expect_equal(unname(as.matrix(est[c("conf.low", "conf.high")])),
               unname(confint(methods_fit)))
  params <- iclv_parameters(methods_model)
  expect_identical(est$block, params$block[match(est$term, params$name)])
  expect_setequal(unique(est$block), c("structural", "measurement", "thresholds", "choice"))
  expect_error(estimates(list()), "`fit` must be an iclv_fit")
})

test_that("tidy() and glance() work through generics", {
  skip_if_not_installed("generics")
  td <- generics::tidy(methods_fit)
  expect_identical(td, estimates(methods_fit))
  td90 <- generics::tidy(methods_fit, conf.int = FALSE)
  expect_false(any(c("conf.low", "conf.high") %in% names(td90)))
  gl <- generics::glance(methods_fit)
  expect_s3_class(gl, "data.frame")
  expect_equal(nrow(gl), 1L)
  expect_true(all(c("logLik", "AIC", "BIC", "nobs") %in% names(gl)))
  expect_equal(gl$logLik, methods_fit$loglik)
  expect_identical(gl$nobs, 200L)
  expect_true(gl$converged)
})

test_that("methods cope with a fit without standard errors", {
  fit <- methods_fit
  fit$vcov <- lapply(fit$vcov, function(v) v * NA_real_)
  est <- estimates(fit)
  expect_true(all(is.na(est$std.error)))
  expect_equal(dim(confint(fit)), c(n_free, 2L))
  expect_output(print(summary(fit)), "Choice model")
})
