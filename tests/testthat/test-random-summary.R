# random_coefficients() and the methods of fits with random coefficients:
# means, medians and standard deviations against a simulation of the fitted
# distributions in plain R, standard errors against numDeriv's Jacobian of
# the closed forms, the correlation against simulated underlying normals;
# estimates(), print() and summary() of a plain mixed logit and of a hybrid
# model.

# Plain draws at these sizes carry an integration-error warning that is not
# under test here.
fit_quietly <- function(case, draws = 100) {
  withCallingHandlers(
    iclv(case$model, case$data, draws = draws, control = iclv_control(threads = 1)),
    warning = function(w) {
      if (grepl("integration error", conditionMessage(w))) invokeRestart("muffleWarning")
    })
}

# Two mixed logits (500 people) covering every distribution; in each the
# coefficient listed second is correlated with the first, so that its
# Cholesky row has an entry below the diagonal.
normal_first_fit <- fit_quietly(mixed_logit_case(
  list(b_time = "normal", b_price = "neg_lognormal", asc_A = "uniform"), correlated = TRUE,
  n_indiv = 500, n_tasks = 6, seed = 11))
lognormal_first_fit <- fit_quietly(mixed_logit_case(
  list(b_time = "lognormal", b_price = "normal", asc_A = "triangular"), correlated = TRUE,
  n_indiv = 500, n_tasks = 6, seed = 12))

# The underlying normal z (rows: draws, columns: coefficients in the order
# of `random`) and the coefficients, drawn from the fitted distributions in
# plain R: z_k = b_k + s_k xi_k + sum_c `k~~c` xi_c.
simulate_random_coefficients <- function(fit, n, seed) {
  set.seed(seed)
  theta <- fit$theta_full
  coefs <- fit$model$random$coef
  xi <- matrix(stats::rnorm(n * length(coefs)), n, dimnames = list(NULL, coefs))
  z <- sapply(coefs, function(coef) {
    deviation <- theta[[paste0(coef, "~~", coef)]] * xi[, coef]
    for (other in coefs) {
      entry <- paste0(coef, "~~", other)
      if (other != coef && entry %in% names(theta)) deviation <- deviation + theta[[entry]] * xi[, other]
    }
    theta[[coef]] + deviation
  })
  beta <- sapply(seq_along(coefs), function(k) {
    b <- theta[[coefs[[k]]]]
    s <- theta[[paste0(coefs[[k]], "~~", coefs[[k]])]]
    switch(fit$model$random$distribution[[k]],
           normal = z[, k], lognormal = exp(z[, k]), neg_lognormal = -exp(z[, k]),
           uniform = b + s * (2 * stats::runif(n) - 1),
           # The sum of two uniforms on [0, 1], less 1, is triangular on [-1, 1].
           triangular = b + s * (stats::runif(n) + stats::runif(n) - 1))
  })
  colnames(beta) <- coefs
  list(z = z, beta = beta)
}

# The closed forms of the issue, in plain R, of a free parameter vector.
measures_by_hand <- function(free, fit) {
  theta <- fit$theta_full
  theta[names(free)] <- free
  random <- fit$model$random
  unlist(lapply(seq_len(nrow(random)), function(k) {
    coef <- random$coef[[k]]
    b <- theta[[coef]]
    s <- theta[[paste0(coef, "~~", coef)]]
    row <- theta[paste0(coef, "~~", setdiff(random$coef, coef))]
    v2 <- s^2 + sum(row^2, na.rm = TRUE)
    lognormal_sd <- sqrt((exp(v2) - 1) * exp(2 * b + v2))
    switch(random$distribution[[k]],
           normal = c(b, b, sqrt(v2)),
           lognormal = c(exp(b + v2 / 2), exp(b), lognormal_sd),
           neg_lognormal = c(-exp(b + v2 / 2), -exp(b), lognormal_sd),
           uniform = c(b, b, s / sqrt(3)),
           triangular = c(b, b, s / sqrt(6)))
  }))
}

