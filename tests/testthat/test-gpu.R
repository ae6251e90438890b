# The CUDA engine against the CPU engine: same log-likelihood, gradient and
# scores on the models of helper-models.R, results
# identical run to run and for any chunk size, device memory given back, and
# errors that name the failing CUDA call. Skipped without a usable GPU.

gpu_models <- engine_models

# A model, simulated data with missing answers (and availability), theta_full
# away from the truth, and the CPU engine on given draws.
gpu_case <- function(spec, n_indiv = 40, n_draws = 37, seed = 1, availability = FALSE,
                     draw_weights = NULL) {
  case <- build_case(spec, n_indiv = n_indiv, seed = seed, availability = availability)
  prepared <- iclv:::prepare_data(case$model, case$data)
  draws <- iclv_draws(n_indiv, n_draws, length(case$model$latent), seed = seed + 4)
  engine <- iclv:::engine_build(case$model, prepared, draws, draw_weights = draw_weights,
                                threads = 1)
  list(model = case$model, engine = engine, theta_full = unname(case$theta))
}

expect_same_evaluation <- function(gpu, cpu) {
  expect_equal(gpu$loglik, cpu$loglik, tolerance = 1e-10)
  expect_equal(gpu$loglik_indiv, cpu$loglik_indiv, tolerance = 1e-10)
  expect_equal(gpu$gradient, cpu$gradient, tolerance = 1e-8)
  expect_equal(gpu$scores, cpu$scores, tolerance = 1e-8)
  expect_identical(gpu$n_nonpositive, cpu$n_nonpositive)
}

for (name in names(gpu_models)) {
  test_that(paste("GPU and CPU engines agree:", name), {
    skip_if_no_gpu()
    case <- gpu_case(gpu_models[[name]], availability = name == "probit_paths")
    gpu <- iclv:::gpu_engine_build(case$engine)
    cpu_res <- iclv:::engine_eval(case$engine, case$theta_full, gradient = TRUE, scores = TRUE)
    gpu_res <- iclv:::gpu_engine_eval(gpu, case$theta_full, gradient = TRUE, scores = TRUE)
    expect_same_evaluation(gpu_res, cpu_res)
    expect_equal(dim(gpu_res$scores), c(40L, length(case$theta_full)))
    # Without the gradient, and without the choice part.
    ll_only <- iclv:::gpu_engine_eval(gpu, case$theta_full, gradient = FALSE)
    expect_null(ll_only$gradient)
    expect_null(ll_only$scores)
    expect_identical(ll_only$loglik_indiv, gpu_res$loglik_indiv)
    no_choice_cpu <- iclv:::engine_eval(case$engine, case$theta_full, choice = FALSE)
    no_choice_gpu <- iclv:::gpu_engine_eval(gpu, case$theta_full, choice = FALSE)
    expect_equal(no_choice_gpu$loglik, no_choice_cpu$loglik, tolerance = 1e-10)
    expect_equal(no_choice_gpu$gradient, no_choice_cpu$gradient, tolerance = 1e-8)
  })
}

test_that("a Hessian asked of a device engine is the host engine's, computed on the CPU", {
  skip_if_no_gpu()
  case <- gpu_case(gpu_models$probit_paths, availability = TRUE)
  free <- case$model$params$free
  gpu <- iclv:::gpu_engine_build(case$engine)
  cpu_res <- iclv:::engine_eval(case$engine, case$theta_full, scores = TRUE, hessian = free)
  gpu_res <- iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE, hessian = free)
  expect_identical(gpu_res$hessian, cpu_res$hessian)
  expect_identical(gpu_res$gradient, cpu_res$gradient)
  expect_equal(dim(gpu_res$hessian), rep(sum(free), 2L))
})

test_that("GPU agrees with the CPU over several rounds of draws per thread block", {
  skip_if_no_gpu()
  # 600 draws: rounds of 256 draws, the last one partial.
  case <- gpu_case(gpu_models$probit_paths, n_indiv = 12, n_draws = 600, seed = 3)
  gpu <- iclv:::gpu_engine_build(case$engine)
  expect_equal(iclv:::gpu_engine_info(gpu)$threads, 256L)
  cpu_res <- iclv:::engine_eval(case$engine, case$theta_full, scores = TRUE)
  expect_same_evaluation(iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE), cpu_res)
})

test_that("GPU agrees with the CPU for per-individual signed draw weights", {
  skip_if_no_gpu()
  n_indiv <- 40
  n_draws <- 16
  set.seed(11)
  weights <- matrix(stats::runif(n_indiv * n_draws, 0.2, 1), n_indiv, n_draws)
  weights[, 1:3] <- -weights[, 1:3]
  weights[5, ] <- -abs(weights[5, ]) # this individual's integral is negative: flagged
  case <- gpu_case(gpu_models$biogeme_scale, n_indiv = n_indiv, n_draws = n_draws, seed = 5,
                   draw_weights = weights)
  gpu <- iclv:::gpu_engine_build(case$engine)
  cpu_res <- iclv:::engine_eval(case$engine, case$theta_full, scores = TRUE)
  gpu_res <- iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE)
  expect_gte(cpu_res$n_nonpositive, 1L)
  expect_same_evaluation(gpu_res, cpu_res)
  expect_true(all(gpu_res$scores[5, ] == 0))
})

