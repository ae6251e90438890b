# Random coefficients (R/random.R, the engine's dimensions after the latent
# variables): the log-likelihood against the plain R reference on user
# draws, the gradient against numerical derivatives, validation.

for (name in names(random_cases)) {
  test_that(paste("random coefficients: log-likelihood equals the R reference:", name), {
    case <- build_random_case(name)
    free <- case$model$params$free
    draws <- random_case_draws(case, 12, seed = 4)
    res <- iclv_loglik(case$model, case$data, case$theta[free], draws = draws, threads = 1,
                       adaptive = FALSE)
    hand <- by_hand_loglik(case$by_hand, case$data, draws, case$theta)
    expect_equal(res$loglik, hand$loglik, tolerance = 1e-10)
    expect_equal(res$loglik_indiv, hand$loglik_indiv, tolerance = 1e-10)
  })

  test_that(paste("random coefficients: analytic gradient matches numDeriv:", name), {
    skip_if_not_installed("numDeriv")
    case <- build_random_case(name, seed = 2)
    model <- case$model
    free <- model$params$free
    draws <- random_case_draws(case, 10, seed = 6)
    res <- iclv_loglik(model, case$data, case$theta[free], draws = draws, threads = 2,
                       adaptive = FALSE)
    f <- function(th) iclv_engine_eval(res$engine, model, th, gradient = FALSE)$loglik
    expect_equal(unname(res$gradient), numDeriv::grad(f, case$theta[free]), tolerance = 1e-7)
  })
}

test_that("random coefficients: the kernels' logic agrees with the CPU engine", {
  for (name in names(random_cases)) {
    case <- build_random_case(name, n_indiv = 25)
    draws <- random_case_draws(case, 40, seed = 8)
    engine <- iclv:::engine_build(case$model, iclv:::prepare_data(case$model, case$data), draws,
                                  threads = 1)
    theta_full <- unname(case$theta)
    cpu <- iclv:::engine_eval(engine, theta_full, scores = TRUE)
    for (lanes in c(1L, 32L)) {
      kernel <- iclv:::kernel_on_cpu_eval(engine, theta_full, lanes = lanes)
      expect_equal(kernel$loglik, cpu$loglik, tolerance = 1e-12, label = name)
      expect_equal(kernel$gradient, cpu$gradient, tolerance = 1e-12, label = name)
      expect_equal(kernel$scores, cpu$scores, tolerance = 1e-12, label = name)
    }
  }
})

test_that("random coefficients: the same numbers for 1 and 2 threads, and any row order", {
  case <- build_random_case("hybrid_correlated", n_indiv = 40)
  free <- case$model$params$free
  one <- iclv_loglik(case$model, case$data, case$theta[free], draws = 30, threads = 1,
                     scores = TRUE)
  two <- iclv_loglik(case$model, case$data, case$theta[free], draws = 30, threads = 2,
                     scores = TRUE)
  expect_identical(one$loglik, two$loglik)
  expect_identical(one$gradient, two$gradient)
  shuffled <- case$data[sample(nrow(case$data)), ]
  moved <- iclv_loglik(case$model, shuffled, case$theta[free], draws = 30, threads = 1)
  expect_identical(moved$loglik, one$loglik)
})

test_that("random coefficients: bad specifications are refused with what is wrong", {
  utility <- list(A = ~ asc_A + b_price * price_A, B = ~ b_price * price_B + b_att * att)
  mixed <- function(...) iclv_model(utility = utility[1], choice = "choice", ...)
  expect_error(iclv_model(utility = utility[1], choice = "choice"), "needs `random`")
  expect_error(mixed(random = list(b_cost = "normal")),
               "`random` names 'b_cost', which is not a utility coefficient; coefficients: 'asc_A', 'b_price'")
  expect_error(mixed(random = list(b_price = "gamma")),
               "unknown distribution 'gamma' for 'b_price'")
  expect_error(mixed(random = list(b_price = "normal"), fixed = c(b_price = -1)),
               "'b_price' is random \\(`random`\\) and fixed \\(`fixed`\\)")
  expect_error(mixed(random = list(b_price = "normal", b_price = "lognormal")),
               "names 'b_price' twice")
  expect_error(mixed(random = c("normal")), "must be a named list")
  expect_error(mixed(random = list(b_price = "uniform", asc_A = "normal"), correlated = "b_price"),
               "`correlated` names 'b_price', which is uniform")
  expect_error(mixed(random = list(b_price = "normal"), correlated = "asc_A"),
               "`correlated` names 'asc_A', which is not a random coefficient")
  expect_error(mixed(random = list(b_price = "normal"), fixed = c("b_price~~b_price" = 0)),
               "must be positive")
  expect_error(iclv_model("att =~ q1 + q2 + q3",
                          utility = list(A = ~ b_price * price_A * att, B = ~ 0),
                          choice = "choice", random = list(b_price = "normal")),
               "random coefficient 'b_price' multiplies latent variable 'att'")
  expect_error(iclv_model("att =~ q1 + q2 + q3", random = list(b_price = "normal")),
               "`random` needs `utility`")
})

