# Checkpoints: what is saved, that saving is atomic, and that a run resumed
# from a checkpoint reaches the same maximum as a straight run.

ckpt_model <- attitude_binary_model()
ckpt_data <- iclv_simulate(ckpt_model, n_indiv = 300, n_tasks = 4, seed = 5)
ckpt_free <- with(iclv_parameters(ckpt_model), name[free])
# From the table's defaults (no stages), so that 5 iterations are not enough.
ckpt_control <- function(...) {
  iclv_control(threads = 2, reltol = 1e-12, gradtol = 1e-9, start_stages = FALSE, ...)
}
ckpt_dir <- tempfile("iclv-ckpt-")
dir.create(ckpt_dir)
ckpt_path <- file.path(ckpt_dir, "run.rds")

ckpt_warnings <- character()
ckpt_partial <- withCallingHandlers(
  iclv(ckpt_model, ckpt_data, draws = 50,
       control = ckpt_control(checkpoint = ckpt_path, checkpoint_every = 1, maxit = 5)),
  warning = function(w) {
    ckpt_warnings <<- c(ckpt_warnings, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
ckpt_state <- readRDS(ckpt_path)
ckpt_resumed <- iclv(ckpt_model, ckpt_data, draws = 50, control = ckpt_control(),
                     resume = ckpt_path)
ckpt_straight <- iclv(ckpt_model, ckpt_data, draws = 50, control = ckpt_control())

test_that("a run stopped at the iteration limit warns and leaves a checkpoint", {
  expect_true(any(grepl("maxit", ckpt_warnings)))
  expect_identical(ckpt_partial$convergence$code, 1L)
  expect_true(file.exists(ckpt_path))
})

test_that("the checkpoint holds the state of the last iteration", {
  expect_identical(ckpt_state$format, "iclv-checkpoint-1")
  expect_identical(ckpt_state$parameters, ckpt_free)
  expect_identical(ckpt_state$n_indiv, 300L)
  expect_identical(ckpt_state$iteration, ckpt_partial$convergence$iterations)
  expect_gte(ckpt_state$iteration, 1L)
  expect_length(ckpt_state$theta, length(ckpt_free))
  expect_equal(unname(ckpt_state$theta), unname(coef(ckpt_partial)), tolerance = 1e-12)
  trace <- ckpt_state$trace
  expect_identical(trace$n, ckpt_state$iteration + 1L)
  expect_identical(trace$iteration[seq_len(trace$n)], seq.int(0L, ckpt_state$iteration))
  expect_s3_class(ckpt_state$saved, "POSIXct")
})

test_that("checkpoints are written atomically: no temporary files are left", {
  expect_identical(list.files(ckpt_dir, all.files = TRUE, no.. = TRUE), "run.rds")
  expect_length(list.files(ckpt_dir, pattern = "\\.tmp$"), 0L)
})

test_that("a checkpoint is written every checkpoint_every iterations", {
  path <- file.path(ckpt_dir, "every.rds")
  on.exit(unlink(path))
  iterations <- integer()
  # Record the iteration in the checkpoint each time the trace prints a line.
  withCallingHandlers(
    suppressWarnings(iclv(ckpt_model, ckpt_data, draws = 20,
                          control = ckpt_control(checkpoint = path, checkpoint_every = 2,
                                                 maxit = 6, trace = TRUE))),
    message = function(m) {
      if (file.exists(path)) iterations <<- c(iterations, readRDS(path)$iteration)
      invokeRestart("muffleMessage")
    })
  # The trace line of iteration i is printed before its checkpoint is saved.
  saved <- unique(iterations)
  expect_true(all(saved %% 2L == 0L))
  expect_true(length(saved) >= 2L)
})

test_that("resuming from a checkpoint reaches the straight run's estimates", {
  expect_identical(ckpt_resumed$start_stages, "resumed")
  expect_identical(ckpt_resumed$convergence$code, 0L)
  expect_identical(ckpt_straight$convergence$code, 0L)
  expect_equal(coef(ckpt_resumed), coef(ckpt_straight), tolerance = 1e-6)
  expect_lt(max(abs(coef(ckpt_resumed) - coef(ckpt_straight))), 1e-6 * 10)
  # An adaptive fit's log-likelihood is fixed only up to the shift of re-centring
  # its points (another path ends at slightly other centres): far below its
  # integration error.
  expect_lt(abs(ckpt_resumed$loglik - ckpt_straight$loglik),
            1e-3 * ckpt_straight$integration_error$error)
  expect_equal(sqrt(diag(vcov(ckpt_resumed))), sqrt(diag(vcov(ckpt_straight))),
               tolerance = 1e-4)
})

test_that("a resumed run continues the iteration count and the trace", {
  k <- ckpt_state$iteration
  expect_gt(ckpt_resumed$convergence$iterations, k)
  trace <- ckpt_resumed$trace
  expect_identical(trace$iteration, seq.int(0L, ckpt_resumed$convergence$iterations))
  # The first part of the trace is the stopped run's.
  expect_equal(trace$loglik[seq_len(k + 1L)], ckpt_partial$trace$loglik)
  # The last round re-centred the points: the same up to that shift.
  expect_lt(abs(trace$loglik[nrow(trace)] - ckpt_resumed$loglik),
            1e-2 * ckpt_resumed$integration_error$error)
})

test_that("resume refuses files that do not fit the model or the data", {
  expect_error(iclv(ckpt_model, ckpt_data, draws = 20, resume = file.path(ckpt_dir, "no.rds")),
               "does not exist")
  other_model <- iclv_model("attitude =~ q1 + q2",
    utility = list(A = ~ b_price * price_A + b_att * attitude,
                   B = ~ asc_B + b_price * price_B),
    choice = "choice", id = "id", categories = 3)
  expect_error(iclv(other_model, ckpt_data, draws = 20, resume = ckpt_path),
               "written for a model with other free parameters")
  expect_error(iclv(ckpt_model, ckpt_data[ckpt_data$id <= 100, ], draws = 20,
                    resume = ckpt_path),
               "300 individuals, these data have 100")
  not_checkpoint <- file.path(ckpt_dir, "other.rds")
  on.exit(unlink(file.path(ckpt_dir, c("other.rds", "junk.rds"))))
  saveRDS(list(a = 1), not_checkpoint)
  expect_error(iclv(ckpt_model, ckpt_data, draws = 20, resume = not_checkpoint),
               "is not an iclv checkpoint")
  junk <- file.path(ckpt_dir, "junk.rds")
  writeLines("not rds", junk)
  expect_error(iclv(ckpt_model, ckpt_data, draws = 20, resume = junk),
               "is not a readable checkpoint")
  expect_error(iclv(ckpt_model, ckpt_data, draws = 20, resume = 3), "does not exist")
})

test_that("an unwritable checkpoint warns instead of failing the fit", {
  path <- file.path(ckpt_dir, "no-such-dir", "run.rds")
  warnings <- character()
  fit <- withCallingHandlers(
    iclv(ckpt_model, ckpt_data, draws = 20, start = coef(ckpt_straight),
         control = iclv_control(threads = 2, checkpoint = path)),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_true(any(grepl("could not write the checkpoint", warnings, fixed = TRUE)))
  expect_s3_class(fit, "iclv_fit")
  expect_false(file.exists(path))
})

unlink(ckpt_dir, recursive = TRUE)
