# Adaptive integration (R/integration.R, R/integration_check.R): the adaptive
# draws and rules against plain rules with very many points and against
# simulation with 10^6 draws, gradients, the estimation rounds, non-positive
# integrals and the integration-error estimate. The centres: test-centre.R.

engine_eval <- iclv:::engine_eval
resolve_integration <- iclv:::resolve_integration
integration_engine <- iclv:::integration_engine

# 10 batches of 10^5 pseudo-random draws: each person's log-likelihood and
# its standard error.
simulated_loglik <- function(case) {
  n_indiv <- nrow(case$prepared$ind_cat)
  batch <- vapply(1:10, function(b) {
    draws <- iclv_draws(n_indiv, 1e5, length(case$model$latent), type = "pseudo", seed = b)
    engine_eval(iclv:::engine_build(case$model, case$prepared, draws, threads = 2), case$theta,
                gradient = FALSE)$loglik_indiv
  }, numeric(n_indiv))
  likelihood <- exp(batch)
  list(loglik_indiv = log(rowMeans(likelihood)),
       se_indiv = apply(likelihood, 1, stats::sd) / sqrt(10) / rowMeans(likelihood))
}

test_that("adaptive rules and draws equal plain product rules with many nodes (1-3 latent variables)", {
  for (n_dim in 1:3) {
    case <- multi_case(n_dim, n_indiv = 6, seed = n_dim, n_items = 4)
    fine <- engine_eval(engine_with_rule(case, iclv:::quadrature_rule(n_dim, c(200, 60, 30)[n_dim])),
                        case$theta)
    quad <- adaptive_engine(case, "quadrature", nodes = 8)
    res <- engine_eval(quad$engine, case$theta)
    expect_lt(max(abs(res$loglik_indiv - fine$loglik_indiv)), c(1e-6, 1e-5, 1e-4)[n_dim])
    expect_lt(max(abs(res$gradient - fine$gradient)), c(1e-5, 1e-4, 5e-3)[n_dim])
    sim <- adaptive_engine(case, "simulation", draws = 500)
    res <- engine_eval(sim$engine, case$theta)
    expect_lt(max(abs(res$loglik_indiv - fine$loglik_indiv)), 5e-3)
    expect_lt(max(abs(res$gradient - fine$gradient)), 0.05)
    # Plain draws from the prior are far worse on the same points.
    plain <- engine_eval(iclv:::engine_build(case$model, case$prepared,
                                             iclv_draws(6, 500, n_dim), threads = 1), case$theta)
    expect_gt(max(abs(plain$loglik_indiv - fine$loglik_indiv)),
              2 * max(abs(res$loglik_indiv - fine$loglik_indiv)))
  }
})

test_that("adaptive sparse grids and draws agree with 10^6 plain draws (4-5 latent variables)", {
  for (n_dim in 4:5) {
    case <- multi_case(n_dim, n_indiv = 5, seed = n_dim, n_items = 4)
    sim <- simulated_loglik(case)
    for (engine in list(adaptive_engine(case, "quadrature", nodes = 5)$engine,
                        adaptive_engine(case, "simulation", draws = 500)$engine)) {
      res <- engine_eval(engine, case$theta, gradient = FALSE)
      expect_lt(max(abs(res$loglik_indiv - sim$loglik_indiv) / sim$se_indiv), 4.5)
    }
    # The two adaptive methods agree with each other far more closely than
    # the plain simulation's standard error.
    quad <- engine_eval(adaptive_engine(case, "quadrature", nodes = 6)$engine, case$theta)
    many <- engine_eval(adaptive_engine(case, "simulation", draws = 4000)$engine, case$theta)
    expect_lt(max(abs(quad$loglik_indiv - many$loglik_indiv)), 2e-3)
    expect_lt(max(abs(quad$gradient - many$gradient)), 0.02)
  }
})

test_that("adaptive gradients match numDeriv at a fixed centre", {
  skip_if_not_installed("numDeriv")
  case <- multi_case(3, n_indiv = 8, seed = 11, n_items = 4)
  free <- case$model$params$free
  for (built in list(adaptive_engine(case, "simulation", draws = 50),
                     adaptive_engine(case, "quadrature", nodes = 4))) {
    res <- engine_eval(built$engine, case$theta)
    f <- function(th) {
      theta <- case$theta
      theta[free] <- th
      engine_eval(built$engine, theta, gradient = FALSE)$loglik
    }
    expect_equal(res$gradient[free], numDeriv::grad(f, case$theta[free]), tolerance = 1e-7)
  }
})

test_that("standardised draws have mean 0 and covariance I per person", {
  draws <- iclv_draws(4, 50, 3, type = "halton")
  out <- iclv:::standardise_draws(draws)
  for (n in 1:4) {
    expect_equal(colMeans(out[n, , ]), rep(0, 3), tolerance = 1e-12)
    expect_equal(crossprod(out[n, , ]) / 50, diag(3), tolerance = 1e-12)
  }
  expect_error(iclv:::standardise_draws(draws[, 1:3, ]), "more draws per person \\(3\\)")
})