# 1,000 simulated people (times standard normal) and the fit with robust
# standard errors; its warnings (the integration error) are the tests' to
# expect.
fit_recovery <- function(model, truth, n_tasks, seed, draws) {
  data <- iclv_simulate(model, theta = truth, n_indiv = 1000, n_tasks = n_tasks, seed = seed,
                        attributes = list(time_A = function(n) stats::rnorm(n),
                                          time_B = function(n) stats::rnorm(n)))
  fit <- suppressWarnings(iclv(model, data, draws = draws,
                               control = iclv_control(threads = 2, se = "robust")))
  list(data = data, fit = fit)
}

# Estimates within 3 robust standard errors of the truth: the share of them.
share_recovered <- function(fit, truth) {
  est <- coef(fit)
  se <- sqrt(diag(vcov(fit, type = "robust")))[names(est)]
  mean(abs(est - truth[names(est)]) <= 3 * se)
}

test_that("random coefficients: a panel mixed logit recovers its parameters (1,000 people)", {
  model <- iclv_model(utility = list(A = ~ asc_A + b_price * price_A + b_time * time_A + b_q * q_A,
                                     B = ~ b_price * price_B + b_time * time_B + b_q * q_B,
                                     C = ~ 0),
                      choice = "choice",
                      random = list(b_price = "neg_lognormal", b_time = "normal", b_q = "uniform"))
  truth <- c(asc_A = 0.4, b_price = -0.3, "b_price~~b_price" = 0.5, b_time = 1, "b_time~~b_time" = 1.2,
             b_q = 0.8, "b_q~~b_q" = 1.5)
  # 300 draws leave an integration error of about 3 units, and iclv() warns
  # of it; the estimates are still well within their standard errors.
  recovery <- fit_recovery(model, truth, n_tasks = 8, seed = 3, draws = 300)
  fit <- recovery$fit
  data <- recovery$data
  expect_identical(fit$convergence$code, 0L)
  expect_gte(share_recovered(fit, truth), 0.95)
  # The conditional means of the coefficients follow the people's true ones.
  conditional <- predict(fit, type = "lv")
  expect_named(conditional, c("id", "b_price", "b_time", "b_q", "b_price_sd", "b_time_sd", "b_q_sd"))
  expect_gt(stats::cor(conditional$b_time, attr(data, "random")[, "b_time"]), 0.5)
  expect_true(all(conditional$b_price < 0))
})

test_that("random coefficients: a hybrid model with correlated coefficients recovers its parameters", {
  model <- iclv_model("att =~ q1 + q2 + q3 + q4; att ~ age",
                      utility = list(A = ~ asc_A + b_price * price_A + g * price_A * att +
                                       b_time * time_A,
                                     B = ~ b_price * price_B + b_time * time_B + b_att * att),
                      choice = "choice", random = list(b_price = "neg_lognormal", b_time = "normal"),
                      correlated = TRUE)
  truth <- c(b_price = 0, "b_price~~b_price" = 0.4, b_time = -0.5, "b_time~~b_time" = 0.8,
             "b_time~~b_price" = 0.4, g = 0.3, b_att = 0.7, asc_A = 0.2)
  recovery <- fit_recovery(model, truth, n_tasks = 6, seed = 4, draws = 200)
  expect_identical(recovery$fit$convergence$code, 0L)
  expect_gte(share_recovered(recovery$fit, attr(recovery$data, "theta")), 0.95)
})

