# iclv(): recovery of known parameters on simulated data, classical standard
# errors against numerical second derivatives, the warnings that tell the
# user what to try, the trace, and the errors for bad arguments.

recovery_model <- attitude_covariates_model()
recovery_data <- iclv_simulate(recovery_model, n_indiv = 1000, n_tasks = 4, seed = 11)
recovery_fit <- iclv(recovery_model, recovery_data, draws = 100,
                     control = iclv_control(threads = 2))

# A small model (12 free parameters) for the numerical Hessian.
small_model <- attitude_binary_model()
small_data <- iclv_simulate(small_model, n_indiv = 300, n_tasks = 4, seed = 5)
tight <- iclv_control(threads = 2, reltol = 1e-12, gradtol = 1e-9)
small_fit <- iclv(small_model, small_data, draws = 50, control = tight)

test_that("estimates recover the simulation's parameters within 3 robust standard errors", {
  expect_s3_class(recovery_fit, "iclv_fit")
  expect_identical(recovery_fit$convergence$code, 0L)
  est <- coef(recovery_fit)
  truth <- attr(recovery_data, "theta")[names(est)]
  free_names <- with(iclv_parameters(recovery_model), name[free])
  expect_identical(names(est), free_names)
  se <- sqrt(diag(vcov(recovery_fit, type = "robust")))
  expect_true(all(is.finite(se) & se > 0))
  z <- (est - truth) / se
  expect_gte(mean(abs(z) < 3), 0.95)
  # The optimizer climbed: the final log-likelihood is the trace's best, up
  # to the shift of re-centring the points (each adaptive round integrates
  # with other points; the shift is far below the integration error).
  trace <- recovery_fit$trace
  expect_gte(recovery_fit$loglik, max(trace$loglik) - 0.05 * recovery_fit$integration_error$error)
  expect_gte(recovery_fit$convergence$adaptive_rounds, 3L)
  expect_gt(recovery_fit$loglik, recovery_fit$trace$loglik[1])
  expect_lt(recovery_fit$convergence$gradient_relative, 1e-4)
})

test_that("the log-likelihood of the fit is the engine's at the estimates", {
  at_fit <- iclv_engine_eval(iclv:::fit_engine(small_fit), small_model, coef(small_fit))
  expect_identical(small_fit$loglik, at_fit$loglik)
  # Re-centred at the estimates themselves: the same up to the re-centring shift.
  direct <- iclv_loglik(small_model, small_data, coef(small_fit), draws = 50, threads = 1)
  expect_lt(abs(small_fit$loglik - direct$loglik), 1e-3 * small_fit$integration_error$error)
  # At the maximum the analytic gradient vanishes (relative to the curvature).
  expect_lt(max(abs(direct$gradient * sqrt(diag(vcov(small_fit, "classical"))))), 1e-4)
})

test_that("classical standard errors match numDeriv's Hessian of the log-likelihood", {
  skip_if_not_installed("numDeriv")
  expect_identical(small_fit$convergence$code, 0L)
  loglik_at <- function(theta) {
    iclv_engine_eval(small_fit$engine, small_model, theta, gradient = FALSE)$loglik
  }
  hessian <- numDeriv::hessian(loglik_at, coef(small_fit))
  se_numderiv <- sqrt(diag(solve(-hessian)))
  se_fit <- sqrt(diag(vcov(small_fit, "classical")))
  expect_identical(names(se_fit), names(coef(small_fit)))
  expect_equal(unname(se_fit), se_numderiv, tolerance = 1e-4)
  expect_lt(max(abs(se_fit / se_numderiv - 1)), 1e-4)
})

