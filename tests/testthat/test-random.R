# Random coefficients (R/random.R, the engine's dimensions after the latent
# variables): the log-likelihood against the plain R reference on user
# draws, the gradient against numerical derivatives, validation.

random_cases <- list(
  normal = list(builder = mixed_logit_case, random = list(b_time = "normal")),
  lognormal = list(builder = mixed_logit_case, random = list(b_time = "lognormal")),
  neg_lognormal = list(builder = mixed_logit_case, random = list(b_price = "neg_lognormal")),
  uniform = list(builder = mixed_logit_case, random = list(b_time = "uniform", asc_A = "normal")),
  triangular = list(builder = mixed_logit_case, random = list(b_price = "triangular")),
  correlated = list(builder = mixed_logit_case, correlated = TRUE,
                    random = list(b_price = "neg_lognormal", asc_A = "normal", b_time = "lognormal")),
  correlated_subset = list(builder = mixed_logit_case, correlated = c("b_price", "b_time"),
                           random = list(b_price = "neg_lognormal", asc_A = "uniform",
                                         b_time = "normal")),
  hybrid = list(builder = hybrid_random_case,
                random = list(b_price = "neg_lognormal", b_time = "triangular")),
  hybrid_correlated = list(builder = hybrid_random_case, correlated = TRUE,
                           random = list(b_price = "lognormal", b_time = "normal"))
)

for (name in names(random_cases)) {
  spec <- random_cases[[name]]
  test_that(paste("random coefficients: log-likelihood equals the R reference:", name), {
    case <- spec$builder(spec$random, correlated = spec$correlated %||% FALSE)
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
    case <- spec$builder(spec$random, correlated = spec$correlated %||% FALSE, seed = 2)
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
    spec <- random_cases[[name]]
    case <- spec$builder(spec$random, correlated = spec$correlated %||% FALSE, n_indiv = 25)
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
  spec <- random_cases$hybrid_correlated
  case <- spec$builder(spec$random, correlated = TRUE, n_indiv = 40)
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
