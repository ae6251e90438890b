# predict(): probabilities and shares for the estimation data and for
# scenarios against a plain R integration over the same points, intervals by
# the delta method against simulation, and errors for bad newdata.

predict_data <- iclv_simulate(attitude_price_model(), n_indiv = 120, n_tasks = 3, seed = 4)
predict_fit <- iclv(attitude_price_model(), predict_data, draws = 40,
                    control = iclv_control(threads = 1))

plain_r_probabilities <- function(fit, data) {
  apply(attitude_price_draw_probabilities(fit, data), c(1, 3), mean)
}

dearer_A <- function(data) {
  data$price_A <- 1.1 * data$price_A
  data
}

test_that("predict() on the estimation data gives the fitted probabilities", {
  prob <- predict(predict_fit)
  expect_equal(as.matrix(prob[c("A", "B", "C")]),
               plain_r_probabilities(predict_fit, predict_data), tolerance = 1e-10)
  expect_identical(prob$row, seq_len(nrow(predict_data)))
  # The same data given as newdata, with or without the choices and answers.
  expect_equal(predict(predict_fit, predict_data), prob, tolerance = 1e-12)
  bare <- predict_data[c("id", "task", "price_A", "price_B", "price_C", "age")]
  expect_equal(predict(predict_fit, bare), prob, tolerance = 1e-12)
})

test_that("scenario probabilities and shares match a plain R computation", {
  scenario <- dearer_A(predict_data[c("id", "task", "price_A", "price_B", "price_C", "age")])
  expected <- plain_r_probabilities(predict_fit, scenario)
  prob <- predict(predict_fit, scenario)
  expect_equal(as.matrix(prob[c("A", "B", "C")]), expected, tolerance = 1e-10)
  shares <- predict(predict_fit, scenario, type = "share")
  expect_named(shares, c("alternative", "share"))
  expect_equal(shares$share, unname(colMeans(expected)), tolerance = 1e-10)
  # With choices in the data the observed shares come too.
  observed <- predict(predict_fit, type = "share")
  expect_equal(observed$observed,
               as.vector(table(factor(predict_data$choice, c("A", "B", "C")))) / 360)
  # A dearer A loses share.
  expect_lt(shares$share[1], observed$share[1])
  # Rows follow the scenario's order, whatever it is.
  shuffled <- scenario[rev(seq_len(nrow(scenario))), ]
  expect_equal(predict(predict_fit, shuffled)$A, rev(prob$A), tolerance = 1e-12)
})

test_that("delta-method intervals of shares agree with simulated ones", {
  delta <- predict(predict_fit, type = "share", interval = "delta")
  expect_named(delta, c("alternative", "share", "observed", "std.error", "conf.low",
                        "conf.high"))
  expect_equal(delta$conf.high - delta$share, qnorm(0.975) * delta$std.error)
  simulated <- predict(predict_fit, type = "share", interval = "simulation", n_sim = 1000)
  expect_equal(simulated$share, delta$share)
  expect_equal(simulated$conf.high - simulated$conf.low, delta$conf.high - delta$conf.low,
               tolerance = 0.1)
  # The standard error of a share: the delta method by hand with the
  # plain R shares' Jacobian.
  free <- names(coef(predict_fit))
  share_at <- function(theta_free) {
    fit <- predict_fit
    fit$theta_full[free] <- theta_free
    colMeans(plain_r_probabilities(fit, predict_data))
  }
  jacobian <- numDeriv::jacobian(share_at, coef(predict_fit))
  expect_equal(delta$std.error, sqrt(diag(jacobian %*% vcov(predict_fit) %*% t(jacobian))),
               tolerance = 1e-5)
})

test_that("probability intervals have a column pair per alternative and cover the estimate", {
  prob <- predict(predict_fit, dearer_A(predict_data), interval = "delta", level = 0.9)
  expect_named(prob, c("id", "row", "A", "B", "C", "A_conf.low", "B_conf.low", "C_conf.low",
                       "A_conf.high", "B_conf.high", "C_conf.high"))
  expect_true(all(prob$A_conf.low < prob$A & prob$A < prob$A_conf.high))
})

test_that("delta intervals of probabilities rest on the engine's analytic Jacobian", {
  # The Jacobian from the engine's scores against central differences of the
  # plain R probabilities (independent of the engine).
  setup <- iclv:::prediction_setup(predict_fit, dearer_A(predict_data))
  analytic <- iclv:::probability_jacobian(predict_fit, setup$prepared, setup$points)
  free <- names(coef(predict_fit))
  probability_at <- function(theta_free) {
    fit <- predict_fit
    fit$theta_full[free] <- theta_free
    as.vector(plain_r_probabilities(fit, dearer_A(predict_data)))
  }
  # The engine orders tasks by person; the plain R rows follow the data.
  in_data_order <- analytic[as.vector(outer(order(setup$prepared$rows), 0:2 * nrow(predict_data),
                                            "+")), ]
  expect_equal(unname(in_data_order), numDeriv::jacobian(probability_at, coef(predict_fit)),
               tolerance = 1e-7)
  # Shares: the mean of the probabilities' rows.
  delta <- predict(predict_fit, dearer_A(predict_data), type = "share", interval = "delta")
  shares_jacobian <- rowsum(analytic, rep(1:3, each = nrow(predict_data))) / nrow(predict_data)
  expect_equal(delta$std.error,
               unname(sqrt(diag(shares_jacobian %*% vcov(predict_fit) %*% t(shares_jacobian)))),
               tolerance = 1e-10)
})

