# The CUDA kernels' logic on the CPU: src/kernel_on_cpu.c calls the functions
# the kernels call (src/engine_person.h, src/engine_draw.h) in the kernels'
# order, with emulated threads per person. It must agree with the CPU engine
# to 1e-12 on the fuzz models (helper-fuzz.R) and the engine test models
# (helper-models.R), so that every run of the tests, with or without a GPU,
# checks the logic the GPU runs.

expect_same_as_cpu <- function(kernel, cpu, what) {
  scale <- max(1, abs(cpu$loglik))
  expect(abs(kernel$loglik - cpu$loglik) / scale < 1e-12,
         sprintf("%s: log-likelihood %.17g vs %.17g", what, kernel$loglik, cpu$loglik))
  expect(max(abs(kernel$loglik_indiv - cpu$loglik_indiv)) < 1e-12,
         sprintf("%s: per-person log-likelihoods differ", what))
  expect(max(abs(kernel$gradient - cpu$gradient)) / max(1, abs(cpu$gradient)) < 1e-12,
         sprintf("%s: gradients differ by %.3g", what, max(abs(kernel$gradient - cpu$gradient))))
  expect(max(abs(kernel$scores - cpu$scores)) / max(1, abs(cpu$scores)) < 1e-12,
         sprintf("%s: scores differ", what))
  expect_identical(kernel$nonpositive, cpu$nonpositive)
}

test_that("the kernels' logic agrees with the CPU engine on 100 random models", {
  for (seed in seq_len(100L)) {
    case <- fuzz_draws_case(seed)
    model <- case$model
    data <- case$data
    theta_full <- case$theta_full
    draws <- case$draws
    engine <- iclv:::engine_build(model, iclv:::prepare_data(model, data), draws, threads = 1)
    cpu <- iclv:::engine_eval(engine, theta_full, scores = TRUE)
    for (lanes in c(1L, 32L)) {
      kernel <- iclv:::kernel_on_cpu_eval(engine, theta_full, lanes = lanes)
      expect_same_as_cpu(kernel, cpu, sprintf("fuzz case %d, %d lanes", seed, lanes))
    }
    no_choice <- iclv:::engine_eval(engine, theta_full, scores = TRUE, choice = FALSE)
    expect_same_as_cpu(iclv:::kernel_on_cpu_eval(engine, theta_full, choice = FALSE), no_choice,
                       sprintf("fuzz case %d without the choice part", seed))
  }
})

test_that("the kernels' logic agrees with the CPU engine on the engine test models", {
  for (name in names(engine_models)) {
    case <- build_case(engine_models[[name]], n_indiv = 30, availability = name == "probit_paths")
    draws <- iclv_draws(30, 70, length(case$model$latent), seed = 2)
    engine <- iclv:::engine_build(case$model, iclv:::prepare_data(case$model, case$data), draws,
                                  threads = 1)
    theta_full <- unname(case$theta)
    cpu <- iclv:::engine_eval(engine, theta_full, scores = TRUE)
    expect_same_as_cpu(iclv:::kernel_on_cpu_eval(engine, theta_full, lanes = 64L), cpu, name)
  }
})

test_that("the kernels' logic floors and flags people whose signed weights sum to <= 0", {
  n_indiv <- 20
  n_draws <- 16
  set.seed(11)
  weights <- matrix(stats::runif(n_indiv * n_draws, 0.2, 1), n_indiv, n_draws)
  weights[, 1:3] <- -weights[, 1:3]
  weights[5, ] <- -abs(weights[5, ])
  case <- build_case(engine_models$biogeme_scale, n_indiv = n_indiv, seed = 5)
  draws <- iclv_draws(n_indiv, n_draws, length(case$model$latent), seed = 9)
  engine <- iclv:::engine_build(case$model, iclv:::prepare_data(case$model, case$data), draws,
                                draw_weights = weights, threads = 1)
  theta_full <- unname(case$theta)
  cpu <- iclv:::engine_eval(engine, theta_full, scores = TRUE)
  kernel <- iclv:::kernel_on_cpu_eval(engine, theta_full, lanes = 8L)
  expect_gte(cpu$n_nonpositive, 1L)
  expect_same_as_cpu(kernel, cpu, "signed weights")
  expect_true(all(kernel$scores[5, ] == 0))
})
