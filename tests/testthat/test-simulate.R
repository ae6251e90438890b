sim_model <- function() {
  handmade_three_items(
    terms = list(
      list(alt = "A", coef = "asc_A"),
      list(alt = "B", coef = "asc_B"),
      list(alt = "A", coef = "b_price", value = quote(price_A)),
      list(alt = "B", coef = "b_price", value = quote(price_B)),
      list(alt = "C", coef = "b_price", value = quote(price_C)),
      list(alt = "B", coef = "b_time", value = quote(time_B)),
      list(alt = "A", coef = "b_att", lv = "att")
    )
  )
}

# One latent variable without covariates, ordered and continuous indicators only.
measurement_model <- function(family = "ordered_probit") {
  handmade_model(
    latent = "att", loadings = list(q1 = "att", q2 = "att"),
    families = c(q1 = family, q2 = "continuous"), categories = c(q1 = 4)
  )
}

test_that("iclv_simulate returns one row per task with the model's columns", {
  model <- sim_model()
  sim <- iclv_simulate(model, n_indiv = 20, n_tasks = 3)
  expect_s3_class(sim, "data.frame")
  expect_equal(nrow(sim), 60L)
  expect_named(sim, c("id", "task", "choice", "price_A", "price_B", "price_C", "time_B",
                      "age", "female", "q1", "q2", "q3"))
  expect_equal(sim$id, rep(1:20, each = 3))
  expect_equal(sim$task, rep(1:3, times = 20))
  expect_true(all(sim$choice %in% c("A", "B", "C")))
  expect_true(all(sim$price_A >= 1 & sim$price_A <= 5))
  expect_true(all(sim$time_B >= 0 & sim$time_B <= 1))
  expect_true(all(sim$female %in% c(0, 1)))
  expect_true(all(sim$q1 %in% 1:3) && all(sim$q2 %in% 1:4))
  expect_type(sim$q1, "integer")
  # person-level columns repeat within an id
  expect_equal(lengths(lapply(split(sim$q3, sim$id), unique)), rep(1L, 20), ignore_attr = TRUE)

  theta <- attr(sim, "theta")
  expect_named(theta, model$params$name)
  expect_equal(theta[["b_att"]] != 0, TRUE)
  expect_lt(theta[["b_price"]], 0)
  expect_equal(unname(theta[c("att=~q1", "att~age", "q1|t1", "q1~~q1")]), c(1, 0.5, -1, 1))
  expect_equal(dim(attr(sim, "latent")), c(20L, 1L))

  # the simulated data pass the checks of prepare_data()
  prepared <- prepare_data(model, sim)
  expect_length(prepared$rows, 60L)
})

test_that("a model without a choice part gives one row per individual", {
  sim <- iclv_simulate(measurement_model(), n_indiv = 7)
  expect_named(sim, c("id", "q1", "q2"))
  expect_equal(nrow(sim), 7L)
})

test_that("simulation is deterministic by seed and leaves the caller's RNG alone", {
  model <- sim_model()
  a <- iclv_simulate(model, n_indiv = 10, n_tasks = 2, seed = 3)
  b <- iclv_simulate(model, n_indiv = 10, n_tasks = 2, seed = 3)
  c <- iclv_simulate(model, n_indiv = 10, n_tasks = 2, seed = 4)
  expect_identical(a, b)
  expect_false(identical(a$price_A, c$price_A))

  set.seed(99)
  before <- .Random.seed
  iclv_simulate(model, n_indiv = 10, n_tasks = 2)
  expect_identical(.Random.seed, before)

  rm(".Random.seed", envir = globalenv())
  iclv_simulate(model, n_indiv = 10, n_tasks = 2)
  expect_false(exists(".Random.seed", envir = globalenv(), inherits = FALSE))
  set.seed(1)
})

test_that("theta overrides defaults by name and is checked", {
  model <- sim_model()
  sim <- iclv_simulate(model, theta = c(b_price = -2, "att~age" = 0), n_indiv = 5, n_tasks = 2)
  expect_equal(attr(sim, "theta")[c("b_price", "att~age")], c(b_price = -2, "att~age" = 0))
  expect_error(iclv_simulate(model, theta = c(b_cost = 1)), "unknown parameters: `b_cost`")
  expect_error(iclv_simulate(model, theta = c("att~~att" = 2)),
               "`att~~att` fixed in the model cannot be given other values", fixed = TRUE)
  expect_error(iclv_simulate(model, theta = c("q1|t1" = 2)), "thresholds of indicator `q1` are not increasing")
  expect_error(iclv_simulate(model, theta = c(1, 2)), "named numeric vector")
  # the returned theta can be fed back (fixed values unchanged)
  again <- iclv_simulate(model, theta = attr(sim, "theta"), n_indiv = 5, n_tasks = 2)
  expect_identical(attr(again, "theta"), attr(sim, "theta"))
})

