# delta_method() and wtp(): estimates and standard errors against the
# closed-form delta method in plain R and a Krinsky-Robb simulation; errors
# for bad expressions.

delta_model <- attitude_price_model()
delta_data <- iclv_simulate(delta_model, n_indiv = 200, n_tasks = 3, seed = 21)
delta_fit <- iclv(delta_model, delta_data, draws = 50, control = iclv_control(threads = 1))

test_that("a ratio's standard error equals the closed-form delta method", {
  out <- delta_method(delta_fit, c(wtp_att = "-b_att / b_price"))
  est <- coef(delta_fit)
  v <- vcov(delta_fit)[c("b_att", "b_price"), c("b_att", "b_price")]
  a <- est[["b_att"]]
  b <- est[["b_price"]]
  gradient <- c(-1 / b, a / b^2)
  se <- sqrt(drop(gradient %*% v %*% gradient))
  expect_named(out, c("term", "estimate", "std.error", "statistic", "p.value", "conf.low",
                      "conf.high", "expression"))
  expect_identical(out$term, "wtp_att")
  expect_equal(out$estimate, -a / b, tolerance = 1e-12)
  expect_equal(out$std.error, se, tolerance = 1e-7)
  expect_equal(out$statistic, out$estimate / se, tolerance = 1e-7)
  expect_equal(out$p.value, 2 * pnorm(-abs(-a / b / se)), tolerance = 1e-6)
  expect_equal(out$conf.high - out$conf.low, 2 * qnorm(0.975) * se, tolerance = 1e-7)
  # Another covariance type changes the standard error accordingly.
  classical <- delta_method(delta_fit, c(wtp_att = "-b_att / b_price"), type = "classical")
  vc <- vcov(delta_fit, type = "classical")[c("b_att", "b_price"), c("b_att", "b_price")]
  expect_equal(classical$std.error, sqrt(drop(gradient %*% vc %*% gradient)), tolerance = 1e-7)
})

test_that("a single parameter reproduces estimates()", {
  out <- delta_method(delta_fit, c("`attitude=~q2`", "b_price"))
  est <- estimates(delta_fit)
  rownames(est) <- est$term
  expect_identical(out$term, c("`attitude=~q2`", "b_price"))
  expect_equal(out$estimate, est[c("attitude=~q2", "b_price"), "estimate"], tolerance = 1e-12)
  expect_equal(out$std.error, est[c("attitude=~q2", "b_price"), "std.error"], tolerance = 1e-7)
})

test_that("the standard error agrees with a Krinsky-Robb simulation of the expression", {
  expression <- "exp(b_att / 2) * b_price + asc_A * `attitude=~q2`"
  out <- delta_method(delta_fit, c(f = expression))
  est <- coef(delta_fit)
  v <- vcov(delta_fit)
  set.seed(5)
  n_sim <- 20000L
  sims <- matrix(rnorm(n_sim * length(est)), n_sim) %*% chol(v) +
    rep(est, each = n_sim)
  colnames(sims) <- names(est)
  values <- with(as.data.frame(sims, check.names = FALSE),
                 exp(b_att / 2) * b_price + asc_A * `attitude=~q2`)
  # The SE of a simulated sd from 20000 draws is 0.5%; the expression is
  # nearly linear over the parameters' spread.
  expect_equal(out$std.error, sd(values), tolerance = 0.03)
})

test_that("fixed parameters may appear in an expression and carry no variance", {
  out <- delta_method(delta_fit, c(scaled = "b_att * `attitude~~attitude`"))
  plain <- delta_method(delta_fit, c(scaled = "b_att"))
  expect_equal(out$std.error, plain$std.error, tolerance = 1e-8)
})

test_that("wtp() gives every choice coefficient over the cost coefficient", {
  out <- wtp(delta_fit, "b_price")
  expect_identical(out$term, c("asc_A", "b_att", "asc_C"))
  est <- coef(delta_fit)
  expect_equal(out$estimate, unname(-est[out$term] / est[["b_price"]]), tolerance = 1e-12)
  by_hand <- delta_method(delta_fit, c(b_att = "-b_att / b_price"))
  expect_equal(out$std.error[2], by_hand$std.error, tolerance = 1e-12)
  expect_identical(wtp(delta_fit, "b_price", attributes = "b_att")$term, "b_att")
  expect_error(wtp(delta_fit, "b_cost"), "`cost` must name one free coefficient.*`b_price`")
  expect_error(wtp(delta_fit, "b_price", attributes = "b_time"), "`b_time`")
})

test_that("bad expressions give clear errors naming them", {
  expect_error(delta_method(delta_fit, c(w = "-b_att / b_prce")),
               "expression `w` uses `b_prce`, not a parameter")
  expect_error(delta_method(delta_fit, c(w = "-b_att / ")), "expression `w` .* does not parse")
  expect_error(delta_method(delta_fit, c(w = "b_att; b_price")), "must be one R expression")
  expect_error(delta_method(delta_fit, c(w = "1 / (b_att - b_att)")),
               "expression `w` must give one finite number")
  expect_error(delta_method(delta_fit, c(w = "c(b_att, b_price)")),
               "expression `w` must give one finite number")
  expect_error(delta_method(delta_fit, c(w = "b_att", w = "b_price")), "two expressions")
  expect_error(delta_method(delta_fit, 3), "character vector")
  expect_error(delta_method(delta_fit, "b_att", level = 2), "`level`")
  expect_error(delta_method(list(), "b_att"), "must be an iclv_fit")
})