test_that("a single individual can be predicted, with the draws the fit gave that person", {
  first_id <- sort(unique(predict_data$id))[1]
  one <- predict_data[predict_data$id == first_id, ]
  prob <- predict(predict_fit, one, interval = "delta")
  all_rows <- predict(predict_fit, interval = "delta")
  expect_equal(prob[c("A", "B", "C", "A_conf.low", "C_conf.high")],
               all_rows[all_rows$id == first_id, c("A", "B", "C", "A_conf.low", "C_conf.high")],
               tolerance = 1e-12, ignore_attr = TRUE)
  lv <- predict(predict_fit, one, type = "lv")
  # New data are integrated with plain points (the fit's own data with its
  # adaptive ones), so the reference is the whole data given as newdata.
  expect_equal(lv, predict(predict_fit, predict_data, type = "lv")[1, ], tolerance = 1e-10,
               ignore_attr = TRUE)
  expect_identical(nrow(predict(predict_fit, one, type = "share")), 3L)
})

test_that("simulated intervals are reproducible by seed and leave the session's stream alone", {
  set.seed(99)
  before <- runif(1)
  set.seed(99)
  first <- predict(predict_fit, type = "share", interval = "simulation", n_sim = 50, seed = 7)
  expect_identical(runif(1), before)
  again <- predict(predict_fit, type = "share", interval = "simulation", n_sim = 50, seed = 7)
  expect_identical(first, again)
  other <- predict(predict_fit, type = "share", interval = "simulation", n_sim = 50, seed = 8)
  expect_false(identical(first$conf.low, other$conf.low))
})

test_that("bad newdata gives clear errors naming the problem", {
  expect_error(predict(predict_fit, predict_data[names(predict_data) != "price_B"]),
               "column `price_B` .* is not in the data")
  bad_answer <- predict_data
  bad_answer$q1[1:3] <- 7L
  expect_error(predict(predict_fit, bad_answer), "q1")
  bad_choice <- predict_data
  bad_choice$choice[2] <- "D"
  expect_error(predict(predict_fit, bad_choice), "choice column `choice` has values that are not alternatives.*'D' \\(row 2\\)")
  missing_price <- predict_data
  missing_price$price_C[5] <- NA
  expect_error(predict(predict_fit, missing_price), "column `price_C` has 1 missing value \\(row 5\\)")
  expect_error(predict(predict_fit, as.matrix(predict_data)), "`newdata` must be a data frame")
  expect_error(predict(predict_fit, predict_data, type = "lv", interval = "delta"),
               "no intervals")
  expect_error(predict(predict_fit, type = "share", interval = "delta", level = 95), "`level`")
  expect_error(predict(predict_fit, type = "share", interval = "simulation", n_sim = 1), "`n_sim`")
})

test_that("latent variables of new data: the prior without answers, the posterior given them", {
  theta <- predict_fit$theta_full
  people <- predict_data[!duplicated(predict_data$id), ]
  covariates_only <- people[c("id", "age")]
  prior <- predict(predict_fit, covariates_only, type = "lv")
  # Standardised draws have mean 0 and variance 1 for every person exactly.
  expect_equal(prior$attitude, theta[["attitude~age"]] * people$age, tolerance = 1e-10)
  expect_equal(prior$attitude_sd, rep(1, nrow(people)), tolerance = 1e-10)
  # Given the answers (no choices): ordered probit likelihoods over the
  # same draws, in plain R.
  answers <- people[c("id", "age", "q1", "q2", "q3")]
  base <- iclv:::points_base(iclv:::points_from_recipe(predict_fit$draw_recipe, nrow(people),
                                                       1L, adaptive = TRUE))[, , 1]
  attitude <- theta[["attitude~age"]] * people$age + base
  weight <- matrix(1, nrow(people), ncol(base))
  for (q in c("q1", "q2", "q3")) {
    tau <- c(-Inf, theta[paste0(q, "|t", 1:3)], Inf)
    index <- theta[[paste0("attitude=~", q)]] * attitude
    answer <- people[[q]]
    weight <- weight * (pnorm(tau[answer + 1] - index) - pnorm(tau[answer] - index))
  }
  posterior <- predict(predict_fit, answers, type = "lv")
  expect_equal(posterior$attitude, rowSums(weight * attitude) / rowSums(weight),
               tolerance = 1e-8)
  expect_gt(cor(posterior$attitude, predict(predict_fit, type = "lv")$attitude), 0.95)
})

test_that("utilities are the systematic utilities at the latent variables' prior means", {
  theta <- predict_fit$theta_full
  scenario <- dearer_A(predict_data)
  utility <- predict(predict_fit, scenario, type = "utility", interval = "delta")
  attitude <- theta[["attitude~age"]] * scenario$age
  expect_equal(utility$A, theta[["asc_A"]] + theta[["b_price"]] * scenario$price_A +
                 theta[["b_att"]] * attitude, tolerance = 1e-10)
  expect_equal(utility$B, theta[["b_price"]] * scenario$price_B, tolerance = 1e-12)
  # V_B = b_price * price_B: its standard error is price_B times b_price's.
  se_price <- sqrt(vcov(predict_fit)["b_price", "b_price"])
  expect_equal((utility$B_conf.high - utility$B) / qnorm(0.975), se_price * scenario$price_B,
               tolerance = 1e-6)
})
