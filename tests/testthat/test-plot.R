# plot(type = "lv") and plot(type = "shares"): what they draw, against the
# structural equations and predict().

plot_data <- iclv_simulate(attitude_price_model(), n_indiv = 100, n_tasks = 3, seed = 9)
plot_fit <- iclv(attitude_price_model(), plot_data, draws = 40,
                 control = iclv_control(threads = 1))

in_null_device <- function(expr) {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expr
}

test_that("plot(type = \"lv\") draws the posterior means against the structural prior", {
  drawn <- in_null_device(plot(plot_fit, type = "lv"))
  expect_equal(drawn$posterior, predict(plot_fit, type = "lv"))
  people <- plot_data[!duplicated(plot_data$id), ]
  expect_equal(unname(drawn$prior_mean[, "attitude"]),
               plot_fit$theta_full[["attitude~age"]] * people$age, tolerance = 1e-10)
  expect_equal(unname(drawn$prior_sd[, "attitude"]), rep(1, 100), tolerance = 1e-10)
})

test_that("plot(type = \"shares\") draws the predicted and observed shares", {
  drawn <- in_null_device(plot(plot_fit, type = "shares", level = 0.9))
  expect_equal(drawn, predict(plot_fit, type = "share", interval = "delta", level = 0.9))
  dearer <- plot_data
  dearer$price_A <- 2 * dearer$price_A
  drawn <- in_null_device(plot(plot_fit, type = "shares", newdata = dearer))
  expect_lt(drawn$share[1], drawn$observed[1])
  dearer$choice <- NULL
  expect_error(in_null_device(plot(plot_fit, type = "shares", newdata = dearer)),
               "holds no choices \\(column `choice`\\)")
})

test_that("plot(type = \"lv\") works for a model without a choice part", {
  model <- iclv_model("attitude =~ q1 + q2 + q3\nattitude ~ age")
  data <- iclv_simulate(model, n_indiv = 80, seed = 2)
  fit <- iclv(model, data, draws = 20, control = iclv_control(threads = 1))
  drawn <- in_null_device(plot(fit, type = "lv"))
  expect_equal(unname(drawn$prior_mean[, 1]),
               fit$theta_full[["attitude~age"]] * data$age[!duplicated(data$id)][order(unique(data$id))],
               tolerance = 1e-10)
})
