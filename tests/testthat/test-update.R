# update(): models rebuilt with changed arguments, identical to building them
# directly; fits refitted from the old estimates, reaching the optimum of a
# fresh fit.

update_data <- iclv_simulate(attitude_price_model(), n_indiv = 120, n_tasks = 3, seed = 12)

test_that("update() of a model equals the model built with the changed arguments", {
  model <- attitude_price_model(fixed = c(asc_C = 0.2))
  restricted <- update(model, fixed = c(b_att = 0))
  direct <- attitude_price_model(fixed = c(asc_C = 0.2, b_att = 0))
  expect_equal(restricted$params, direct$params)
  expect_equal(restricted$plan, direct$plan)
  # A fixed value can be changed, and all removed.
  expect_equal(update(restricted, fixed = c(b_att = 1))$params$start[
    restricted$params$name == "b_att"], 1)
  expect_equal(update(restricted, fixed = NULL)$params, attitude_price_model()$params)
  # Other arguments.
  four_items <- update(model, latent = "attitude =~ q1 + q2 + q3 + q4\nattitude ~ age")
  expect_identical(four_items$indicators, c("q1", "q2", "q3", "q4"))
  expect_identical(four_items$params$start[four_items$params$name == "asc_C"], 0.2)
  expect_error(update(model, fixd = c(b_att = 0)), "`fixd` is not an argument of iclv_model")
  expect_error(update(model, c(b_att = 0)), "give every change by name")
})

test_that("update() of a fit refits from the old estimates", {
  fit <- iclv(attitude_price_model(), update_data, draws = 40,
              control = iclv_control(threads = 1))
  again <- update(fit, control = iclv_control(threads = 1, maxit = 500))
  expect_equal(again$call$start, coef(fit))
  expect_identical(again$start_stages, "defaults") # no latent or MNL stage: all given
  expect_lt(again$convergence$iterations, fit$convergence$iterations)
  expect_equal(again$loglik, fit$loglik, tolerance = 1e-6)
  fewer <- update(fit, draws = 20)
  expect_identical(fewer$n_draws, 20L)
  expect_error(update(fit, drawz = 20), "`drawz` is not an argument of iclv")
})

test_that("update() of a fit with a bigger model reaches the fresh fit's optimum", {
  model <- attitude_price_model()
  restricted <- iclv(update(model, fixed = c(b_att = 0)), update_data, draws = 40,
                     control = iclv_control(threads = 1))
  refit <- update(restricted, model = model)
  fresh <- iclv(model, update_data, draws = 40, control = iclv_control(threads = 1))
  expect_identical(names(refit$call$start), setdiff(names(coef(fresh)), "b_att"))
  expect_equal(refit$loglik, fresh$loglik, tolerance = 1e-6)
  expect_equal(coef(refit), coef(fresh), tolerance = 1e-3)
})