test_that("GPU results are identical run to run", {
  skip_if_no_gpu()
  case <- gpu_case(gpu_models$shared_symmetric, n_indiv = 70, n_draws = 100, seed = 4)
  gpu <- iclv:::gpu_engine_build(case$engine)
  first <- iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE)
  for (i in 1:3) expect_identical(iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE),
                                  first)
  # A second engine on the same data gives the same bits too.
  again <- iclv:::gpu_engine_eval(iclv:::gpu_engine_build(case$engine), case$theta_full,
                                  scores = TRUE)
  expect_identical(again, first)
})

test_that("chunks of individuals give the same bits as one launch", {
  skip_if_no_gpu()
  case <- gpu_case(gpu_models$probit_paths, n_indiv = 100, n_draws = 50, seed = 6)
  whole <- iclv:::gpu_engine_build(case$engine)
  tiny <- iclv:::gpu_engine_build(case$engine, max_mb = 1e-6)
  expect_identical(iclv:::gpu_engine_info(whole)$chunk, 100L)
  expect_identical(iclv:::gpu_engine_info(tiny)$chunk, 32L)
  reference <- iclv:::gpu_engine_eval(whole, case$theta_full, scores = TRUE)
  expect_identical(iclv:::gpu_engine_eval(tiny, case$theta_full, scores = TRUE), reference)
  # Releasing the workspace halves the chunk; the rebuilt one agrees as well.
  before <- iclv:::gpu_engine_info(whole)$device_mb
  freed <- iclv:::gpu_engine_release(whole)
  expect_gt(freed, 0)
  expect_equal(iclv:::gpu_engine_info(whole)$device_mb, before - freed)
  expect_identical(iclv:::gpu_engine_info(whole)$chunk, 32L)
  expect_identical(iclv:::gpu_engine_eval(whole, case$theta_full, scores = TRUE), reference)
})

# A case large enough (about 60 MB of draws) that a leak would show in
# cudaMemGetInfo, whose resolution is coarse.
big_case <- function() {
  gpu_case(gpu_models$latent_only, n_indiv = 400, n_draws = 10000, seed = 7)
}

test_that("device memory returns to its starting level after garbage collection", {
  skip_if_no_gpu()
  case <- big_case()
  # Warm up: the CUDA context and the kernels' modules are loaded once.
  warm <- iclv:::gpu_engine_build(case$engine)
  iclv:::gpu_engine_eval(warm, case$theta_full, scores = TRUE)
  rm(warm)
  gc()
  start <- gpu_free_mb()
  gpu <- iclv:::gpu_engine_build(case$engine)
  held <- iclv:::gpu_engine_info(gpu)$device_mb
  expect_gt(held, 50)
  iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE)
  expect_lt(gpu_free_mb(), start - 0.9 * held)
  rm(gpu)
  gc()
  expect_equal(gpu_free_mb(), start, tolerance = 4 / start)
})

test_that("an injected CUDA failure names the call, leaks nothing, and the engine recovers", {
  skip_if_no_gpu()
  case <- big_case()
  gpu <- iclv:::gpu_engine_build(case$engine)
  reference <- iclv:::gpu_engine_eval(gpu, case$theta_full)
  iclv:::gpu_engine_fail_next(gpu, 1L)
  expect_error(iclv:::gpu_engine_eval(gpu, case$theta_full),
               "GPU evaluation failed: cudaSetDevice failed: .*injected")
  iclv:::gpu_engine_fail_next(gpu, 2L)
  expect_error(iclv:::gpu_engine_eval(gpu, case$theta_full),
               "cudaMemcpyAsync\\(theta to device\\) failed")
  iclv:::gpu_engine_fail_next(gpu, 4L)
  expect_error(iclv:::gpu_engine_eval(gpu, case$theta_full),
               "likelihood_kernel<gradient> launch failed")
  # Each failure disarms the hook: the next evaluation is the reference.
  expect_identical(iclv:::gpu_engine_eval(gpu, case$theta_full), reference)
  # A failure while rebuilding a released workspace.
  iclv:::gpu_engine_release(gpu)
  iclv:::gpu_engine_fail_next(gpu, 2L)
  expect_error(iclv:::gpu_engine_eval(gpu, case$theta_full), "cudaMalloc\\(")
  expect_identical(iclv:::gpu_engine_eval(gpu, case$theta_full), reference)

  rm(gpu)
  gc()
  start <- gpu_free_mb()
  gpu <- iclv:::gpu_engine_build(case$engine)
  iclv:::gpu_engine_fail_next(gpu, 3L)
  expect_error(iclv:::gpu_engine_eval(gpu, case$theta_full, scores = TRUE), "view_kernel")
  rm(gpu)
  gc()
  expect_equal(gpu_free_mb(), start, tolerance = 4 / start)
})

test_that("prefer_gpu() needs a usable GPU and enough (individual, draw) pairs", {
  expect_false(iclv:::prefer_gpu(10, 100))
  expect_identical(iclv:::prefer_gpu(1000, 1000), iclv:::gpu_usable())
})

test_that("without a usable GPU the GPU engine reports why", {
  skip_if(iclv:::gpu_usable(), "a GPU is usable here")
  case <- gpu_case(gpu_models$latent_only, n_indiv = 10, n_draws = 5)
  expect_error(iclv:::gpu_engine_build(case$engine), "cannot build the GPU engine")
})
