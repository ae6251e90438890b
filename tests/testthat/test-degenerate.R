# Degenerate solutions: each kind is found at a point built to show it, and
# not at a regular maximum; a weakly identified fit gets convergence code 3
# and print() and summary() say what was found and what to do.

deg_model <- iclv_model("
    att =~ 1*q1 + q2 + q3
    att ~~ att
    att ~ age",
  utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                 B = ~ b_price * price_B, C = ~ 0),
  choice = "choice", id = "id", categories = 4)
deg_data <- iclv_simulate(deg_model, n_indiv = 200, n_tasks = 3, seed = 12)
deg_prepared <- iclv:::prepare_data(deg_model, deg_data)
deg_truth <- attr(deg_data, "theta")
findings_at <- function(theta, hessian_problems = NULL) {
  iclv:::degenerate_findings(deg_model, deg_prepared, unname(theta), hessian_problems)
}

test_that("the regular maximum has no findings", {
  fit <- iclv(deg_model, deg_data, draws = 30, control = iclv_control(threads = 1))
  expect_null(fit$degenerate)
  expect_identical(fit$convergence$code, 0L)
  expect_null(findings_at(fit$theta_full))
  expect_null(findings_at(deg_truth))
  expect_false(any(grepl("Degenerate", capture.output(print(fit)))))
  expect_false(any(grepl("Degenerate", capture.output(print(summary(fit))))))
})

test_that("a collapsed latent scale with exploding loadings is found and named", {
  theta <- deg_truth
  theta[["att~~att"]] <- 0.001
  theta[c("att=~q2", "att=~q3")] <- theta[c("att=~q2", "att=~q3")] * 1000
  found <- findings_at(theta)
  expect_s3_class(found, "data.frame")
  expect_match(found$problem[1], "latent variable `att` has collapsed: its scale `att~~att` = 0.001")
  expect_match(found$problem[1], "reference indicator `q1` \\(loading fixed at 1\\)")
  expect_match(found$advice[1], "att ~~ 1\\*att")
  # Half the collapse is not one: a small but real scale passes.
  theta[["att~~att"]] <- 0.05
  theta[c("att=~q2", "att=~q3")] <- deg_truth[c("att=~q2", "att=~q3")] * 20
  expect_false(any(grepl("collapsed", findings_at(theta)$problem)))
})

test_that("an indicator without error, runaway thresholds and separation are found", {
  theta <- deg_truth
  theta[["att=~q2"]] <- 5000
  expect_match(findings_at(theta)$problem, "indicator `q2` is explained almost without error",
               all = FALSE)
  # The Optima model with continuous items and 20 plain nodes stopped at a
  # spike with its reference item's signal 520 times its error; signals of
  # 20 (R^2 = 0.9975) are still a model, not a spike.
  signal_of_q2 <- function(theta) {
    signals <- iclv:::loading_signals(deg_model, unname(theta))
    signals$signal[signals$item == 2L]
  }
  theta[["att=~q2"]] <- deg_truth[["att=~q2"]] * 300 / signal_of_q2(deg_truth)
  expect_match(findings_at(theta)$problem, "indicator `q2` is explained almost without error",
               all = FALSE)
  theta[["att=~q2"]] <- deg_truth[["att=~q2"]] * 20 / signal_of_q2(deg_truth)
  expect_false(any(grepl("without error", findings_at(theta)$problem)))
  theta <- deg_truth
  theta[["q3|t3"]] <- 500
  found <- findings_at(theta)
  expect_match(found$problem, "the thresholds of `q3` run off to 500", all = FALSE)
  expect_match(found$advice, "merge it with its neighbour", all = FALSE)
  theta <- deg_truth
  theta[["b_price"]] <- -400
  expect_match(findings_at(theta)$problem, "choice coefficient `b_price` = -400 spans",
               all = FALSE)
  # A large constant is no separation by itself: it may balance a latent term.
  theta <- deg_truth
  theta[["asc_A"]] <- 80
  expect_null(findings_at(theta))
  hessian <- list(names = c("b_att", "asc_A"), min_eigen = -1)
  expect_match(findings_at(deg_truth, hessian)$problem,
               "Hessian is not negative definite \\(weakest direction: `b_att`, `asc_A`\\)")
  theta <- deg_truth
  theta[["b_att"]] <- NaN
  expect_match(findings_at(theta)$problem, "estimates are not finite: `b_att`")
})

test_that("a weakly identified fit gets its own convergence code and says so", {
  # b_zero multiplies a column of zeros: the data say nothing about it.
  model <- iclv_model("att =~ q1 + q2 + q3",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att + b_zero * zero,
                   B = ~ b_price * price_B),
    choice = "choice", id = "id", categories = 4)
  data <- iclv_simulate(model, n_indiv = 100, n_tasks = 3, seed = 2)
  data$zero <- 0
  warnings <- character()
  fit <- withCallingHandlers(
    iclv(model, data, draws = 20, control = iclv_control(threads = 1)),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_identical(fit$convergence$code, 3L)
  expect_identical(fit$convergence$message, "degenerate solution")
  expect_match(fit$degenerate$problem, "Hessian is not negative definite.*`b_zero`")
  expect_length(warnings, 1L)
  expect_match(warnings, "Degenerate solution \\(convergence code 3\\)")
  expect_match(warnings, "What to do: .*fix or drop one of these parameters")
  # The restarts were tried before giving up, and each found the same.
  expect_gt(nrow(fit$starts), 1L)
  expect_true(all(grepl("^restart", fit$starts$kind[-1])))
  expect_true(all(fit$starts$degenerate))
  printed <- capture.output(print(fit))
  expect_true(any(grepl("Degenerate solution \\(convergence code 3\\)", printed)))
  expect_true(any(grepl("What to do", printed)))
  summarised <- capture.output(print(summary(fit)))
  expect_true(any(grepl("Degenerate solution \\(convergence code 3\\)", summarised)))
  expect_true(any(grepl("restart\\(s\\) after a degenerate solution", summarised)))
  skip_if_not_installed("generics")
  expect_false(generics::glance(fit)$converged)
})

test_that("a log-likelihood dominated by its integration error is a degenerate solution", {
  # The figures of the Optima model with continuous items at 20 plain nodes.
  spike <- list(error = 14599.9, kind = "difference to 24 nodes per latent variable")
  found <- iclv:::unintegrated_finding(-9172.986, spike)
  expect_match(found$problem,
               "the log-likelihood -9172.9860 is not integrated: .* is 1.46e\\+04, 159% of its value")
  expect_match(found$advice, "adaptive = TRUE")
  # An ordinary error, or none estimated, is no finding.
  expect_null(iclv:::unintegrated_finding(-11152.341, list(error = 0.4, kind = "x")))
  expect_null(iclv:::unintegrated_finding(-11152.341, list(error = NA_real_, kind = "x")))
})