test_that("iclv() adapts in rounds, in 2 dimensions, and the schedule does not change the estimates", {
  case <- multi_case(2, n_indiv = 150, seed = 14, n_items = 5)
  control <- iclv_control(threads = 1)
  fit <- iclv(case$model, case$data, draws = 100, control = control)
  expect_true(fit$integration$adaptive)
  expect_match(fit$draw_type, "adaptive halton draws")
  expect_gte(fit$convergence$adaptive_rounds, 3L)
  expect_true(fit$convergence$adaptive_settled)
  expect_lt(fit$convergence$adaptive_gain, 1e-6)
  expect_identical(dim(fit$centre$chol), c(150L, 2L, 2L))
  # Re-centring every 3 iterations reaches the same estimates.
  often <- iclv(case$model, case$data, draws = 100,
                control = iclv_control(threads = 1, adapt_every = 3, adapt_rounds = 100))
  expect_gt(often$convergence$adaptive_rounds, fit$convergence$adaptive_rounds)
  se <- sqrt(diag(vcov(fit)))
  expect_lt(max(abs(coef(often) - coef(fit)) / se), 1e-3)
  expect_lt(abs(often$loglik - fit$loglik), 1e-4)
  # Adaptive quadrature through iclv() agrees with adaptive draws.
  quad <- iclv(case$model, case$data, integration = "quadrature", nodes = 8, control = control)
  expect_lt(abs(quad$loglik - fit$loglik), 0.05)
  expect_lt(max(abs(coef(quad) - coef(fit)) / se), 0.05)
  # The fit's integration error is small and said in the summary.
  expect_lt(fit$integration_error$error, 0.1)
  expect_match(summary(fit)$integration,
               "integration error of the log-likelihood .* \\(importance-sampling standard error\\)")
  # Saved and reloaded, the fit rebuilds the same engine (base draws and centre).
  again <- unserialize(serialize(fit, NULL))
  expect_equal(iclv:::engine_eval(iclv:::fit_engine(again), fit$theta_full)$loglik, fit$loglik)
})

test_that("iclv() with adaptive sparse grids for 4, 5 and 6 latent variables", {
  for (n_dim in 4:6) {
    case <- multi_case(n_dim, n_indiv = 250, seed = 20 + n_dim, n_items = 6)
    # Coarse rules (level 3) settle more slowly: a looser schedule. Their
    # integration error (about 0.8 here) is above the warning's threshold.
    expect_warning(
      fit <- iclv(case$model, case$data, integration = "quadrature", nodes = 3,
                  control = iclv_control(threads = 2, adapt_tol = 1e-6)),
      "estimated integration error of the log-likelihood is 0\\.[5-9].*difference to a level-4 sparse grid")
    expect_identical(fit$convergence$code, 0L)
    expect_true(fit$convergence$adaptive_settled)
    expect_lt(fit$convergence$gradient_relative, 1e-5)
    expect_identical(fit$integration$type, "sparse")
    expect_true(all(is.finite(sqrt(diag(vcov(fit))))))
    # The error estimate (the difference to level 4) is of the size of the
    # actual error against a much finer rule (level 6).
    error <- fit$integration_error$error
    actual <- abs(iclv:::loglik_with_rule(fit, 6L) - fit$loglik)
    expect_gt(error, 0.5)
    expect_lt(error, 1)
    expect_lt(actual, 2 * error)
    expect_gt(actual, error / 2)
  }
})

test_that("a plain sparse grid that leaves integrals non-positive warns and still starts", {
  # The bundled survey's shape (five latent variables, 7-8 items each) is
  # too sharp for a plain sparse grid: its negative weights leave some
  # people with an integral <= 0. The start stage used to pass their NaN
  # posterior means to the MNL and stop ("initial value in 'vmmin' is not
  # finite").
  model <- survey_model()
  data <- survey_dce[survey_dce$id <= 80, ]
  free <- iclv_parameters(model)$free
  theta <- attr(survey_dce, "true_parameters")[free]
  expect_warning(res <- iclv_loglik(model, data, theta, integration = "quadrature",
                                    adaptive = FALSE, gradient = FALSE, threads = 1),
                 "non-positive integral at `theta` under the sparse grid.*adaptive = TRUE")
  expect_true(is.finite(res$loglik))
  warnings <- character()
  fit <- withCallingHandlers(
    iclv(model, data, integration = "quadrature", adaptive = FALSE,
         control = iclv_control(threads = 1, maxit = 2)),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_true(all(is.finite(coef(fit))))
  expect_true(any(grepl("non-positive integral at the starting values", warnings)))
  # Adaptive, the same grid integrates everyone, and agrees with adaptive draws.
  adaptive <- expect_silent(iclv_loglik(model, data, theta, integration = "quadrature",
                                        nodes = 4, gradient = FALSE, threads = 1))
  draws <- iclv_loglik(model, data, theta, draws = 500, gradient = FALSE, threads = 1)
  expect_lt(abs(adaptive$loglik - draws$loglik), 0.1)
})

test_that("the integration error of plain draws is large where adaptive draws' is small", {
  case <- multi_case(3, n_indiv = 40, seed = 15, n_items = 8)
  free <- case$model$params$free
  fit_like <- function(adaptive) {
    settings <- resolve_integration("simulation", 3, NULL, adaptive, case$model)
    built <- integration_engine(case$model, case$prepared, settings, case$theta, threads = 1,
                                draws = 100)
    structure(list(model = case$model, prepared = case$prepared, theta_full = case$theta,
                   engine = built$engine, n_draws = 100L, integration = settings,
                   centre = built$points$centre),
              class = "iclv_fit")
  }
  plain <- iclv:::integration_error(fit_like(FALSE))
  adaptive <- iclv:::integration_error(fit_like(TRUE))
  expect_gt(plain$error, 10 * adaptive$error)
  expect_lt(adaptive$min_ess, 100)
  expect_gt(adaptive$min_ess, 50)
})
