# The memory monitor wired into the engine and the estimator.

memory_case <- local({
  model <- iclv_model("att =~ q1 + q2 + q3",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att, B = ~ b_price * price_B),
    choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = 120, n_tasks = 3, seed = 11)
  list(model = model, data = data)
})

test_that("a CPU threshold below the current RSS triggers gc and leaves the estimates unchanged", {
  control <- function(memory) iclv_control(threads = 1, memory = memory)
  plain <- iclv(memory_case$model, memory_case$data, draws = 20,
                control = control(memory_limits(cpu_mb = Inf, gpu_mb = Inf)))
  low <- iclv(memory_case$model, memory_case$data, draws = 20,
              control = control(memory_limits(cpu_mb = 1, gpu_mb = Inf)))
  records <- memory_summary(low)
  expect_true(all(records$action == "gc"))
  expect_true(nrow(records) >= low$convergence$iterations)
  expect_equal(memory_stats(low)$n_gc, nrow(records))
  expect_true(all(memory_summary(plain)$action == "none"))
  expect_identical(coef(low), coef(plain))
})

test_that("memory records cover setup, every iteration and the Hessian", {
  fit <- iclv(memory_case$model, memory_case$data, draws = 20,
              control = iclv_control(threads = 1))
  records <- memory_summary(fit)
  expect_equal(records$phase[1], "setup")
  expect_true(all(seq_len(fit$convergence$iterations) %in% records$iteration))
  expect_true("hessian" %in% records$phase)
  expect_true(all(records$host_mb > 0))
  expect_true(all(diff(records$time) >= 0))
})

test_that("the engine of iclv_loglik() carries its own monitor", {
  free <- iclv_parameters(memory_case$model)$free
  res <- iclv_loglik_plain(memory_case$model, memory_case$data,
                     attr(memory_case$data, "theta")[free], draws = 10, threads = 1)
  records <- memory_summary(res$engine)
  expect_equal(records$phase, "setup")
  expect_s3_class(memory_stats(res$engine), "data.frame")
})

test_that("1,000 evaluations of the seed-scale model leave RSS flat", {
  sizes <- c(8, 8, 8, 7, 7)
  first <- cumsum(c(1, sizes))[1:5]
  lv <- c("health", "benefit", "price", "knowledge", "intention")
  syntax <- paste(c(vapply(1:5, function(l) paste(lv[l], "=~",
    paste0("q", seq(first[l], length.out = sizes[l]), collapse = " + ")), ""),
    "intention ~ health + benefit + price + knowledge + age + female + income"),
    collapse = "\n")
  model <- iclv_model(syntax, utility = list(
    A = ~ asc + b_price * price_A + b_q * quality_A + b_o * organic_A + lambda * intention,
    B = ~ asc + b_price * price_B + b_q * quality_B + b_o * organic_B + lambda * intention,
    none = ~ 0), choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = 326, n_tasks = 6, seed = 42)
  free <- iclv_parameters(model)$free
  theta <- attr(data, "theta")[free]
  res <- iclv_loglik_plain(model, data, theta, draws = 100, threads = 2)
  theta_full <- attr(data, "theta")
  for (i in 1:10) iclv:::engine_eval(res$engine, theta_full)
  gc()
  before <- iclv:::process_rss_mb()
  for (i in 1:1000) iclv:::engine_eval(res$engine, theta_full)
  gc()
  after <- iclv:::process_rss_mb()
  # A leak of 1 KB per evaluation would add about 1 MB.
  expect_lt(after - before, 0.9)
})
