# Bootstrap standard errors: replicates equal refits on samples resampled by
# hand, covariance and percentile intervals from them, reproducible by seed
# and across threads, resumed from a checkpoint.

boot_model <- attitude_price_model()
boot_data <- iclv_simulate(boot_model, n_indiv = 80, n_tasks = 2, seed = 14)
boot_fit_with <- function(threads = 1, ...)
  iclv(boot_model, boot_data, draws = 20,
       control = iclv_control(threads = threads, se = "bootstrap", bootstrap = 4, seed = 3, ...))
boot_fit <- boot_fit_with()

test_that("each replicate is the refit on the individuals it drew", {
  samples <- boot_fit$bootstrap$samples
  expect_identical(dim(samples), c(4L, 80L))
  ids <- sort(unique(boot_data$id))
  by_hand <- do.call(rbind, lapply(seq_len(80), function(k) {
    rows <- boot_data[boot_data$id == ids[samples[2, k]], ]
    rows$id <- k
    rows
  }))
  refit <- iclv(boot_model, by_hand, draws = 20, start = coef(boot_fit),
                control = iclv_control(threads = 1, seed = 3))
  expect_equal(boot_fit$bootstrap$estimates[2, ], coef(refit), tolerance = 1e-10)
})

test_that("bootstrap standard errors and percentile intervals come from the replicates", {
  replicates <- boot_fit$bootstrap$estimates
  expect_true(all(boot_fit$bootstrap$converged))
  expect_equal(vcov(boot_fit), cov(replicates))
  expect_equal(vcov(boot_fit, type = "bootstrap"), cov(replicates))
  est <- estimates(boot_fit, level = 0.9)
  expect_equal(est$std.error, unname(apply(replicates, 2, sd)))
  expect_equal(est$bootstrap.std.error, est$std.error)
  expect_equal(est$conf.low, unname(apply(replicates, 2, quantile, 0.05)))
  expect_equal(est$conf.high, unname(apply(replicates, 2, quantile, 0.95)))
  # Other fits have no bootstrap.
  plain <- iclv(boot_model, boot_data, draws = 20, control = iclv_control(threads = 1))
  expect_error(vcov(plain, type = "bootstrap"), "no bootstrap")
  expect_null(estimates(plain)$bootstrap.std.error)
})

test_that("the bootstrap is reproducible by seed and independent of the threads", {
  again <- boot_fit_with(threads = 2)
  expect_identical(again$bootstrap$samples, boot_fit$bootstrap$samples)
  expect_equal(again$bootstrap$estimates, boot_fit$bootstrap$estimates, tolerance = 1e-10)
  other_seed <- bootstrap_samples(80, 4, 4)
  expect_false(identical(other_seed, boot_fit$bootstrap$samples))
})

test_that("a bootstrap resumes from its checkpoint", {
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path))
  saved <- list(estimates = boot_fit$bootstrap$estimates, samples = boot_fit$bootstrap$samples)
  # Replicate 1 marked done with a value no refit gives; 3 and 4 to do.
  saved$estimates[1, ] <- saved$estimates[1, ] + 100
  saved$estimates[3:4, ] <- NA
  attr(saved$estimates, "done") <- c(TRUE, TRUE, FALSE, FALSE)
  saveRDS(saved, path)
  resumed <- boot_fit_with(bootstrap_checkpoint = path)
  expect_equal(resumed$bootstrap$estimates[1, ], boot_fit$bootstrap$estimates[1, ] + 100)
  expect_equal(resumed$bootstrap$estimates[2:4, ], boot_fit$bootstrap$estimates[2:4, ],
               tolerance = 1e-10)
  finished <- readRDS(path)
  expect_true(all(attr(finished$estimates, "done")))
  expect_error(iclv(boot_model, boot_data, draws = 20,
                    control = iclv_control(threads = 1, se = "bootstrap", bootstrap = 4,
                                           seed = 5, bootstrap_checkpoint = path)),
               "written for other replicates")
})

test_that("bootstrap settings are checked", {
  expect_error(iclv_control(se = "bootstrap", bootstrap = 1), "`bootstrap` must be a whole number >= 2")
  expect_error(iclv_control(bootstrap_checkpoint = 3), "`bootstrap_checkpoint` must be a file name")
})
