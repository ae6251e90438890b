# Accuracy and cost of the integration at the motivating shape (five latent
# variables, 38 ordered items, 326 people): the bundled survey (survey_dce)
# and the seed-shaped simulated data of bench/engine.R.
#
#   Rscript bench/integration.R truth   log-likelihood at the true parameters
#                                        against points per person
#   Rscript bench/integration.R fits    fits: time, log-likelihood, coverage
#   Rscript bench/integration.R         both
#
# The exact value: adaptive draws centred once with 2,000 draws per person,
# then evaluated with 2,000, 8,000 and 32,000 standardised Halton draws at
# that centre (they must agree to about 0.05). Run from the package root
# after R CMD INSTALL. Needs about 4 GB of memory for the 32,000-draw row.
source(file.path("bench", "common.R"))
library(iclv)
what <- commandArgs(trailingOnly = TRUE)
if (!length(what)) what <- c("truth", "fits")
threads <- 2L

# The log-likelihood at theta_full with the given integration.
loglik_with <- function(model, data, theta_full, ...) {
  free <- iclv_parameters(model)$free
  iclv_loglik(model, data, theta_full[free], gradient = FALSE, threads = threads, ...)$loglik
}

# Adaptive draws at a fixed centre found with `centre_draws` draws.
exact_logliks <- function(model, data, theta_full, counts, centre_draws = 2000L) {
  prepared <- iclv:::prepare_data(model, data)
  n_indiv <- nrow(prepared$ind_cat)
  n_dim <- length(model$latent)
  settings <- iclv:::resolve_integration("simulation", n_dim, NULL, TRUE, model)
  build <- function(points) iclv:::engine_build(model, prepared, points, threads = threads)
  centred <- iclv:::adapt_points(
    iclv:::integration_points(model, settings, centre_draws, "halton", 1L, n_indiv),
    theta_full, build)
  vapply(counts, function(count) {
    points <- iclv:::integration_points(model, settings, count, "halton", 1L, n_indiv)
    points$centre <- centred$points$centre
    engine <- build(points)
    value <- iclv:::engine_eval(engine, theta_full, gradient = FALSE)$loglik
    iclv:::engine_release(engine)
    value
  }, numeric(1))
}

truth_table <- function(label, model, data, theta_full) {
  rows <- list()
  add <- function(method, points, loglik, seconds)
    rows[[length(rows) + 1L]] <<- data.frame(data = label, method = method, points = points,
                                             loglik = loglik, seconds = seconds)
  timed <- function(expr) {
    t0 <- proc.time()[["elapsed"]]
    value <- expr
    c(value, proc.time()[["elapsed"]] - t0)
  }
  for (count in c(100L, 500L, 2000L, 10000L)) {
    r <- timed(loglik_with(model, data, theta_full, draws = count, adaptive = FALSE))
    add("plain Halton draws", count, r[1], r[2])
  }
  for (count in c(50L, 100L, 200L, 500L)) {
    r <- timed(loglik_with(model, data, theta_full, draws = count, adaptive = TRUE))
    add("adaptive Halton draws", count, r[1], r[2])
  }
  for (level in 3:5) {
    points <- nrow(iclv:::quadrature_rule(length(model$latent), level, "sparse")$points)
    r <- timed(loglik_with(model, data, theta_full, integration = "quadrature", nodes = level,
                           adaptive = TRUE))
    add(sprintf("adaptive sparse grid, level %d", level), points, r[1], r[2])
  }
  counts <- c(2000L, 8000L, 32000L)
  t0 <- proc.time()[["elapsed"]]
  exact <- exact_logliks(model, data, theta_full, counts)
  for (i in seq_along(counts))
    add("adaptive Halton draws, centred once (reference)", counts[i], exact[i], NA_real_)
  out <- do.call(rbind, rows)
  reference <- exact[length(exact)]
  out$error <- out$loglik - reference
  out
}

# Share of the estimates within 2 robust standard errors of the truth.
coverage <- function(fit, truth) {
  est <- estimates(fit)
  z <- (est$estimate - truth[est$term]) / est$robust.std.error
  c(within_2se = mean(abs(z) < 2), max_abs_z = max(abs(z)))
}

fit_table <- function(label, model, data, truth) {
  settings <- list(
    list(name = "plain Halton draws", draws = 100L, adaptive = FALSE),
    list(name = "plain Halton draws", draws = 500L, adaptive = FALSE),
    list(name = "plain Halton draws", draws = 2000L, adaptive = FALSE),
    list(name = "adaptive Halton draws (default)", draws = 200L, adaptive = TRUE),
    list(name = "adaptive sparse grid, level 4", nodes = 4L, adaptive = TRUE))
  rows <- lapply(settings, function(s) {
    args <- list(model, data, adaptive = s$adaptive, control = iclv_control(threads = threads))
    if (!is.null(s$draws)) args$draws <- s$draws
    if (!is.null(s$nodes)) {
      args$integration <- "quadrature"
      args$nodes <- s$nodes
    }
    t0 <- proc.time()[["elapsed"]]
    fit <- do.call(iclv, args)
    seconds <- proc.time()[["elapsed"]] - t0
    cov <- coverage(fit, truth)
    data.frame(data = label, method = s$name, points = fit$n_draws, seconds = seconds,
               start = fit$timings[["start"]], estimation = fit$timings[["estimation"]],
               se = fit$timings[["standard_errors"]], loglik = fit$loglik,
               error_estimate = fit$integration_error$error,
               rounds = fit$convergence$adaptive_rounds, within_2se = cov[["within_2se"]],
               max_abs_z = cov[["max_abs_z"]], code = fit$convergence$code)
  })
  do.call(rbind, rows)
}

survey <- list(model = survey_model(), data = survey_dce,
               truth = attr(survey_dce, "true_parameters"))
seed_model <- seed_scale_model()
seed_data <- seed_scale_data(seed_model)
seed <- list(model = seed_model, data = seed_data, truth = attr(seed_data, "theta"))
options(width = 200)
if ("truth" %in% what) {
  for (case in list(list("survey_dce", survey), list("seed-shaped", seed))) {
    tab <- truth_table(case[[1]], case[[2]]$model, case[[2]]$data, case[[2]]$truth)
    print(tab, row.names = FALSE, digits = 10)
  }
}
if ("fits" %in% what) {
  tab <- fit_table("survey_dce", survey$model, survey$data, survey$truth)
  print(tab, row.names = FALSE, digits = 6)
}
cat(sprintf("peak RSS: %.0f MB\n", peak_rss_mb()))