for (fit_name in c("normal_first_fit", "lognormal_first_fit")) {
  test_that(paste("means, medians and sds match a simulation of the fitted distributions:", fit_name), {
    fit <- get(fit_name)
    out <- random_coefficients(fit)
    coefs <- fit$model$random$coef
    expect_identical(out$coef, rep(coefs, each = 3))
    expect_identical(out$measure, rep(c("mean", "median", "sd"), length(coefs)))
    expect_identical(out$term, sprintf("%s(%s)", out$measure, out$coef))
    expect_identical(out$distribution, rep(fit$model$random$distribution, each = 3))
    draws <- simulate_random_coefficients(fit, 1e6, seed = 5)$beta
    simulated <- c(apply(rbind(colMeans(draws), apply(draws, 2, stats::median),
                               apply(draws, 2, stats::sd)), 2, identity))
    # Relative to the coefficient's spread too, where a mean is near 0.
    scale <- pmax(abs(out$estimate), rep(out$estimate[out$measure == "sd"], each = 3))
    expect_lt(max(abs(simulated - out$estimate) / scale), 1e-2)
    expect_equal(out$estimate, unname(measures_by_hand(coef(fit), fit)), tolerance = 1e-12)
  })

  test_that(paste("standard errors are numDeriv's delta method:", fit_name), {
    skip_if_not_installed("numDeriv")
    fit <- get(fit_name)
    for (type in c("robust", "classical")) {
      out <- random_coefficients(fit, type = type)
      jacobian <- numDeriv::jacobian(measures_by_hand, coef(fit), fit = fit)
      expected <- sqrt(diag(jacobian %*% vcov(fit, type = type) %*% t(jacobian)))
      expect_equal(out$std.error, expected, tolerance = 1e-6)
      expect_true(all(out$std.error > 0))
      z <- stats::qnorm(0.975)
      expect_equal(out$conf.high - out$conf.low, 2 * z * out$std.error, tolerance = 1e-12)
    }
  })

  test_that(paste("correlations' standard errors are numDeriv's delta method:", fit_name), {
    skip_if_not_installed("numDeriv")
    fit <- get(fit_name)
    out <- random_coefficients(fit)
    inference <- attr(out, "correlation_inference")
    expect_identical(inference$term, "cor(b_price, b_time)")
    expect_equal(inference$estimate, attr(out, "correlation")["b_price", "b_time"],
                 tolerance = 1e-12)
    correlation_at <- function(theta) {
      full <- fit$theta_full
      full[names(theta)] <- theta
      iclv:::random_correlation(fit$model$random, full)["b_price", "b_time"]
    }
    gradient <- numDeriv::grad(correlation_at, coef(fit))
    expect_equal(inference$std.error, sqrt(drop(gradient %*% vcov(fit) %*% gradient)),
                 tolerance = 1e-6)
  })

  test_that(paste("the correlation is that of the simulated underlying normals:", fit_name), {
    fit <- get(fit_name)
    correlation <- attr(random_coefficients(fit), "correlation")
    block <- c("b_time", "b_price")
    expect_identical(dimnames(correlation), list(block, block))
    z <- simulate_random_coefficients(fit, 1e6, seed = 6)$z
    expect_equal(correlation, stats::cor(z[, block]), tolerance = 1e-2)
    # The fitted Cholesky entry is not 0, so the test can see a wrong sign.
    expect_gt(abs(correlation[1, 2]), 0.05)
    expect_equal(sign(correlation[1, 2]), sign(fit$theta_full[["b_price~~b_time"]]))
  })
}

test_that("estimates() puts spreads and Cholesky entries in block \"random\"", {
  est <- estimates(normal_first_fit)
  rownames(est) <- est$term
  expect_identical(est[c("b_time~~b_time", "b_price~~b_price", "asc_A~~asc_A", "b_price~~b_time"),
                       "block"], rep("random", 4))
  expect_identical(est[c("asc_A", "b_price", "b_time"), "block"], rep("choice", 3))
  expect_false(anyNA(est$std.error))
})

test_that("print() and summary() of a plain mixed logit show the random coefficients", {
  fit <- normal_first_fit
  printed <- capture.output(print(fit))
  expect_true(any(printed == "Choice model:"))
  expect_true(any(printed == "Random coefficients: spreads and Cholesky entries:"))
  expect_false(any(grepl("Measurement|Structural|Thresholds", printed)))

  s <- summary(fit)
  expect_identical(s$random, random_coefficients(fit))
  expect_identical(s$parts$part, "choice model")
  text <- capture.output(print(s))
  expect_false(any(grepl("Measurement|Structural|Thresholds", text)))
  start <- grep("^Random coefficients: distribution across individuals", text)
  expect_length(start, 1L)
  # One line per coefficient: its distribution, then mean, median and sd,
  # each with its standard error in brackets.
  price_line <- grep("^b_price ", text[start + 1:4], value = TRUE)
  expect_match(price_line, "neg_lognormal")
  price <- s$random[s$random$coef == "b_price", ]
  numbers <- as.numeric(regmatches(price_line, gregexpr("-?[0-9.]+(e-?[0-9]+)?", price_line))[[1]])
  expect_equal(numbers, c(rbind(price$estimate, price$std.error)), tolerance = 1e-3)
  expect_true(any(grepl("^Correlation of the underlying normals", text)))
  if (requireNamespace("generics", quietly = TRUE))
    expect_identical(generics::glance(fit)$logLik, fit$loglik)
})

test_that("wtp() refuses a random cost (defaults with a fixed one: test-random.R)", {
  expect_error(wtp(normal_first_fit, "b_time"), "`b_time` is a random coefficient \\(normal\\)")
})

test_that("a hybrid model's summary has its latent part and one random coefficient", {
  case <- hybrid_random_case(list(b_price = "neg_lognormal"), n_indiv = 300, n_tasks = 4,
                             seed = 13)
  fit <- fit_quietly(case, draws = 50)
  est <- estimates(fit)
  expect_identical(est$block[est$term == "b_price~~b_price"], "random")
  expect_identical(est$block[est$term %in% c("g", "b_att", "b_price")], rep("choice", 3))
  out <- random_coefficients(fit)
  expect_identical(out$measure, c("mean", "median", "sd"))
  expect_null(attr(out, "correlation"))
  text <- capture.output(print(summary(fit)))
  expect_true(all(c("Measurement equations", "Choice model",
                    "Random coefficients: spreads and Cholesky entries") %in% text))
  expect_length(grep("^Random coefficients: distribution", text), 1L)
  expect_false(any(grepl("^Correlation of the underlying", text)))
})

test_that("a fit without random coefficients has none to summarise", {
  model <- attitude_price_model()
  data <- iclv_simulate(model, n_indiv = 100, n_tasks = 3, seed = 4)
  fit <- iclv(model, data, draws = 30, control = iclv_control(threads = 1))
  expect_error(random_coefficients(fit), "the model has no random coefficients")
  expect_null(summary(fit)$random)
  expect_false(any(grepl("^Random coefficients", capture.output(print(summary(fit))))))
  expect_error(random_coefficients(coef(fit)), "must be an iclv_fit")
})