test_that("the three covariance matrices are consistent with the stored Hessian and scores", {
  v <- small_fit$vcov
  expect_named(v, c("classical", "robust", "bhhh"))
  for (type in names(v)) {
    expect_equal(dim(v[[type]]), rep(small_fit$n_par, 2))
    expect_equal(v[[type]], t(v[[type]]))
    expect_true(all(eigen(v[[type]], symmetric = TRUE, only.values = TRUE)$values > 0))
  }
  # BHHH: inverse outer product of the per-individual scores (natural scale).
  scores <- small_fit$scores
  expect_equal(dim(scores), c(small_fit$n_indiv, small_fit$n_par))
  expect_equal(unname(v$bhhh), unname(solve(crossprod(scores))), tolerance = 1e-6)
  # Robust: sandwich of the classical one around the score outer product.
  sandwich <- v$classical %*% crossprod(scores) %*% v$classical
  expect_equal(unname(v$robust), unname(sandwich), tolerance = 1e-6)
  # On a correctly specified model the three agree roughly.
  ratio <- sqrt(diag(v$robust)) / sqrt(diag(v$classical))
  expect_true(all(ratio > 0.7 & ratio < 1.4))
})

test_that("the analytic Hessian gives the standard errors of central differences", {
  differences <- iclv(small_model, small_data, draws = 50,
                      control = iclv_control(threads = 2, reltol = 1e-12, gradtol = 1e-9,
                                             hessian = "differences"))
  expect_identical(coef(differences), coef(small_fit))
  expect_lt(max(abs(small_fit$hessian - differences$hessian)) / max(abs(differences$hessian)),
            1e-6)
  for (type in c("classical", "robust")) {
    se_analytic <- sqrt(diag(vcov(small_fit, type)))
    se_differences <- sqrt(diag(vcov(differences, type)))
    expect_lt(max(abs(se_analytic / se_differences - 1)), 1e-5)
  }
  expect_identical(vcov(small_fit, "bhhh"), vcov(differences, "bhhh"))
})

test_that("the default standard error type follows iclv_control(se =)", {
  expect_identical(vcov(small_fit), small_fit$vcov$robust)
  fit_bhhh <- iclv(small_model, small_data, draws = 20,
                   control = iclv_control(threads = 2, se = "bhhh"))
  expect_identical(vcov(fit_bhhh), fit_bhhh$vcov$bhhh)
  expect_equal(estimates(fit_bhhh)$std.error, unname(sqrt(diag(fit_bhhh$vcov$bhhh))))
  # se = "bhhh" computes no Hessian; vcov() of another type computes it on
  # demand, and says so: the same as a fit that computed it.
  expect_null(fit_bhhh$hessian)
  expect_null(fit_bhhh$vcov$classical)
  expect_true(all(is.na(estimates(fit_bhhh)$classical.std.error)))
  expect_match(summary(fit_bhhh)$hessian$status, "not computed \\(se = \"bhhh\"")
  fit_robust <- iclv(small_model, small_data, draws = 20, control = iclv_control(threads = 2))
  expect_identical(coef(fit_bhhh), coef(fit_robust))
  for (type in c("classical", "robust")) {
    expect_message(v <- vcov(fit_bhhh, type), "se = \"bhhh\", which computes no Hessian")
    expect_equal(v, vcov(fit_robust, type), tolerance = 1e-10)
  }
  expect_message(interval <- confint(fit_bhhh, type = "classical"), "computes no Hessian")
  expect_equal(interval, confint(fit_robust, type = "classical"), tolerance = 1e-10)
  printed <- capture.output(print(summary(fit_bhhh)))
  expect_true(any(grepl("BHHH SE", printed)))
  expect_false(any(grepl("Robust SE", printed)))
})

test_that("starting values given by the user are used and the stages are recorded", {
  expect_identical(recovery_fit$start_stages, c("defaults", "latent", "mnl"))
  all_start <- coef(small_fit)
  fit <- iclv(small_model, small_data, draws = 50, start = all_start, control = tight)
  expect_identical(fit$start_stages, "defaults")
  expect_equal(coef(fit), coef(small_fit), tolerance = 1e-6)
  # A whole parameter vector, fixed parameters at their values included.
  whole <- small_fit$theta_full
  expect_gt(length(whole), length(all_start))
  fit_whole <- iclv(small_model, small_data, draws = 50, start = whole, control = tight)
  expect_identical(coef(fit_whole), coef(fit))
  # Without stages, from the table's defaults, the same maximum is reached.
  fit_plain <- iclv(small_model, small_data, draws = 50,
                    control = iclv_control(threads = 2, reltol = 1e-12, gradtol = 1e-9,
                                           start_stages = FALSE))
  expect_equal(coef(fit_plain), coef(small_fit), tolerance = 1e-5)
})