test_that("random coefficients: prior utilities use the coefficients' means", {
  case <- mixed_logit_case(list(b_price = "neg_lognormal", b_time = "uniform"), n_indiv = 300,
                           n_tasks = 8, truth = c(b_time = 2, "b_time~~b_time" = 3))
  # (It warns of an integration error of about 1 unit.)
  fit <- suppressWarnings(iclv(case$model, case$data, draws = 500,
                               control = iclv_control(threads = 2, se = "bhhh")))
  th <- fit$theta_full
  names(th) <- fit$model$params$name
  utility <- predict(fit, type = "utility")
  mean_price <- -exp(th[["b_price"]] + th[["b_price~~b_price"]]^2 / 2)
  expected_A <- th[["asc_A"]] + mean_price * case$data$price_A + th[["b_time"]] * case$data$time_A
  expect_equal(utility$A, expected_A, tolerance = 1e-2)
  expect_equal(utility$C, rep(0, nrow(case$data)))
})

test_that("random coefficients: a run resumed from its checkpoint reaches the straight run", {
  case <- mixed_logit_case(list(b_price = "neg_lognormal", b_time = "normal"), correlated = TRUE,
                           n_indiv = 300, n_tasks = 5)
  path <- tempfile(fileext = ".rds")
  control <- function(...) iclv_control(threads = 2, reltol = 1e-12, gradtol = 1e-8,
                                        start_stages = FALSE, ...)
  partial <- suppressWarnings(iclv(case$model, case$data, draws = 500,
                                   control = control(checkpoint = path, maxit = 4)))
  expect_true(file.exists(path))
  # (Both warn of an integration error of about 0.7 units.)
  resumed <- suppressWarnings(iclv(case$model, case$data, draws = 500, control = control(),
                                   resume = path))
  straight <- suppressWarnings(iclv(case$model, case$data, draws = 500, control = control()))
  expect_identical(resumed$start_stages, "resumed")
  expect_equal(coef(resumed), coef(straight), tolerance = 1e-5)
})

# The centres adaptive points are moved to, on the case's people.
adapted_centre <- function(case, integration) {
  model <- case$model
  settings <- iclv:::resolve_integration(integration, iclv:::n_dims(model), NULL, TRUE, model)
  built <- iclv:::integration_engine(model, iclv:::prepare_data(model, case$data), settings,
                                     unname(case$theta), threads = 1L, draws = 100L)
  iclv:::engine_release(built$engine)
  built$points$centre
}

test_that("random coefficients: draws move only with latent variables, nodes always", {
  # A mixed logit's draws stay plain (moves_draws()), whatever `adaptive` asks.
  mixed <- mixed_logit_case(list(b_price = "neg_lognormal", b_time = "normal"), n_indiv = 40,
                            n_tasks = 6)
  free <- mixed$model$params$free
  loglik_of <- function(adaptive) iclv_loglik(mixed$model, mixed$data, mixed$theta[free],
                                              draws = 50, adaptive = adaptive)$loglik
  expect_identical(loglik_of(TRUE), loglik_of(FALSE))
  expect_false(iclv:::resolve_integration("simulation", 2L, NULL, TRUE, mixed$model)$adaptive)
  expect_gt(max(abs(adapted_centre(mixed, "quadrature")$mean)), 0.1)
  # With a latent variable every dimension moves.
  hybrid <- hybrid_random_case(list(b_price = "neg_lognormal", b_time = "normal"), n_indiv = 40,
                               n_tasks = 6)
  moved <- adapted_centre(hybrid, "simulation")
  expect_gt(max(abs(moved$mean[, 1])), 0.1)
  expect_gt(max(abs(moved$mean[, 2:3])), 0.1)
  expect_gt(max(abs(moved$chol[, 2:3, 1])), 0)
})

