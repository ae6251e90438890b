# The compiled engine against the plain R references (helper-reference.R:
# the structure written by hand first, the package's own second) and against
# numerical derivatives, on models that cover every indicator family,
# threshold scheme, structural path, missing answers and availability.

for (name in names(engine_models)) {
  test_that(paste("engine log-likelihood equals the R reference:", name), {
    case <- build_case(engine_models[[name]], availability = name == "probit_paths")
    model <- case$model
    free <- model$params$free
    draws <- iclv_draws(length(unique(case$data$id)), 20, length(model$latent), seed = 5)
    res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = draws, threads = 1)
    expect_identical(names(case$by_hand$latent), model$latent)
    hand <- by_hand_loglik(case$by_hand, case$data, draws, case$theta)
    expect_equal(res$loglik, hand$loglik, tolerance = 1e-10)
    expect_equal(res$loglik_indiv, hand$loglik_indiv, tolerance = 1e-10)
    prepared <- iclv:::prepare_data(model, case$data)
    ref <- reference_loglik(model, prepared, draws, case$theta, data = case$data)
    expect_equal(res$loglik, ref$loglik, tolerance = 1e-10)
    expect_equal(res$loglik_indiv, ref$loglik_indiv, tolerance = 1e-10)
  })

  test_that(paste("analytic gradient matches numDeriv:", name), {
    skip_if_not_installed("numDeriv")
    case <- build_case(engine_models[[name]], seed = 2)
    model <- case$model
    free <- model$params$free
    draws <- iclv_draws(length(unique(case$data$id)), 15, length(model$latent), seed = 7)
    res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = draws, threads = 1)
    f <- function(th) iclv_engine_eval(res$engine, model, th, gradient = FALSE)$loglik
    numeric_grad <- numDeriv::grad(f, case$theta[free])
    expect_equal(unname(res$gradient), numeric_grad, tolerance = 1e-6)
  })
}

test_that("scores are per-individual gradients that sum to the gradient", {
  case <- build_case(engine_models$probit_paths, seed = 3)
  model <- case$model
  free <- model$params$free
  res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = 10, scores = TRUE,
                     threads = 1)
  expect_equal(dim(res$scores), c(25L, sum(free)))
  expect_equal(colnames(res$scores), model$params$name[free])
  expect_equal(colSums(res$scores), res$gradient, tolerance = 1e-12)
  # The score of one individual is the gradient of that individual's term.
  f <- function(th) iclv_engine_eval(res$engine, model, th, gradient = FALSE)$loglik_indiv[4]
  expect_equal(unname(res$scores[4, ]), numDeriv::grad(f, case$theta[free]), tolerance = 1e-6)
})

test_that("the scores of chosen parameters are those columns of all the scores", {
  case <- build_case(engine_models$probit_paths, seed = 3)
  res <- iclv_loglik_plain(case$model, case$data, case$theta[case$model$params$free],
                           draws = 10, threads = 1)
  theta_full <- iclv:::theta_full_from(case$model, case$theta[case$model$params$free])
  all <- engine_eval(res$engine, theta_full, scores = TRUE)
  columns <- c(5L, 2L, 9L)
  some <- engine_eval(res$engine, theta_full, scores = TRUE, columns = columns)
  expect_identical(some$scores, all$scores[, columns])
  expect_identical(some$gradient, all$gradient)
  expect_error(engine_eval(res$engine, theta_full, scores = TRUE, columns = 0L),
               "score column 0 is not a parameter \\(1..")
})

test_that("one and two threads give bitwise identical results", {
  case <- build_case(engine_models$shared_symmetric, n_indiv = 60, seed = 4)
  model <- case$model
  free <- model$params$free
  one <- iclv_loglik_plain(model, case$data, case$theta[free], draws = 37, scores = TRUE, threads = 1)
  two <- iclv_loglik_plain(model, case$data, case$theta[free], draws = 37, scores = TRUE, threads = 2)
  expect_identical(one$loglik, two$loglik)
  expect_identical(one$gradient, two$gradient)
  expect_identical(one$scores, two$scores)
})

test_that("blocks of draws combine exactly (online softmax over many draws)", {
  case <- build_case(engine_models$probit_paths, n_indiv = 8, seed = 6)
  model <- case$model
  free <- model$params$free
  draws <- iclv_draws(8, 300, length(model$latent), type = "pseudo", seed = 2)
  res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = draws, threads = 1)
  hand <- by_hand_loglik(case$by_hand, case$data, draws, case$theta)
  expect_equal(res$loglik, hand$loglik, tolerance = 1e-10)
  prepared <- iclv:::prepare_data(model, case$data)
  ref <- reference_loglik(model, prepared, draws, case$theta)
  expect_equal(res$loglik, ref$loglik, tolerance = 1e-10)
})

test_that("log-likelihood and gradient stay finite for extreme parameters", {
  case <- build_case(engine_models$logit_continuous, seed = 8)
  model <- case$model
  free <- model$params$free
  theta <- case$theta[free]
  loadings <- model$params$type[free] == "loading"
  for (scale in c(50, 1e4)) {
    th <- theta
    th[loadings] <- th[loadings] * scale
    res <- iclv_loglik_plain(model, case$data, th, draws = 10, threads = 1)
    expect_true(is.finite(res$loglik))
    expect_true(all(is.finite(res$gradient)))
  }
})

test_that("the engine rejects theta of the wrong length or with non-finite values", {
  case <- build_case(engine_models$latent_only, seed = 9)
  model <- case$model
  free <- model$params$free
  expect_error(iclv_loglik_plain(model, case$data, unname(case$theta[free])[-1], draws = 5),
               "free parameters")
  bad <- case$theta[free]
  bad["att=~q2"] <- NaN
  expect_error(iclv_loglik_plain(model, case$data, bad, draws = 5), "non-finite.*att=~q2")
  expect_error(iclv_loglik_plain(model, case$data, c(case$theta[free], nope = 1), draws = 5),
               "unknown parameter.*nope")
})

test_that("theta in iclv_loglik must respect scales and threshold order", {
  case <- build_case(engine_models$logit_continuous, seed = 10)
  model <- case$model
  free <- model$params$free
  th <- case$theta[free]
  th["y1~~y1"] <- -1
  expect_error(iclv_loglik_plain(model, case$data, th, draws = 5), "positive.*y1~~y1")
  th <- case$theta[free]
  th[c("q1|t1", "q1|t2")] <- c(1, 0)
  expect_error(iclv_loglik_plain(model, case$data, th, draws = 5), "thresholds of indicator `q1`")
})