test_that("results do not depend on the number of threads", {
  one <- iclv(small_model, small_data, draws = 50,
              control = iclv_control(threads = 1, reltol = 1e-12, gradtol = 1e-9))
  expect_identical(coef(one), coef(small_fit))
  expect_identical(one$loglik, small_fit$loglik)
  expect_identical(vcov(one), vcov(small_fit))
  # From other starting values (another path through the adaptive rounds):
  # the same estimates.
  fit1 <- iclv(small_model, small_data, draws = 50, start = coef(small_fit),
               control = iclv_control(threads = 1, reltol = 1e-12, gradtol = 1e-9))
  expect_equal(coef(fit1), coef(small_fit), tolerance = 1e-6)
  expect_lt(abs(fit1$loglik - small_fit$loglik), 1e-3 * small_fit$integration_error$error)
})

test_that("the same data in any row order give bitwise the same estimates", {
  one_thread <- iclv_control(threads = 1)
  fit <- iclv(small_model, small_data, draws = 20, control = one_thread)
  set.seed(8)
  shuffled <- small_data[sample(nrow(small_data)), ]
  fit_shuffled <- iclv(small_model, shuffled, draws = 20, control = one_thread)
  expect_identical(coef(fit_shuffled), coef(fit))
  expect_identical(fit_shuffled$loglik, fit$loglik)
  expect_identical(vcov(fit_shuffled), vcov(fit))
  # Draws belong to ids, not to rows: predictions follow the rows they describe.
  expect_identical(predict(fit_shuffled)$row, seq_len(nrow(shuffled)))
  expect_equal(predict(fit_shuffled)$A, predict(fit)$A[match(rownames(shuffled),
                                                             rownames(small_data))])
})

test_that("trace = TRUE prints one line per iteration", {
  lines <- character()
  fit <- withCallingHandlers(
    iclv(small_model, small_data, draws = 20, control = iclv_control(threads = 2, trace = TRUE)),
    message = function(m) {
      lines <<- c(lines, conditionMessage(m))
      invokeRestart("muffleMessage")
    })
  expect_length(lines, nrow(fit$trace))
  expect_match(lines, "^iter +[0-9]+ +loglik +-?[0-9.]+ +\\|grad\\|")
  expect_match(lines[1], "^iter +0 ")
  # expect_message() takes the first line; the others are muffled outside it.
  suppressMessages(expect_message(
    iclv(small_model, small_data, draws = 20, start = coef(small_fit),
         control = iclv_control(threads = 2, trace = TRUE)),
    "^iter +0 +loglik"))
  expect_silent(iclv(small_model, small_data, draws = 20, start = coef(small_fit),
                     control = iclv_control(threads = 2)))
})

