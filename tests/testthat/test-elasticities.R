# elasticities(): against the analytic derivative of the logit
# probabilities over the same draws in plain R, and against finite
# differences of predict() on scaled data.

elasticity_data <- iclv_simulate(attitude_price_model(), n_indiv = 100, n_tasks = 3, seed = 6)
elasticity_fit <- iclv(attitude_price_model(), elasticity_data, draws = 40,
                       control = iclv_control(threads = 1))

test_that("task elasticities equal the analytic derivative over the draws", {
  out <- elasticities(elasticity_fit, "price_A")
  draw_prob <- attitude_price_draw_probabilities(elasticity_fit, elasticity_data)
  prob <- apply(draw_prob, c(1, 3), mean)
  # d P_i / d log x_A = b_price x_A mean_z[P_i (1{i = A} - P_A)].
  slope <- sapply(1:3, function(i) {
    rowMeans(draw_prob[, , i] * ((i == 1) - draw_prob[, , 1]))
  }) * elasticity_fit$theta_full[["b_price"]] * elasticity_data$price_A
  expect_named(out, c("shares", "tasks"))
  expect_named(out$tasks, c("id", "row", "A", "B", "C"))
  expect_equal(as.matrix(out$tasks[c("A", "B", "C")]), slope / prob, tolerance = 1e-6,
               ignore_attr = TRUE)
  expect_equal(out$shares$elasticity, unname(colSums(slope) / colSums(prob)), tolerance = 1e-6)
  expect_identical(out$shares$kind, c("direct", "cross", "cross"))
  expect_true(all(out$tasks$A < 0 & out$tasks$B > 0 & out$tasks$C > 0))
})

test_that("share elasticities agree with finite differences of predict()", {
  out <- elasticities(elasticity_fit, "price_C", newdata = elasticity_data)
  scaled <- function(factor) {
    data <- elasticity_data
    data$price_C <- data$price_C * factor
    predict(elasticity_fit, data, type = "share")$share
  }
  h <- 1e-3
  finite_difference <- (log(scaled(exp(h))) - log(scaled(exp(-h)))) / (2 * h)
  expect_equal(out$shares$elasticity, finite_difference, tolerance = 1e-5)
  expect_identical(out$shares$kind, c("cross", "cross", "direct"))
})

test_that("bad attributes give clear errors", {
  expect_error(elasticities(elasticity_fit, "price_D"),
               "`price_D` enters no utility; the utilities use `price_A`, `price_B`, `price_C`")
  expect_error(elasticities(elasticity_fit, c("price_A", "price_B")), "one data column")
  expect_error(elasticities(elasticity_fit, "price_A", newdata = 1), "must be a data frame")
  logged <- iclv_model("attitude =~ q1 + q2 + q3",
                       utility = list(A = ~ b_price * log(price_A) + b_att * attitude,
                                      B = ~ asc_B + b_price * price_B),
                       choice = "choice", id = "id")
  data <- iclv_simulate(logged, n_indiv = 60, n_tasks = 2, seed = 1,
                        attributes = list(price_A = function(n) runif(n, 1, 3),
                                          price_B = function(n) runif(n, 1, 3)))
  fit <- suppressWarnings(iclv(logged, data, draws = 20, control = iclv_control(threads = 1)))
  expect_error(elasticities(fit, "price_A"), "term `b_price \\* log\\(price_A\\)` of alternative `A` through an expression")
})
