# Methods for iclv_fit: shapes and classes of what each returns, and the
# elements of the fit object that the documentation promises.

methods_model <- attitude_price_model()
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
  expect_identical(fit$draw_type, "adaptive halton draws")
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
  expect_named(fit$trace, c("iteration", "loglik", "gradient_norm", "seconds", "rss_mb",
                           "round"))
  expect_identical(fit$trace$iteration, seq.int(0L, fit$convergence$iterations))
  # The last round re-centred the points: the same up to that shift.
  expect_lt(abs(fit$trace$loglik[nrow(fit$trace)] - fit$loglik),
            1e-2 * fit$integration_error$error)
  expect_false(is.unsorted(fit$trace$seconds))
  expect_s3_class(fit$model, "iclv_model")
  expect_true(is.call(fit$call))
  expect_identical(fit$call[[1]], as.name("iclv"))
})

test_that("print() and summary() print and return the right classes", {
  out <- capture.output(res <- print(methods_fit))
  expect_identical(res, methods_fit)
  expect_match(out[1], "ICLV model")
  # a labelled header, then the estimates by block
  expect_true("  Individuals:    200" %in% out)
  expect_true("  Choice tasks:   600" %in% out)
  expect_true(sprintf("  Parameters:     %d free, 7 fixed", n_free) %in% out)
  expect_true(any(grepl(paste0("^  Integration:    simulation, 50 adaptive halton draws per ",
                               "individual; integration error of the log-likelihood"), out)))
  expect_true(any(startsWith(out, "  Log-likelihood: -")))
  expect_true(any(startsWith(out, "  Hessian:        negative definite (condition number")))
  expect_true(all(c("Structural equations:", "Choice model:") %in% out))
  expect_true(any(grepl("b_price", out)))
  expect_false(identical(capture.output(print(methods_fit, digits = 2)), out))

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
  expect_error(plot(methods_fit, newdata = methods_data), "for type = \"shares\" only")
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

test_that("every method refuses an argument it does not use, naming it", {
  expect_error(predict(methods_fit, methods_data, se.fit = TRUE),
               "predict() does not use the argument `se.fit`", fixed = TRUE)
  expect_error(predict(methods_fit, "lv"),
               "`newdata` must be a data frame, not character; give the type by name", fixed = TRUE)
  expect_error(coef(methods_fit, complete = TRUE), "coef() does not use the argument `complete`",
               fixed = TRUE)
  expect_error(vcov(methods_fit, "robust", TRUE), "vcov() does not use the argument `TRUE` (unnamed)",
               fixed = TRUE)
  expect_error(logLik(methods_fit, REML = TRUE), "logLik() does not use the argument `REML`",
               fixed = TRUE)
  expect_error(nobs(methods_fit, use.fallback = TRUE),
               "nobs() does not use the argument `use.fallback`", fixed = TRUE)
  expect_error(confint(methods_fit, levle = 0.9), "confint() does not use the argument `levle`",
               fixed = TRUE)
  expect_error(summary(methods_fit, correlation = TRUE, robust = TRUE),
               "summary() does not use the arguments `correlation`, `robust`", fixed = TRUE)
  expect_error(print(methods_fit, signif.stars = FALSE),
               "print() does not use the argument `signif.stars`", fixed = TRUE)
  expect_error(print(summary(methods_fit), signif.stars = FALSE),
               "print() does not use the argument `signif.stars`", fixed = TRUE)
  expect_error(plot(methods_fit, main = "x"), "plot() does not use the argument `main`", fixed = TRUE)
  expect_error(print(methods_model, digits = 3), "print() does not use the argument `digits`",
               fixed = TRUE)
  expect_error(memory_summary(methods_fit, last = 3),
               "memory_summary() does not use the argument `last`", fixed = TRUE)
  expect_error(memory_stats(methods_fit, last = 3),
               "memory_stats() does not use the argument `last`", fixed = TRUE)
  expect_error(print(memory_limits(), digits = 2), "print() does not use the argument `digits`",
               fixed = TRUE)
  expect_error(print(methods_fit$engine, digits = 2), "print() does not use the argument `digits`",
               fixed = TRUE)
  skip_if_not_installed("generics")
  expect_error(generics::tidy(methods_fit, exponentiate = TRUE),
               "tidy() does not use the argument `exponentiate`", fixed = TRUE)
  expect_error(generics::glance(methods_fit, extra = 1), "glance() does not use the argument `extra`",
               fixed = TRUE)
})

test_that("summary() reports LL(0), LL(C), rho-squared and the fixed parameters", {
  s <- summary(methods_fit)
  shares <- table(methods_data$choice)
  expect_equal(s$loglik_equal_shares, -600 * log(3))
  expect_equal(s$loglik_observed_shares, sum(shares * log(shares / 600)))
  expect_true(s$loglik_equal_shares < s$loglik_observed_shares)
  expect_true(s$loglik_observed_shares < s$loglik_choice)
  expect_equal(s$rho2, 1 - s$loglik_choice / (-600 * log(3)))
  # K = 4 free choice parameters: asc_A, b_price, b_att, asc_C
  expect_identical(s$n_par_choice, 4L)
  expect_equal(s$adj_rho2, 1 - (s$loglik_choice - 4) / (-600 * log(3)))
  params <- iclv_parameters(methods_model)
  expect_identical(s$fixed, stats::setNames(params$start[!params$free], params$name[!params$free]))
  expect_identical(s$fixed[["attitude~~attitude"]], 1)
  expect_match(s$hessian$status, "^negative definite \\(condition number [0-9.e+]+\\)$")
  condition <- as.numeric(sub(".*number ([^)]+)\\)$", "\\1", s$hessian$status))
  expect_equal(condition, kappa(-methods_fit$hessian, exact = TRUE), tolerance = 1e-2)
  expect_null(s$hessian$problem)
  out <- capture.output(print(s))
  expected_lines <- c(
    sprintf("  LL(0), equal shares:    %.4f", -600 * log(3)),
    sprintf("  LL(C), observed shares: %.4f", s$loglik_observed_shares),
    sprintf("  LL(final), per task:    %.4f", s$loglik_choice),
    sprintf("  rho-squared vs LL(0):   %.4f", s$rho2),
    sprintf("  adjusted rho-squared:   %.4f (4 choice parameters)", s$adj_rho2),
    sprintf("Log-likelihood at the starting values: %.4f", s$loglik_start),
    paste0("Hessian: ", s$hessian$status),
    "Fixed parameters:")
  for (line in expected_lines) expect_true(line %in% out, info = line)
})

test_that("LL(C) with varying availability is the fitted constants-only logit", {
  set.seed(3)
  avail <- cbind(1L, 1L, rbinom(300, 1, 0.6))
  utility <- cbind(0.4, 0, -0.3)
  choice <- apply(avail, 1, function(a) sample(3, 1, prob = a * exp(utility)))
  plain_loglik <- function(asc) {
    v <- c(asc, 0)
    sum(vapply(seq_along(choice), function(t) {
      v[choice[t]] - log(sum(exp(v[avail[t, ] == 1])))
    }, 0))
  }
  best <- optim(c(0, 0), plain_loglik, control = list(fnscale = -1, reltol = 1e-14))
  expect_equal(constants_only_loglik(choice, avail), best$value, tolerance = 1e-7)
  # with everything available, the observed shares
  counts <- tabulate(choice, 3)
  expect_equal(constants_only_loglik(choice, avail * 0L + 1L), sum(counts * log(counts / 300)))
})

test_that("the log-likelihood of each part at the estimates matches a plain R integration", {
  parts <- summary(methods_fit)$parts
  expect_identical(parts$part, c("q1", "q2", "q3", "choice model"))
  expect_identical(parts$n_obs, c(200, 200, 200, 600))
  expect_identical(parts$unit, c(rep("individuals", 3), "tasks"))
  # The fit's base points (its parts are integrated with them as they are,
  # not moved to the joint posterior): 50 Halton draws (seed 1), individuals
  # in id order 1..200, standardised per person as adaptive draws are.
  theta <- methods_fit$theta_full
  z <- iclv:::standardise_draws(iclv_draws(200, 50, 1, type = "halton", seed = 1))[, , 1]
  person <- methods_data[!duplicated(methods_data$id), ]
  eta <- theta[["attitude~age"]] * person$age + z
  indicator_loglik <- function(q) {
    tau <- c(-Inf, theta[paste0(q, "|t", 1:3)], Inf)
    loading <- theta[[paste0("attitude=~", q)]]
    answer <- person[[q]]
    prob <- pnorm(tau[answer + 1] - loading * eta) - pnorm(tau[answer] - loading * eta)
    sum(log(rowMeans(prob)))
  }
  expect_equal(parts$loglik[1:3], vapply(c("q1", "q2", "q3"), indicator_loglik, 0,
                                         USE.NAMES = FALSE), tolerance = 1e-10)
  # choices: per individual, the product over tasks averaged over the draws
  panel <- matrix(1, 200, 50)
  for (i in seq_len(nrow(methods_data))) {
    row <- methods_data[i, ]
    v <- cbind(theta[["asc_A"]] + theta[["b_price"]] * row$price_A + theta[["b_att"]] * eta[row$id, ],
               theta[["b_price"]] * row$price_B,
               theta[["asc_C"]] + theta[["b_price"]] * row$price_C)
    chosen <- match(row$choice, c("A", "B", "C"))
    panel[row$id, ] <- panel[row$id, ] * exp(v[, chosen]) / rowSums(exp(v))
  }
  expect_equal(parts$loglik[[4]], sum(log(rowMeans(panel))), tolerance = 1e-10)
  expect_output(print(summary(methods_fit)), "Log-likelihood of each part on its own at the estimates")
})

test_that("summary() gives the log-likelihood at the starting values", {
  truth <- attr(methods_data, "theta")[free_names]
  fit <- iclv(methods_model, methods_data, draws = 50, start = truth,
              control = iclv_control(threads = 1))
  at_truth <- iclv_loglik(methods_model, methods_data, truth, draws = 50, threads = 1)$loglik
  expect_equal(summary(fit)$loglik_start, at_truth)
  expect_true(summary(fit)$loglik_start < fit$loglik)
})

test_that("a Hessian that is not negative definite is explained by summary(), also after saveRDS()", {
  model <- iclv_model("attitude =~ q1 + q2 + q3",
    utility = list(A = ~ b_price * price_A + b_x * x_A + b_att * attitude,
                   B = ~ asc_B + b_price * price_B),
    choice = "choice", categories = 3)
  data <- iclv_simulate(model, n_indiv = 100, n_tasks = 3, seed = 8)
  data$x_A <- 0 # b_x multiplies nothing: the likelihood is flat along it
  # (the flat direction may also leave the gradient large: other warnings pass)
  warned <- character(0)
  fit <- withCallingHandlers(iclv(model, data, draws = 20, control = iclv_control(threads = 1)),
                             warning = function(w) {
                               warned <<- c(warned, conditionMessage(w))
                               invokeRestart("muffleWarning")
                             })
  expect_true(any(grepl("the Hessian is not negative definite", warned)))
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path))
  saveRDS(fit, path)
  loaded <- readRDS(path)
  s <- summary(loaded)
  expect_match(s$hessian$status, "^not negative definite; weakly identified in the direction of .*`b_x`")
  expect_match(s$hessian$problem, paste0(
    "^Classical and robust standard errors are NA: the information matrix \\(minus the Hessian ",
    "of the log-likelihood at the estimates\\) has smallest eigenvalue .*, so it cannot be ",
    "inverted\\. The weakest directions involve .*`b_x`"))
  expect_true(all(is.na(s$estimates$robust.std.error)))
  out <- paste(capture.output(print(s)), collapse = " ")
  expect_match(out, "Classical and robust standard errors are NA", fixed = TRUE)
  expect_match(out, "Hessian: not negative definite; weakly identified", fixed = TRUE)
  expect_output(print(loaded), "Hessian: +not negative definite")
})
