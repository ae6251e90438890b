# Multi-start (iclv_control(starts =)) and the restarts after a degenerate
# solution.

ms_model <- attitude_binary_model(categories = 4)
ms_data <- iclv_simulate(ms_model, n_indiv = 150, n_tasks = 3, seed = 9)

# These fits use 20 plain draws (the multi-start is what is tested here); the
# warning about their integration error is expected.
ms_fit <- function(...) {
  withCallingHandlers(iclv(ms_model, ms_data, draws = 20, adaptive = FALSE, ...),
                      warning = function(w) {
                        if (grepl("integration error", conditionMessage(w)))
                          invokeRestart("muffleWarning")
                      })
}

test_that("several starts run briefly, the best is continued and all are recorded", {
  set.seed(123)
  seed_before <- .Random.seed
  fit <- ms_fit(control = iclv_control(threads = 1, starts = 4))
  # The random starts use the package's own generator, not R's.
  expect_identical(.Random.seed, seed_before)
  starts <- fit$starts
  expect_s3_class(starts, "data.frame")
  expect_named(starts, c("start", "kind", "loglik_start", "loglik_short", "iterations", "loglik",
                         "degenerate", "chosen"))
  expect_identical(starts$kind, c("default", "random", "random", "random"))
  expect_equal(sum(starts$chosen), 1L)
  expect_true(all(starts$iterations <= 5L))
  # Each short run climbed from its start; the continued one was the best.
  expect_true(all(starts$loglik_short >= starts$loglik_start))
  chosen <- which(starts$chosen)
  expect_gte(starts$loglik_short[chosen], max(starts$loglik_short) - 1e-6)
  expect_equal(starts$loglik[chosen], fit$loglik)
  expect_gte(fit$loglik, max(starts$loglik_short))
  # Random starts differ from the default one.
  expect_false(any(starts$loglik_start[-1] == starts$loglik_start[1]))
  # Same data, draws and seed: the same starts and estimates, for any number
  # of threads.
  again <- ms_fit(control = iclv_control(threads = 2, starts = 4))
  expect_identical(again$starts, starts)
  expect_identical(coef(again), coef(fit))
  # The default start alone reaches the same maximum here.
  single <- ms_fit(control = iclv_control(threads = 1))
  expect_identical(nrow(single$starts), 1L)
  expect_identical(single$starts$kind, "default")
  expect_equal(single$loglik, fit$loglik, tolerance = 1e-8)
})

test_that("with start_iterations = maxit every start runs to convergence and the best is kept", {
  control <- iclv_control(threads = 1, starts = 3, start_iterations = 1000)
  fit <- ms_fit(control = control)
  expect_true(all(is.finite(fit$starts$loglik)))
  expect_equal(fit$loglik, max(fit$starts$loglik), tolerance = 1e-8)
  expect_true(all(abs(fit$starts$loglik - fit$loglik) < 1e-3))
  expect_length(iclv:::starts_note(fit$starts), 0L)
  # Starts that reach different maxima are noted in the summary.
  disagreeing <- fit$starts
  disagreeing$loglik[2] <- disagreeing$loglik[2] - 5
  expect_match(iclv:::starts_note(disagreeing),
               "^Starts: 3 tried \\(see fit\\$starts\\); runs to convergence reached log-likelihoods from")
})

test_that("a degenerate solution from the user's start is restarted from the alternatives", {
  # The collapsed solution the old default start led to on a model shaped like
  # Optima's (reference loading -1, free latent scale): scale 0.0017,
  # loadings in the hundreds.
  model <- reference_model()
  data <- iclv_simulate(model, theta = reference_truth, n_indiv = 150, n_tasks = 1, seed = 1)
  collapsed <- c("att~x1" = -0.0005513, "att~x2" = 0.0009867, "att~1" = 0.3232,
                 "att~~att" = 0.001747, "att=~q2" = 359.3, "q2~1" = -115.8, "q2~~q2" = 0.5664,
                 "att=~q3" = 253.5, "q3~1" = -80.85, "q3~~q3" = 0.4594, "att=~q4" = 90.81,
                 "q4~1" = -29.39, "q4~~q4" = 0.4852, "att=~q5" = 228.4, "q5~1" = -73.71,
                 "q5~~q5" = 0.5951, "att=~q6" = -227.8, "q6~1" = 72.88, "q6~~q6" = 0.5304,
                 th3 = 0.2896, th4 = 1.229, asc_A = 147.9, b_time = -0.7396, b_att = -457.5,
                 asc_B = -0.426)
  control <- iclv_control(threads = 1)
  fit <- iclv(model, data, draws = 50, start = collapsed, control = control)
  starts <- fit$starts
  # The user's start stayed collapsed and was found so; a restart was not.
  expect_identical(starts$kind[1], "start given")
  expect_true(starts$degenerate[1])
  expect_lt(starts$loglik[1], fit$loglik - 10)
  expect_match(starts$kind[starts$chosen], "^restart: ")
  expect_false(starts$degenerate[starts$chosen])
  expect_identical(fit$convergence$code, 0L)
  expect_null(fit$degenerate)
  expect_gt(coef(fit)[["att~~att"]], 1)
  # The maximum the default start reaches.
  default <- iclv(model, data, draws = 50, control = control)
  expect_equal(fit$loglik, default$loglik, tolerance = 1e-6)
  expect_match(capture.output(print(summary(fit))), "restart\\(s\\) after a degenerate solution",
               all = FALSE)
})