test_that("attributes supplies generators for attributes and covariates", {
  sim <- iclv_simulate(sim_model(), n_indiv = 6, n_tasks = 2,
                       attributes = list(price_A = function(n) rep(10, n),
                                         age = function(n) seq_len(n)))
  expect_true(all(sim$price_A == 10))
  expect_equal(sim$age, rep(1:6, each = 2))
  expect_error(iclv_simulate(sim_model(), attributes = list(price_A = 3)), "named list of functions")
})

test_that("latent paths carry through the structural equations", {
  model <- handmade_model(
    latent = c("a", "b"), loadings = list(q1 = "a", q2 = "b"),
    families = c(q1 = "continuous", q2 = "continuous"), lv_paths = list(b = "a")
  )
  sim <- iclv_simulate(model, theta = c("b~a" = 2), n_indiv = 2000)
  latent <- attr(sim, "latent")
  fit <- stats::lm(latent[, "b"] ~ latent[, "a"])
  expect_equal(unname(coef(fit)[2]), 2, tolerance = 0.05)
  expect_equal(stats::sd(stats::residuals(fit)), 1, tolerance = 0.05)
})

# Model-implied P(I = j) of an ordered indicator loading on one N(0, 1) latent
# variable, by numerical integration over the latent variable.
implied_ordered_probs <- function(loading, tau, cdf) {
  cuts <- c(-Inf, tau, Inf)
  vapply(seq_len(length(tau) + 1L), function(j) {
    stats::integrate(function(z) {
      (cdf(cuts[[j + 1L]] - loading * z) - cdf(cuts[[j]] - loading * z)) * stats::dnorm(z)
    }, -Inf, Inf)$value
  }, 0)
}

test_that("ordered indicator proportions match the model-implied ones", {
  tau <- c(-1, 0.2, 1.5)
  for (family in c("ordered_probit", "ordered_logit")) {
    theta <- c("att=~q1" = 1.5, "q1|t1" = tau[1], "q1|t2" = tau[2], "q1|t3" = tau[3],
               "att=~q2" = 0.8, "q2~1" = 2, "q2~~q2" = 0.5)
    sim <- iclv_simulate(measurement_model(family), theta = theta, n_indiv = 20000)
    cdf <- if (family == "ordered_probit") stats::pnorm else stats::plogis
    implied <- implied_ordered_probs(1.5, tau, cdf)
    observed <- tabulate(sim$q1, 4L) / nrow(sim)
    expect_lt(max(abs(observed - implied)), 0.015)
    # continuous indicator: mean 2, variance 0.8^2 + 0.5^2
    expect_lt(abs(mean(sim$q2) - 2), 0.03)
    expect_equal(stats::var(sim$q2), 0.8^2 + 0.5^2, tolerance = 0.03)
  }
})

test_that("choice shares match the multinomial logit probabilities", {
  model <- handmade_model(
    latent = "att", loadings = list(q1 = "att"), families = c(q1 = "continuous"),
    alternatives = c("A", "B", "C"),
    terms = list(list(alt = "A", coef = "asc_A"),
                 list(alt = "B", coef = "b_price", value = quote(price_B)),
                 list(alt = "C", coef = "b_price", value = quote(price_C)))
  )
  sim <- iclv_simulate(model, theta = c(asc_A = 0.5, b_price = -0.4), n_indiv = 4000, n_tasks = 5)
  utility <- cbind(0.5, -0.4 * sim$price_B, -0.4 * sim$price_C)
  prob <- exp(utility) / rowSums(exp(utility))
  shares <- as.vector(table(factor(sim$choice, c("A", "B", "C")))) / nrow(sim)
  expect_lt(max(abs(shares - colMeans(prob))), 0.01)
})

