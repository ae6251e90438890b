# Interrupts and errors in the middle of an estimation: an interrupt returns
# the last accepted parameters and leaves a valid checkpoint to resume from;
# an error propagates, keeps the checkpoint of the last iteration, and leaves
# nothing behind that stops the next fit.
#
# The interrupt is injected deterministically: engine_eval() is traced so
# that its n-th call signals an `interrupt` condition (what Ctrl-C signals),
# or raises an error.

int_model <- attitude_binary_model()
int_data <- iclv_simulate(int_model, n_indiv = 100, n_tasks = 3, seed = 5)
int_free <- with(iclv_parameters(int_model), name[free])
int_control <- function(...) {
  iclv_control(threads = 1, start_stages = FALSE, reltol = 1e-12, gradtol = 1e-8, ...)
}

# Runs `code` with `fun` (engine_eval() by default) traced: its `at`-th call
# runs `action` (a function of no arguments) first. Returns list(value, calls).
with_injection <- function(at, action, code, fun = "engine_eval") {
  counter <- new.env()
  counter$n <- 0L
  tracer <- bquote({
    assign("n", .(counter)$n + 1L, envir = .(counter))
    if (.(counter)$n == .(at)) .(action)()
  })
  suppressMessages(utils::capture.output(trace(fun, tracer = tracer, print = FALSE,
                              where = asNamespace("iclv"))))
  on.exit(suppressMessages(utils::capture.output(untrace(fun, where = asNamespace("iclv")))))
  value <- force(code)
  list(value = value, calls = counter$n)
}

signal_interrupt <- function() {
  signalCondition(structure(class = c("interrupt", "condition"), list()))
}

expect_valid_checkpoint <- function(path, n_indiv) {
  expect_true(file.exists(path))
  state <- readRDS(path)
  expect_identical(state$format, "iclv-checkpoint-1")
  expect_identical(state$parameters, int_free)
  expect_identical(state$n_indiv, n_indiv)
  expect_length(state$theta, length(int_free))
  expect_true(all(is.finite(state$theta)))
  expect_identical(state$trace$n, state$iteration + 1L)
  state
}

int_dir <- tempfile("iclv-int-")
dir.create(int_dir)
int_straight <- iclv(int_model, int_data, draws = 20, control = int_control())