test_that("starts whose short runs end at a degenerate point are continued last", {
  # Start 3 reached a spike: not continued, tried again only after the others.
  expect_identical(iclv:::rank_starts(c(-100, -99, -50, -120), c(FALSE, FALSE, TRUE, FALSE)),
                   c(2L, 1L, 4L, 3L))
  # The default start wins near-ties.
  expect_identical(iclv:::rank_starts(c(-99, -99 + 1e-8, -120), c(FALSE, FALSE, FALSE)),
                   c(1L, 2L, 3L))
  # All degenerate: by log-likelihood.
  expect_identical(iclv:::rank_starts(c(-10, -5), c(TRUE, TRUE)), c(2L, 1L))
})

test_that("a regular solution is kept over a degenerate one with a higher log-likelihood", {
  # Stand-ins for the estimation: the default run and one alternative end at
  # spikes (degenerate, higher log-likelihood), another at a regular maximum,
  # as the Optima model with continuous items and 20 plain nodes did.
  ends <- list(spike = c(loglik = -7342.6, degenerate = 1), regular = c(loglik = -11152.3,
                                                                        degenerate = 0),
               spike2 = c(loglik = -7339.4, degenerate = 1))
  run_to <- function(end) list(value = -ends[[end]][["loglik"]], code = 0L, u = end,
                               interrupted = FALSE, iterations = 10L, trace = list(loglik = 0))
  findings_of <- function(opt, se) if (ends[[opt$u]][["degenerate"]] == 1)
    data.frame(problem = "spike", advice = "none")
  search <- list(starts = iclv:::start_rows("default", -12000, -11500, 5L))
  settled <- iclv:::settle_solution(
    list(opt = run_to("spike"), se = NULL), search, estimate = run_to,
    errors = function(u) NULL, findings = findings_of,
    alternatives = function() list(list(kind = "staged start", u = "regular"),
                                   list(kind = "random", u = "spike2")))
  expect_identical(settled$opt$u, "regular")
  expect_identical(settled$opt$code, 0L)
  expect_null(settled$findings)
  expect_identical(settled$starts$kind[settled$starts$chosen], "restart: staged start")
  expect_match(iclv:::starts_note(settled$starts),
               "restart\\(s\\) after a degenerate solution \\(a degenerate one at -7339.4000 set aside\\)")
  # Every run degenerate: the best of them stands, with code 3.
  all_spikes <- iclv:::settle_solution(
    list(opt = run_to("spike"), se = NULL), search, estimate = run_to,
    errors = function(u) NULL, findings = findings_of,
    alternatives = function() list(list(kind = "random", u = "spike2")))
  expect_identical(all_spikes$opt$u, "spike2")
  expect_identical(all_spikes$opt$code, 3L)
})

test_that("a maximum of a rough likelihood is followed up the ripples the scan finds", {
  # Stand-ins: the default run ends at a regular maximum with an integration
  # error of 136 (Optima, continuous items, 10 plain nodes); the scan finds a
  # higher ripple, and from there nothing more.
  ends <- c(default = -11151.44, ripple = -11151.33)
  run_to <- function(end) list(value = -ends[[end]], code = 0L, u = end, interrupted = FALSE,
                               iterations = 5L, trace = list(loglik = 0))
  scanned <- character()
  scan <- function(opt) {
    scanned <<- c(scanned, opt$u)
    if (opt$u == "default") "ripple"
  }
  search <- list(starts = iclv:::start_rows("default", -11186.8, NA_real_, 0L))
  settle <- function(error) iclv:::settle_solution(
    list(opt = run_to("default"), se = NULL), search, estimate = run_to,
    errors = function(opt) NULL, findings = function(opt, se) NULL,
    alternatives = function() stop("no restarts from alternatives for a regular maximum"),
    roughness = function(opt) error, scan = scan)
  settled <- settle(136)
  expect_identical(settled$opt$u, "ripple")
  expect_identical(settled$opt$code, 0L)
  expect_identical(scanned, c("default", "ripple"))
  expect_identical(settled$starts$kind, c("default", "restart: scan of each parameter"))
  expect_identical(settled$starts$chosen, c(FALSE, TRUE))
  expect_match(iclv:::starts_note(settled$starts),
               "1 restart\\(s\\) after a maximum of a poorly integrated likelihood")
  # A well integrated maximum is not scanned.
  scanned <- character()
  smooth <- settle(0.4)
  expect_identical(smooth$opt$u, "default")
  expect_length(scanned, 0L)
  expect_identical(nrow(smooth$starts), 1L)
})