test_that("both references match a numerical integral over the latent variable", {
  model <- sim_model()
  sim <- iclv_simulate(model, n_indiv = 2, n_tasks = 3, seed = 11)
  sim$q2[sim$id == 2] <- NA          # a missing answer contributes nothing
  prepared <- prepare_data(model, sim)
  theta <- attr(sim, "theta")
  theta[["q3~~q3"]] <- 0.7
  theta[["q3~1"]] <- 0.3

  # exact: integrate the likelihood of each person over eta ~ N(0, 1)
  person_lik <- function(n, with_choice) {
    rows <- which(sim$id == n)
    person <- sim[rows[1], ]
    tau1 <- c(-Inf, theta[c("q1|t1", "q1|t2")], Inf)
    tau2 <- c(-Inf, theta[c("q2|t1", "q2|t2", "q2|t3")], Inf)
    stats::integrate(function(eta) vapply(eta, function(e) {
      lv <- theta[["att~age"]] * person$age + theta[["att~female"]] * person$female + e
      lik <- stats::pnorm(tau1[person$q1 + 1] - lv) - stats::pnorm(tau1[person$q1] - lv)
      if (!is.na(person$q2)) {
        lik <- lik * (stats::plogis(tau2[person$q2 + 1] - lv) - stats::plogis(tau2[person$q2] - lv))
      }
      lik <- lik * stats::dnorm(person$q3, theta[["q3~1"]] + lv, theta[["q3~~q3"]])
      if (with_choice) for (r in rows) {
        v <- c(theta[["asc_A"]] + theta[["b_price"]] * sim$price_A[r] + theta[["b_att"]] * lv,
               theta[["asc_B"]] + theta[["b_price"]] * sim$price_B[r] + theta[["b_time"]] * sim$time_B[r],
               theta[["b_price"]] * sim$price_C[r])
        lik <- lik * exp(v[match(sim$choice[r], c("A", "B", "C"))]) / sum(exp(v))
      }
      lik * stats::dnorm(e)
    }, 0), -12, 12, rel.tol = 1e-10)$value
  }
  exact <- log(vapply(1:2, person_lik, 0, with_choice = TRUE))
  exact_measurement <- log(vapply(1:2, person_lik, 0, with_choice = FALSE))

  # equal-weight draws on normal quantiles: a fine quadrature with R = 1000
  n_draws <- 1000
  draws <- array(rep(stats::qnorm((seq_len(n_draws) - 0.5) / n_draws), each = 2), c(2, n_draws, 1))
  ref <- reference_loglik(model, prepared, draws, theta)
  expect_equal(ref$loglik_indiv, exact, tolerance = 1e-4)
  expect_equal(ref$loglik, sum(ref$loglik_indiv))
  ref_measurement <- reference_loglik(model, prepared, draws, theta, choice = FALSE)
  expect_equal(ref_measurement$loglik_indiv, exact_measurement, tolerance = 1e-4)

  # reading everything from the raw data gives the same numbers
  ref_raw <- reference_loglik(model, prepared, draws, theta, data = sim)
  expect_equal(ref_raw$loglik_indiv, ref$loglik_indiv, tolerance = 1e-12)

  # explicit quadrature weights: a trapezoid grid in eta
  grid <- seq(-8, 8, length.out = 321)
  weights <- stats::dnorm(grid) * diff(grid)[1]
  grid_draws <- array(rep(grid, each = 2), c(2, length(grid), 1))
  ref_grid <- reference_loglik(model, prepared, grid_draws, theta, draw_weights = weights)
  expect_equal(ref_grid$loglik_indiv, exact, tolerance = 1e-7)

  # the reference on the structure written by hand
  by_hand <- list(
    id = "id", choice = "choice", latent = list(att = lv_by_hand("att", c("age", "female"))),
    indicators = list(q1 = item_by_hand("q1", "att", n_cat = 3),
                      q2 = item_by_hand("q2", "att", "ordered_logit", n_cat = 4),
                      q3 = item_by_hand("q3", "att", "continuous")),
    utility = list(
      A = function(x, lv, th)
        th[["asc_A"]] + th[["b_price"]] * x$price_A + th[["b_att"]] * lv[["att"]],
      B = function(x, lv, th)
        th[["asc_B"]] + th[["b_price"]] * x$price_B + th[["b_time"]] * x$time_B,
      C = function(x, lv, th) th[["b_price"]] * x$price_C))
  hand <- by_hand_loglik(by_hand, sim, draws, theta)
  expect_equal(hand$loglik_indiv, exact, tolerance = 1e-4)
  expect_equal(hand$loglik_indiv, ref$loglik_indiv, tolerance = 1e-12)
  expect_equal(by_hand_loglik(by_hand, sim, draws, theta, choice = FALSE)$loglik_indiv,
               exact_measurement, tolerance = 1e-4)
  expect_equal(by_hand_loglik(by_hand, sim, grid_draws, theta, draw_weights = weights)$loglik_indiv,
               exact, tolerance = 1e-7)
})

test_that("models from iclv_model() simulate, including shared labels and symmetric thresholds", {
  model <- iclv_model(
    latent = "
      att =~ q1 + a*q2 + a*q3
      norm =~ q4 + q5
      norm ~ att + income
      att ~ age + female",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ b_price * price_B + b_norm * norm * log(time_B + 1)),
    choice = "choice", id = "id",
    indicators = c(.default = "ordered_probit", q3 = "ordered_logit", q5 = "continuous"),
    thresholds = c(.default = "free", q2 = "symmetric"),
    categories = c(.default = 5, q1 = 3))
  sim <- iclv_simulate(model, n_indiv = 300, n_tasks = 2, seed = 5)
  expect_named(sim, c("id", "task", "choice", "price_A", "price_B", "time_B", "age", "female",
                      "income", "q1", "q2", "q3", "q4", "q5"))
  expect_true(all(sim$q1 %in% 1:3) && all(sim$q2 %in% 1:5) && all(sim$q4 %in% 1:5))
  # symmetric thresholds: all five categories of q2 occur, both tails about equally
  counts <- tabulate(sim$q2[sim$task == 1], 5L)
  expect_true(all(counts > 0))
  expect_named(attr(sim, "theta"), model$params$name)
  expect_equal(attr(sim, "theta")[["a"]], 1)
  prepared <- prepare_data(model, sim)
  expect_equal(dim(prepared$term_value), c(600L, nrow(model$utility_terms)))
})