test_that("an interrupt during the optimization returns the last accepted point and a checkpoint", {
  path <- file.path(int_dir, "interrupted.rds")
  warnings <- character()
  run <- withCallingHandlers(
    with_injection(8L, signal_interrupt,
                   iclv(int_model, int_data, draws = 20,
                        control = int_control(checkpoint = path, checkpoint_every = 1))),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  fit <- run$value
  expect_identical(run$calls, 8L + 1L) # the final value at the returned point
  expect_true(fit$convergence$interrupted)
  expect_identical(fit$convergence$code, -1L)
  expect_match(fit$convergence$message, "interrupted")
  expect_true(any(grepl("interrupted", warnings)))
  expect_gte(fit$convergence$iterations, 1L)
  expect_true(all(is.finite(coef(fit))))
  expect_true(is.finite(fit$loglik))
  state <- expect_valid_checkpoint(path, 100L)
  expect_identical(state$iteration, fit$convergence$iterations)
  expect_equal(unname(state$theta), unname(coef(fit)), tolerance = 1e-12)
  # No temporary file is left next to the checkpoint.
  expect_length(list.files(int_dir, pattern = "\\.tmp$"), 0L)
})

test_that("a run resumed after an interrupt reaches the straight run's maximum", {
  path <- file.path(int_dir, "resume.rds")
  suppressWarnings(with_injection(10L, signal_interrupt,
                                  iclv(int_model, int_data, draws = 20,
                                       control = int_control(checkpoint = path,
                                                             checkpoint_every = 1))))
  resumed <- iclv(int_model, int_data, draws = 20, control = int_control(), resume = path)
  expect_identical(resumed$convergence$code, 0L)
  expect_false(resumed$convergence$interrupted)
  # An adaptive fit's log-likelihood is fixed only up to the shift of re-centring
  # its points (another path ends at slightly other centres): far below its
  # integration error.
  expect_lt(abs(resumed$loglik - int_straight$loglik),
            1e-3 * int_straight$integration_error$error)
  expect_equal(coef(resumed), coef(int_straight), tolerance = 1e-4)
})

test_that("an error inside the objective propagates and keeps the last iteration's checkpoint", {
  path <- file.path(int_dir, "error.rds")
  fail <- function() stop("simulated failure in the objective", call. = FALSE)
  expect_error(with_injection(12L, fail,
                              iclv(int_model, int_data, draws = 20,
                                   control = int_control(checkpoint = path,
                                                         checkpoint_every = 1))),
               "simulated failure in the objective")
  state <- expect_valid_checkpoint(path, 100L)
  expect_gte(state$iteration, 1L)
  # The next fit, from scratch or from the checkpoint, works.
  fresh <- iclv(int_model, int_data, draws = 20, control = int_control())
  expect_identical(fresh$convergence$code, 0L)
  expect_equal(coef(fresh), coef(int_straight), tolerance = 1e-10)
  resumed <- iclv(int_model, int_data, draws = 20, control = int_control(), resume = path)
  expect_identical(resumed$convergence$code, 0L)
  # An adaptive fit's log-likelihood is fixed only up to the shift of re-centring
  # its points (another path ends at slightly other centres): far below its
  # integration error.
  expect_lt(abs(resumed$loglik - int_straight$loglik),
            1e-3 * int_straight$integration_error$error)
})

test_that("a time limit (setTimeLimit) stops iclv() with an error and the next fit works", {
  path <- file.path(int_dir, "time-limit.rds")
  big_data <- iclv_simulate(int_model, n_indiv = 400, n_tasks = 4, seed = 6)
  on.exit(setTimeLimit(), add = TRUE)
  # optim's objective is R code: the elapsed-time limit fires inside it.
  expect_error({
    setTimeLimit(elapsed = 0.3, transient = TRUE)
    iclv(int_model, big_data, draws = 3000,
         control = int_control(checkpoint = path, checkpoint_every = 1))
  }, "time limit")
  setTimeLimit()
  # A checkpoint, when one was written before the limit, is complete.
  if (file.exists(path)) expect_valid_checkpoint(path, 400L)
  expect_length(list.files(int_dir, pattern = "\\.tmp$"), 0L)
  again <- iclv(int_model, int_data, draws = 20, control = int_control())
  expect_equal(coef(again), coef(int_straight), tolerance = 1e-10)
})

test_that("an interrupt while finding starting values stops iclv(), not only the stage", {
  # The latent stage runs its own optimizer; its 4th evaluation is interrupted.
  run <- with_injection(5L, signal_interrupt,
                        tryCatch(iclv(int_model, int_data, draws = 20,
                                      control = iclv_control(threads = 1)),
                                 interrupt = function(cond) "interrupted"))
  expect_identical(run$value, "interrupted")
  expect_identical(run$calls, 5L)
})

test_that("an interrupt while the points are re-centred between rounds returns the last round", {
  path <- file.path(int_dir, "recentred.rds")
  # How often a straight run re-centres; the interrupt hits the last time,
  # in the re-centring before the final round.
  calls <- with_injection(0L, function() NULL,
                          iclv(int_model, int_data, draws = 20, control = int_control()),
                          fun = "next_centre")$calls
  expect_gt(calls, 2L)
  run <- suppressWarnings(with_injection(
    calls, signal_interrupt,
    iclv(int_model, int_data, draws = 20,
         control = int_control(checkpoint = path, checkpoint_every = 1000)),
    fun = "next_centre"))
  fit <- run$value
  expect_s3_class(fit, "iclv_fit")
  expect_true(fit$convergence$interrupted)
  expect_identical(fit$convergence$code, -1L)
  expect_true(all(is.finite(coef(fit))))
  # The checkpoint holds the last round's result, and resuming finishes.
  state <- expect_valid_checkpoint(path, 100L)
  expect_equal(unname(state$theta), unname(coef(fit)))
  resumed <- iclv(int_model, int_data, draws = 20, control = int_control(), resume = path)
  expect_identical(resumed$convergence$code, 0L)
  expect_equal(coef(resumed), coef(int_straight), tolerance = 1e-4)
})