# A latent variable with a nearly error-free reference item whose answers
# are whole numbers, as the Optima model's continuous items: 10 plain nodes
# let the optimizer pin the latent variable onto them.
spike_model <- iclv_model("
    att =~ 1*q1 + q2 + q3 + q4 + q5
    att ~ 1 + female
    att ~~ att
    q1 ~ 0*1",
  utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                 B = ~ asc_B + b_price * price_B, C = ~ 0),
  choice = "choice", id = "id", indicators = "continuous")
spike_theta <- local({
  theta <- attr(iclv_simulate(spike_model, n_indiv = 5, n_tasks = 1, seed = 1), "theta")
  theta[grepl("^q[2-5]~~", names(theta))] <- 1
  theta[grepl("^q[2-5]~1", names(theta))] <- 3
  theta[grepl("^att=~q[2-5]", names(theta))] <- 0.3
  theta[c("q1~~q1", "att~1", "att~female", "att~~att")] <- c(0.3, -3, 0.1, 1.3)
  theta
})
spike_data <- iclv_simulate(spike_model, theta = spike_theta, n_indiv = 600, n_tasks = 1,
                            seed = 2)
for (item in paste0("q", 1:5)) spike_data[[item]] <- round(spike_data[[item]])

test_that("a spike only the integration error shows is restarted to the regular maximum", {
  fit <- suppressWarnings(iclv(spike_model, spike_data, integration = "quadrature", nodes = 10,
                               adaptive = FALSE, control = iclv_control(threads = 1)))
  starts <- fit$starts
  # The default start ended at a spike of the 10-node rule: its
  # log-likelihood far above the regular maximum, and flagged.
  expect_true(starts$degenerate[1])
  expect_gt(starts$loglik[1], fit$loglik + 100)
  expect_match(starts$kind[-1], "^restart", all = TRUE)
  # A restart reached the regular maximum, which the accurate (adaptive)
  # rule confirms.
  expect_identical(fit$convergence$code, 0L)
  expect_null(fit$degenerate)
  expect_lt(fit$integration_error$error, 1)
  accurate <- iclv(spike_model, spike_data, integration = "quadrature", nodes = 20,
                   control = iclv_control(threads = 1))
  # (10 plain nodes still bias the log-likelihood by a few units.)
  expect_lt(abs(fit$loglik - accurate$loglik), 5)
  expect_match(iclv:::fit_notes(fit), "restart\\(s\\) after a degenerate solution \\(a degenerate one at",
               all = FALSE)

  # With several starts, the default start's run ends at the spike too, so
  # the fresh starts a single start restarts from join the short runs, and
  # a regular one is continued.
  multi <- suppressWarnings(iclv(spike_model, spike_data, integration = "quadrature",
                                 nodes = 10, adaptive = FALSE,
                                 control = iclv_control(threads = 1, starts = 3,
                                                        start_iterations = 200)))
  expect_true(multi$starts$degenerate[1])
  expect_true(all(c("user normalisation", "data defaults") %in% multi$starts$kind))
  expect_false(multi$starts$degenerate[multi$starts$chosen])
  expect_identical(multi$convergence$code, 0L)
  expect_lt(abs(multi$loglik - accurate$loglik), 5)

  # The scan of each parameter: at the maximum no point along any parameter
  # beats it; from a point moved 3 standard errors along the intercept of
  # `q2` it finds the way back along that parameter alone.
  engine <- iclv:::fit_engine(fit)
  map <- fit$map
  objective <- iclv:::make_objective(engine, spike_model, map)
  free <- list(lower = rep(-Inf, length(fit$u)), upper = rep(Inf, length(fit$u)))
  expect_null(iclv:::scan_parameters(engine, spike_model, map, fit$u, objective$fn(fit$u), free))
  j <- match("q2~1", map$names)
  step <- sqrt(rowSums(iclv:::preconditioner(objective, fit$u)^2))
  moved <- fit$u
  moved[j] <- moved[j] + 3 * step[j]
  found <- iclv:::scan_parameters(engine, spike_model, map, moved, objective$fn(moved), free)
  expect_identical(which(found != moved), j)
  expect_lt(abs(found[j] - fit$u[j]), 0.5 * step[j])
  expect_lt(objective$fn(found), objective$fn(moved) - 1)
})

test_that("bad multi-start settings are refused with the argument's name", {
  expect_error(iclv_control(starts = 0), "`starts` must be a whole number >= 1, got 0")
  expect_error(iclv_control(starts = 2.5), "`starts`")
  expect_error(iclv_control(start_iterations = 0), "`start_iterations` must be a whole number")
  expect_error(iclv_control(start_stages = NA), "`start_stages` must be TRUE or FALSE")
})
