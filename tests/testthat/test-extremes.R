# Extreme but valid inputs: each gives a correct result or a clear error,
# never NaN estimates. Evaluations are checked against the plain R references
# (helper-reference.R); estimations run a few iterations only.

ext_model <- iclv_model("att =~ q1 + q2 + q3",
  utility = list(A = ~ b_price * price_A + b_att * att,
                 B = ~ asc_B + b_price * price_B),
  choice = "choice", id = "id", categories = 5)
ext_data <- iclv_simulate(ext_model, n_indiv = 60, n_tasks = 3, seed = 4)
ext_theta <- attr(ext_data, "theta")
ext_free <- ext_model$params$free
# A model "att =~ q1 (+ q2 + q3)" with ext_model's utilities, written by hand.
ext_by_hand <- function(items = c("q1", "q2", "q3"), n_cat = 5) {
  list(id = "id", choice = "choice", latent = list(att = lv_by_hand("att")),
       indicators = stats::setNames(lapply(items, item_by_hand, on = "att", n_cat = n_cat), items),
       utility = list(
         A = function(x, lv, th) th[["b_price"]] * x$price_A + th[["b_att"]] * lv[["att"]],
         B = function(x, lv, th) th[["asc_B"]] + th[["b_price"]] * x$price_B))
}

# Engine against the references on the same draws: the structure written
# by hand, then the package's.
expect_matches_reference <- function(model, data, theta_full, n_draws, by_hand = ext_by_hand()) {
  n_indiv <- length(unique(data[[model$id]]))
  draws <- iclv_draws(n_indiv, n_draws, length(model$latent), seed = 3)
  res <- iclv_loglik_plain(model, data, theta_full[model$params$free], draws = draws, threads = 1)
  expect_true(is.finite(res$loglik))
  expect_true(all(is.finite(res$gradient)))
  hand <- by_hand_loglik(by_hand, data, draws, theta_full)
  expect_equal(res$loglik, hand$loglik, tolerance = 1e-9)
  ref <- reference_loglik(model, iclv:::prepare_data(model, data), draws, theta_full, data = data)
  expect_equal(res$loglik, ref$loglik, tolerance = 1e-9)
  invisible(res)
}

# A short estimation: an iclv_fit with finite estimates (warnings about
# convergence are expected and muffled), or an error that names its cause.
# `degenerate`: whether the fit must report a degenerate solution (NA: not
# checked). Finite estimates alone do not say the fit is usable: a collapsed
# or runaway solution has them too.
expect_finite_fit <- function(model, data, draws, maxit = 30, degenerate = FALSE,
                              adaptive = NULL) {
  fit <- tryCatch(suppressWarnings(iclv(model, data, draws = draws, adaptive = adaptive,
                                        control = iclv_control(threads = 1, maxit = maxit))),
                  error = function(e) e)
  if (inherits(fit, "error")) {
    fail(paste("iclv() stopped with:", conditionMessage(fit)))
    return(invisible(fit))
  }
  expect_s3_class(fit, "iclv_fit")
  expect_false(anyNA(coef(fit)))
  expect_true(all(is.finite(coef(fit))))
  expect_true(is.finite(fit$loglik))
  if (!is.na(degenerate)) {
    expect_identical(!is.null(fit$degenerate), degenerate)
    # Where the optimizer stopped on its tolerance, a degenerate solution has
    # code 3, a regular one code 0.
    if (fit$convergence$code != 1L)
      expect_identical(fit$convergence$code, if (degenerate) 3L else 0L)
  }
  invisible(fit)
}

test_that("an indicator with every answer in one middle category", {
  data <- ext_data
  data$q1 <- 3L
  expect_matches_reference(ext_model, data, ext_theta, 20)
  # The thresholds of q1 have no maximum (they run off to -/+ infinity): the
  # optimizer must still return finite values, and say the solution is
  # degenerate.
  fit <- expect_finite_fit(ext_model, data, draws = 20, degenerate = TRUE)
  expect_match(fit$degenerate$problem, "thresholds of `q1` run off", all = FALSE)
})

test_that("an indicator with every answer in the lowest category", {
  data <- ext_data
  data$q1 <- 1L
  expect_matches_reference(ext_model, data, ext_theta, 20)
  expect_finite_fit(ext_model, data, draws = 20, degenerate = TRUE)
  # Run to the end, the weakly identified fit is not reported as converged.
  fit <- expect_finite_fit(ext_model, data, draws = 20, maxit = 1000, degenerate = TRUE)
  expect_identical(fit$convergence$code, 3L)
  expect_match(fit$degenerate$problem, "Hessian is not negative definite.*`q1\\|t", all = FALSE)
})

test_that("huge attribute values (1e6) give finite, exact values and finite estimates", {
  data <- ext_data
  data$price_A <- data$price_A * 1e6
  data$price_B <- data$price_B * 1e6
  res <- expect_matches_reference(ext_model, data, ext_theta, 20)
  expect_lt(res$loglik, -1e5) # the utilities differ by millions
  expect_finite_fit(ext_model, data, draws = 20)
})

test_that("a latent variable with a single indicator", {
  model <- iclv_model("att =~ q1",
    utility = list(A = ~ b_price * price_A + b_att * att,
                   B = ~ asc_B + b_price * price_B),
    choice = "choice", id = "id", categories = 4)
  data <- iclv_simulate(model, n_indiv = 80, n_tasks = 3, seed = 4)
  expect_matches_reference(model, data, attr(data, "theta"), 20,
                           by_hand = ext_by_hand("q1", n_cat = 4))
  expect_finite_fit(model, data, draws = 20)
})

test_that("one draw: the model without integration", {
  expect_matches_reference(ext_model, ext_data, ext_theta, 1)
  expect_finite_fit(ext_model, ext_data, draws = 1, adaptive = FALSE)
  # Adaptive draws (the default) need more draws than latent variables.
  expect_error(iclv(ext_model, ext_data, draws = 1, control = iclv_control(threads = 1)),
               "more draws per person \\(1\\) than latent variables \\(1\\).*adaptive = FALSE")
})

test_that("10,000 draws on 10 individuals combine exactly across blocks and threads", {
  data <- ext_data[ext_data$id %in% unique(ext_data$id)[1:10], ]
  draws <- iclv_draws(10, 10000, 1, type = "pseudo", seed = 9)
  theta <- ext_theta[ext_free]
  one <- iclv_loglik_plain(ext_model, data, theta, draws = draws, threads = 1)
  two <- iclv_loglik_plain(ext_model, data, theta, draws = draws, threads = 2)
  expect_true(is.finite(one$loglik))
  expect_true(all(is.finite(one$gradient)))
  expect_identical(one$loglik, two$loglik)
  expect_identical(one$gradient, two$gradient)
  # With equal weights, L_n over 10,000 draws is the mean of L_n over ten
  # chunks of 1,000: log-sum-exp of the chunks' log-likelihoods minus log 10.
  chunk_ll <- vapply(seq_len(10L), function(b) {
    chunk <- draws[, (b - 1L) * 1000L + seq_len(1000L), , drop = FALSE]
    iclv_loglik_plain(ext_model, data, theta, draws = chunk, threads = 1)$loglik_indiv
  }, numeric(10))
  combined <- apply(chunk_ll, 1L, function(x) max(x) + log(sum(exp(x - max(x))))) - log(10)
  expect_equal(one$loglik_indiv, combined, tolerance = 1e-12)
  fit <- expect_finite_fit(ext_model, data, draws = 10000, maxit = 3, degenerate = NA)
  expect_equal(fit$n_draws, 10000)
})
