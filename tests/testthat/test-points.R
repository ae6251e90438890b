# Points made where they live (R/points.R, src/points.c): the engine's own
# draws, standardisation, move to a centre and centring moments against the
# R arrays and R code they replace, bitwise; and a fit that keeps no array of
# points.

engine_build <- iclv:::engine_build
engine_eval <- iclv:::engine_eval

test_that("draws made in the engine are iclv_draws(), for every type and seed", {
  case <- multi_case(3, n_indiv = 30, seed = 21, n_items = 4)
  for (type in c("halton", "scrambled_halton", "mlhs", "sobol", "scrambled_sobol", "pseudo"))
    for (seed in c(1L, 17L)) {
      recipe <- list(n_draws = 37L, draw_type = type, seed = seed)
      points <- iclv:::points_from_recipe(recipe, 30L, 3L)
      array <- iclv_draws(30, 37, 3, type = sub("scrambled_", "", type), seed = seed,
                          scramble = grepl("scrambled_", type))
      expect_identical(iclv:::points_base(points), array)
      made <- engine_build(case$model, case$prepared, points, threads = 2)
      copied <- engine_build(case$model, case$prepared, array, threads = 2)
      expect_identical(engine_eval(made, case$theta, scores = TRUE),
                       engine_eval(copied, case$theta, scores = TRUE))
    }
})

test_that("standardised and moved points are those of the R code, bitwise", {
  case <- multi_case(2, n_indiv = 25, seed = 22, n_items = 5)
  recipe <- list(n_draws = 150L, draw_type = "halton", seed = 3L) # several blocks of 64
  points <- iclv:::points_from_recipe(recipe, 25L, 2L, adaptive = TRUE)
  base <- iclv:::points_base(points)
  # Standardised: mean 0 and covariance I per person.
  expect_equal(apply(base, c(1, 3), mean), matrix(0, 25, 2), tolerance = 1e-12)
  expect_equal(mean(base[4, , 1] * base[4, , 2]), 0, tolerance = 1e-12)
  # A centre with correlation, moved in the engine and in R.
  centre <- iclv:::prior_centre(25L, 2L)
  centre$mean[] <- seq(-1, 1, length.out = 50)
  centre$chol[, 1, 1] <- 0.5
  centre$chol[, 2, 1] <- 0.2
  centre$chol[, 2, 2] <- 0.3
  moved <- iclv:::adaptive_draws(base, points$weights, centre)
  points$centre <- centre
  made <- engine_build(case$model, case$prepared, points, threads = 2)
  copied <- engine_build(case$model, case$prepared, moved$draws, moved$weights, threads = 2)
  expect_identical(engine_eval(made, case$theta, scores = TRUE),
                   engine_eval(copied, case$theta, scores = TRUE))
  # The centring moments and effective sizes the engine measures are those of
  # tempered_weights() over the moved points.
  log_weight <- t(iclv:::engine_predict(made, case$theta, "draws"))
  target <- iclv:::target_ess(points$weights, 2L)
  weights <- iclv:::tempered_weights(log_weight, target)
  expect_true(any(attr(weights, "tempered")))
  expect_identical(iclv:::effective_sizes(made, case$theta),
                   iclv:::row_ess(exp(log_weight - apply(log_weight, 1L, max))))
  # (The measurement spends the engine's weights: it is moved again below.)
  moments <- .Call(iclv:::C_engine_point_moments, made, case$theta, target)
  mean <- vapply(1:2, function(d) rowSums(weights * moved$draws[, , d]), numeric(25))
  expect_identical(moments$mean, mean)
  deviation <- moved$draws[, , 2] - mean[, 2]
  expect_identical(moments$cov[, 2, 2], rowSums(weights * deviation * deviation))
  expect_identical(moments$cov[, 1, 2], rowSums(weights * deviation *
                                                  (moved$draws[, , 1] - mean[, 1])))
  # Moved again in place: as an engine built at the new centre.
  points$centre$mean[] <- 0.1
  iclv:::engine_set_points(made, points)
  again <- engine_build(case$model, case$prepared, points, threads = 1)
  expect_identical(engine_eval(made, case$theta), engine_eval(again, case$theta))
})

test_that("a user's array is copied once and standardised in the engine", {
  case <- multi_case(1, n_indiv = 20, seed = 23, n_items = 4)
  user <- iclv_draws(20, 30, 1, type = "pseudo", seed = 9)
  points <- iclv:::array_points(user, standardise = TRUE)
  made <- engine_build(case$model, case$prepared, points, threads = 1)
  copied <- engine_build(case$model, case$prepared, iclv:::standardise_draws(user), threads = 1)
  expect_identical(engine_eval(made, case$theta), engine_eval(copied, case$theta))
  flat <- user
  flat[3, , 1] <- 1
  expect_error(engine_build(case$model, case$prepared, iclv:::array_points(flat, TRUE)),
               "degenerate \\(rows 3\\)")
})

test_that("a fit keeps no array of points, and rebuilds its engine from the recipe", {
  data <- iclv_simulate(attitude_price_model(), n_indiv = 150, n_tasks = 3, seed = 24)
  fit <- iclv(attitude_price_model(), data, draws = 400,
              control = iclv_control(threads = 1, se = "bhhh"))
  n_points <- 150 * 400
  largest <- function(x) {
    if (is.environment(x) || typeof(x) == "externalptr" || is.function(x)) return(0)
    if (is.list(x)) return(max(0, vapply(x, largest, 0)))
    length(x)
  }
  expect_lt(largest(unclass(fit)), n_points / 10)
  expect_lt(as.numeric(object.size(fit)), n_points * 8 / 2)
  expect_null(fit$draws)
  # The engine it keeps, and one rebuilt from the recipe (as after saving),
  # give the fit's log-likelihood exactly; predict() works on either.
  expect_identical(engine_eval(fit$engine, fit$theta_full)$loglik, fit$loglik)
  # The error measured in the place of the engine's weights, as on a whole one.
  expect_identical(iclv:::integration_error(fit), fit$integration_error)
  saved <- unserialize(serialize(fit, NULL))
  expect_identical(engine_eval(iclv:::fit_engine(saved), saved$theta_full)$loglik, fit$loglik)
  expect_identical(predict(saved), predict(fit))
  expect_identical(predict(saved, type = "lv"), predict(fit, type = "lv"))
})
