# iclv_backends(), the GPU self-test of the shared maths, and backend choice.

test_that("iclv_backends() reports both backends with the documented columns", {
  b <- iclv_backends()
  expect_s3_class(b, "data.frame")
  expect_identical(names(b), c("backend", "built", "usable", "threads", "device",
                               "compute_capability", "memory_mb", "free_mb", "note"))
  expect_identical(b$backend, c("cpu", "gpu"))
  expect_true(b$built[1] && b$usable[1])
  expect_gte(b$threads[1], 1L)
  expect_type(b$built, "logical")
  expect_identical(b$usable[2], iclv:::gpu_usable())
  if (!b$usable[2]) expect_true(nzchar(b$note[2]))
  if (!b$built[2]) expect_match(b$note[2], "without CUDA")
})

test_that("the ordered-cell maths agree between the GPU self-test kernel and the CPU", {
  skip_if_no_gpu()
  lo <- c(-Inf, -1, 0.5, 3, -40)
  hi <- c(-0.2, 1, 2, Inf, -39)
  expected <- log(pmax(pnorm(hi) - pnorm(lo), 1e-300))
  expect_equal(.Call(iclv:::C_gpu_selftest, lo, hi, FALSE)[1:4], expected[1:4],
               tolerance = 1e-12)
})

test_that("backend = \"auto\" stays on the CPU for small problems", {
  expect_identical(iclv:::resolve_backend("auto", 100, 50), "cpu")
  expect_identical(iclv:::resolve_backend("cpu", 1e5, 1e3), "cpu")
  expect_error(iclv:::resolve_backend("fast", 10, 10), "`backend` must be one of")
})

test_that("estimates are identical for one and two threads", {
  model <- iclv_model("att =~ q1 + q2 + q3",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att, B = ~ b_price * price_B),
    choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = 150, n_tasks = 3, seed = 17)
  one <- iclv(model, data, draws = 25, control = iclv_control(threads = 1))
  two <- iclv(model, data, draws = 25, control = iclv_control(threads = 2))
  expect_identical(coef(one), coef(two))
  expect_identical(vcov(one), vcov(two))
  expect_identical(one$loglik, two$loglik)
})