test_that("too few iterations give a warning that names maxit", {
  warnings <- character()
  fit <- withCallingHandlers(
    iclv(small_model, small_data, draws = 20,
         control = iclv_control(threads = 2, maxit = 2, start_stages = FALSE)),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_true(any(grepl("no convergence within [0-9]+ iterations: increase .*maxit",
                        warnings)))
  # Far from the maximum, the gradient warning says so too.
  expect_true(any(grepl("gradient is still large", warnings)))
  expect_identical(fit$convergence$code, 1L)
  expect_match(fit$convergence$message, "iteration limit")
  expect_lte(fit$convergence$iterations, 2L)
})

test_that("an active bound gives a warning that names the parameter", {
  truth <- attr(small_data, "theta")[["b_price"]]
  expect_lt(truth, -0.1)
  warnings <- character()
  fit <- withCallingHandlers(
    iclv(small_model, small_data, draws = 20,
         control = iclv_control(threads = 2, lower = c(b_price = -0.1))),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_true(any(grepl("at a bound", warnings)))
  expect_true(any(grepl("`b_price`", warnings[grepl("at a bound", warnings)])))
  # The gradient of a parameter held at its bound is not a convergence problem.
  expect_false(any(grepl("gradient is still large", warnings)))
  expect_equal(coef(fit)[["b_price"]], -0.1)
  expect_equal(fit$bounds$lower, c(b_price = -0.1))
  # An inactive bound changes nothing and warns of nothing.
  expect_silent(fit_free <- iclv(small_model, small_data, draws = 50,
                                 control = iclv_control(threads = 2, upper = c(b_price = 5))))
  expect_equal(coef(fit_free), coef(small_fit), tolerance = 1e-4)
})

test_that("bad arguments to iclv() raise clear errors", {
  expect_error(iclv(list(), small_data), "`model` must be an iclv_model")
  expect_error(iclv(small_model, small_data, draws = 0), "`draws` must be a positive whole")
  expect_error(iclv(small_model, small_data, draws = 2.5), "got 2.5")
  expect_error(iclv(small_model, small_data, draws = "many"), "`draws`")
  expect_error(iclv(small_model, small_data, start = c(foo = 1)),
               "`start` names unknown parameter\\(s\\) `foo`")
  expect_error(iclv(small_model, small_data, start = c(`q1~~q1` = 2)),
               "`start` gives `q1~~q1` = 2 \\(fixed at 1\\)")
  expect_error(iclv(small_model, small_data, start = c(b_price = Inf)),
               "non-finite values: `b_price`")
  expect_error(iclv(small_model, small_data, start = c(b_price = NA_real_)),
               "non-finite values: `b_price`")
  expect_error(iclv(small_model, small_data, start = c(-1, 1)), "named numeric vector")
  expect_error(iclv(small_model, small_data, start = c(b_price = 1, b_price = 2)),
               "more than once")
  expect_error(iclv(small_model, small_data, control = list(maxit = 3)),
               "`control` must come from iclv_control\\(\\)")
  expect_error(iclv(small_model, small_data, backend = "tpu"), "`backend` must be one of")
  expect_error(iclv(small_model, small_data, resume = tempfile(fileext = ".rds")),
               "`resume`: checkpoint file .* does not exist")
  expect_error(iclv(small_model, small_data, control = iclv_control(lower = c(foo = 0))),
               "`lower` names unknown parameter\\(s\\) `foo`")
  expect_error(iclv(small_model, small_data, control = iclv_control(upper = c(`q1|t1` = 0))),
               "bounds are not supported .*`q1\\|t1`")
})

test_that("bad arguments to iclv_control() raise clear errors", {
  expect_s3_class(iclv_control(), "iclv_control")
  expect_error(iclv_control(maxit = 0), "`maxit` must be a whole number >= 1, got 0")
  expect_error(iclv_control(maxit = 1.5), "`maxit`")
  expect_error(iclv_control(reltol = -1), "`reltol` must be a positive number")
  expect_error(iclv_control(gradtol = 0), "`gradtol` must be a positive number")
  expect_error(iclv_control(se = "foo"), "robust.*classical.*bhhh")
  expect_error(iclv_control(checkpoint = 3), "`checkpoint` must be a file name or NULL")
  expect_error(iclv_control(checkpoint = ""), "`checkpoint` must be a file name")
  expect_error(iclv_control(checkpoint_every = 0), "`checkpoint_every`")
  expect_error(iclv_control(memory = list()), "`memory` must come from memory_limits\\(\\)")
  expect_error(iclv_control(trace = NA), "`trace` must be TRUE or FALSE")
  expect_error(iclv_control(threads = 0), "`threads` must be a positive whole number")
  expect_error(iclv_control(lower = 3), "`lower` must be a named numeric vector")
  expect_error(iclv_control(upper = c(b = "x")), "`upper` must be a named numeric vector")
  expect_error(iclv_control(hessian_step = 0), "`hessian_step`")
  expect_error(iclv_control(hessian = "numerical"), "`hessian` must be one of \"analytic\", \"differences\"")
})

test_that("backend = \"gpu\" says why it cannot run where there is no usable GPU", {
  skip_if(iclv:::gpu_usable())
  expect_error(iclv(small_model, small_data, backend = "gpu"),
               "backend = \"gpu\": (iclv was built without CUDA|no usable CUDA device)")
  expect_error(iclv_loglik(small_model, small_data,
                           attr(small_data, "theta")[iclv_parameters(small_model)$free],
                           backend = "gpu"),
               "backend = \"gpu\"")
})