test_that("random coefficients: a plain Gauss-Hermite rule equals the R reference on its nodes", {
  case <- hybrid_random_case(list(b_price = "lognormal", b_time = "triangular"), n_indiv = 15)
  free <- case$model$params$free
  rule <- iclv:::quadrature_rule(3L, 4L, "tensor")
  res <- iclv_loglik(case$model, case$data, case$theta[free], integration = "quadrature",
                     nodes = 4, adaptive = FALSE, threads = 1)
  nodes <- aperm(array(rule$points, c(nrow(rule$points), 3L, 15L)), c(3L, 1L, 2L))
  hand <- by_hand_loglik(case$by_hand, case$data, nodes, case$theta, draw_weights = rule$weights)
  expect_equal(res$loglik_indiv, hand$loglik_indiv, tolerance = 1e-10)
})

test_that("random coefficients: a spread that goes to 0 is a degenerate solution that says so", {
  case <- mixed_logit_case(list(b_time = "normal"), n_indiv = 50)
  theta <- case$theta
  prepared <- iclv:::prepare_data(case$model, case$data)
  expect_null(iclv:::collapsed_spreads(case$model, prepared, theta))
  theta[["b_time~~b_time"]] <- 1e-9
  found <- iclv:::degenerate_findings(case$model, prepared, theta)
  expect_match(found$problem, "spread of random coefficient `b_time` went to 0", all = FALSE)
  expect_match(found$advice, "remove it from `random`", all = FALSE)
})

test_that("random coefficients: a user's draws array needs their dimensions, and says which", {
  case <- hybrid_random_case(list(b_price = "neg_lognormal", b_time = "normal"), n_indiv = 20)
  free <- case$model$params$free
  expect_error(iclv_loglik(case$model, case$data, case$theta[free],
                           draws = iclv_draws(20, 10, 1, seed = 1)),
               "model needs 3: att, b_price, b_time \\(latent variables, then random coefficients\\)")
})

test_that("random coefficients: iclv_simulate() draws them from their distributions", {
  model <- iclv_model(utility = list(A = ~ asc_A + b_price * price_A + b_time * time_A +
                                       b_q * q_A + b_c * c_A, B = ~ 0),
                      choice = "choice",
                      random = list(b_price = "neg_lognormal", b_time = "uniform",
                                    b_q = "triangular", b_c = "normal"))
  truth <- c(b_price = 0.2, "b_price~~b_price" = 0.5, b_time = 1, "b_time~~b_time" = 2,
             b_q = -1, "b_q~~b_q" = 0.5, b_c = 3, "b_c~~b_c" = 0.7)
  beta <- attr(iclv_simulate(model, theta = truth, n_indiv = 20000, n_tasks = 1, seed = 2),
               "random")
  expect_true(all(beta[, "b_price"] < 0))
  expect_equal(stats::median(log(-beta[, "b_price"])), 0.2, tolerance = 0.02)
  expect_equal(stats::sd(log(-beta[, "b_price"])), 0.5, tolerance = 0.02)
  expect_equal(range(beta[, "b_time"]), c(-1, 3), tolerance = 0.01)
  expect_equal(stats::sd(beta[, "b_time"]), 2 / sqrt(3), tolerance = 0.02)
  expect_true(all(abs(beta[, "b_q"] + 1) <= 0.5))
  expect_equal(stats::sd(beta[, "b_q"]), 0.5 / sqrt(6), tolerance = 0.02)
  expect_equal(c(mean(beta[, "b_c"]), stats::sd(beta[, "b_c"])), c(3, 0.7), tolerance = 0.02)
})

test_that("random coefficients: wtp() refuses a random cost and lognormal attributes", {
  case <- mixed_logit_case(list(b_price = "neg_lognormal", b_time = "normal"), n_indiv = 150,
                           n_tasks = 6)
  fit <- suppressWarnings(iclv(case$model, case$data, draws = 100,
                               control = iclv_control(threads = 1, se = "bhhh")))
  expect_error(wtp(fit, "b_price"), "`b_price` is a random coefficient \\(neg_lognormal\\)")
  fixed_cost <- update(case$model, random = list(b_time = "normal", asc_A = "lognormal"))
  fit <- suppressWarnings(iclv(fixed_cost, case$data, draws = 100,
                               control = iclv_control(threads = 1, se = "bhhh")))
  expect_identical(wtp(fit, "b_price")$term, "b_time")
  expect_error(wtp(fit, "b_price", attributes = "asc_A"), "`asc_A` is a lognormal random")
})
