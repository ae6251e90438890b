# The centres of adaptive integration (R/centre.R): the posterior moments they
# converge to, tempering, thread identity, and engines freed while centring.

resolve_integration <- iclv:::resolve_integration
engine_eval <- iclv:::engine_eval

test_that("centres, adaptive log-likelihoods and gradients are identical for 1 and 2 threads", {
  case <- multi_case(3, n_indiv = 30, seed = 12, n_items = 5)
  one <- adaptive_engine(case, "simulation", draws = 64, threads = 1)
  two <- adaptive_engine(case, "simulation", draws = 64, threads = 2)
  expect_identical(one$points$centre, two$points$centre)
  expect_identical(engine_eval(one$engine, case$theta), engine_eval(two$engine, case$theta))
})


test_that("the centre is the posterior: mean and full covariance against a fine rule", {
  # Two correlated latent variables with sharp posteriors (8 items each).
  case <- multi_case(2, n_indiv = 10, seed = 13, n_items = 8)
  fine_engine <- engine_with_rule(case, iclv:::quadrature_rule(2, 80))
  weights <- exp(t(iclv:::engine_predict(fine_engine, case$theta, "draws")))
  weights <- weights / rowSums(weights)
  nodes <- iclv:::quadrature_rule(2, 80)$points
  built <- adaptive_engine(case, "quadrature", nodes = 10)
  centre <- built$points$centre
  for (n in 1:10) {
    mean_n <- colSums(weights[n, ] * nodes)
    dev <- sweep(nodes, 2, mean_n)
    cov_n <- crossprod(dev * weights[n, ], dev)
    expect_equal(centre$mean[n, ], mean_n, tolerance = 1e-5)
    chol_n <- matrix(centre$chol[n, , ], 2)
    expect_equal(chol_n %*% t(chol_n), cov_n, tolerance = 1e-4)
    expect_gt(abs(cov_n[1, 2]) / sqrt(cov_n[1, 1] * cov_n[2, 2]), 0.01) # correlated
  }
})


test_that("centring moves one engine's points in place, and a released engine says so", {
  case <- multi_case(2, n_indiv = 20, seed = 16, n_items = 5)
  built <- list()
  build <- function(points) {
    engine <- iclv:::engine_build(case$model, case$prepared, points, threads = 1)
    built[[length(built) + 1L]] <<- engine
    engine
  }
  settings <- resolve_integration("simulation", 2, NULL, TRUE, case$model)
  points <- iclv:::integration_points(case$model, settings, 50, "halton", 1L, 20)
  adapted <- iclv:::adapt_points(points, case$theta, build)
  expect_gt(adapted$steps, 2L)
  expect_length(built, 1L)
  expect_identical(built[[1]], adapted$engine)
  # Moved in place, the engine is the one built from the final centre.
  again <- build(adapted$points)
  expect_identical(engine_eval(again, case$theta), engine_eval(adapted$engine, case$theta))
  # A later centring moves a given engine instead of building one.
  points$centre <- adapted$points$centre
  moved <- iclv:::adapt_points(points, case$theta * 1.01, build, engine = again)
  expect_identical(moved$engine, again)
  expect_length(built, 2L)
  iclv:::engine_release(again)
  expect_error(iclv:::engine_info(again), "has been freed")
  expect_output(print(again), "<iclv engine: freed>")
})


test_that("tempered weights keep the target effective sample size", {
  log_weight <- rbind(c(0, -50, -60, -70), c(0, -0.1, -0.2, -0.3))
  w <- iclv:::tempered_weights(log_weight, target = 2)
  ess <- rowSums(w)^2 / rowSums(w^2)
  expect_equal(rowSums(w), c(1, 1))
  expect_equal(ess[1], 2, tolerance = 1e-6)             # tempered down to the target
  expect_identical(attr(w, "tempered"), c(TRUE, FALSE)) # the flat row is left alone
  expect_equal(w[2, ], exp(log_weight[2, ]) / sum(exp(log_weight[2, ])))
})

