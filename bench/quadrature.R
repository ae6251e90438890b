# Benchmark: exact integration by quadrature against simulation, on a model
# with one latent variable measured by nine five-point ordered-probit
# indicators and a multinomial logit of three alternatives (A, B and an
# opt-out), 900 individuals (observations, as nobs() counts them) with one
# choice task each. Run from the package root after R CMD INSTALL .:
#   Rscript bench/quadrature.R
# Targets (2-core development machine): estimation with 40 Gauss-Hermite nodes
# in under 2 s with 2 threads, and its log-likelihood within 1e-4 of the
# 2,001-point grid.
#
# Part 1 uses the engine directly (runs on any version with src/quadrature.c):
# one evaluation per rule, its accuracy against the brute-force grid, and an
# estimation by optim (BFGS on the package's working scale) from perturbed true
# values. Part 2 times iclv(model, data, integration = "quadrature",
# nodes = 40) once iclv() takes those arguments.
source(file.path("bench", "common.R"))
library(iclv)
threads <- as.integer(Sys.getenv("ICLV_BENCH_THREADS", "2"))
n_indiv <- as.integer(Sys.getenv("ICLV_BENCH_INDIV", "900"))
n_tasks <- as.integer(Sys.getenv("ICLV_BENCH_TASKS", "1"))

items <- paste0("q", 1:9)
model <- iclv_model(paste("att =~", paste(items, collapse = " + ")),
  utility = list(A = ~ asc_A + b_price * price_A + b_att_A * att,
                 B = ~ asc_B + b_price * price_B + b_att_B * att,
                 none = ~ 0),
  choice = "choice", id = "id")
data <- iclv_simulate(model, n_indiv = n_indiv, n_tasks = n_tasks, seed = 11)
prepared <- iclv:::prepare_data(model, data)
theta_true <- attr(data, "theta")
cat(sprintf(paste("one latent variable, 9 ordered indicators, 3 alternatives: %d individuals",
                  "x %d task(s), %d free parameters, %d threads\n"),
            n_indiv, n_tasks, sum(model$params$free), threads))

# ---- Part 1: the engine ------------------------------------------------------
rule_engine <- function(draws, weights) {
  iclv:::engine_build(model, prepared, draws, weights, threads = threads)
}
# The brute-force reference: a 2,001-point grid on [-10, 10], trapezoid weights.
grid <- seq(-10, 10, length.out = 2001)
grid_engine <- rule_engine(array(rep(grid, each = n_indiv), c(n_indiv, 2001, 1)),
                           stats::dnorm(grid) * (grid[2] - grid[1]))
adaptive_engine <- function(nodes, theta) {
  settings <- iclv:::resolve_integration("quadrature", 1, nodes = nodes, adaptive = TRUE)
  iclv:::integration_engine(model, prepared, settings, theta, threads = threads)$engine
}
# Adaptive rules are centred on the posteriors at the true values and kept
# there during the estimation.
engines <- list(
  gauss_hermite_40 = function(theta) {
    rule <- iclv:::quadrature_rule(1, 40)
    rule_engine(iclv:::quadrature_draws(rule, n_indiv), rule$weights)
  },
  adaptive_40 = function(theta) adaptive_engine(40, theta),
  adaptive_10 = function(theta) adaptive_engine(10, theta),
  halton_5000 = function(theta) rule_engine(iclv_draws(n_indiv, 5000, 1), NULL)
)

# Maximum likelihood with a fixed engine: BFGS on the working scale, analytic
# gradient, from the truth with loadings and choice coefficients moved by 0.2.
map <- iclv:::working_map(model)
estimate_with <- function(engine) {
  cache <- new.env()
  evaluate <- function(u) { # value and gradient in one pass, as iclv() does
    if (!identical(u, cache$u)) {
      theta <- iclv:::theta_from_working(model, map, u)
      res <- iclv:::engine_eval(engine, theta, gradient = TRUE)
      cache$u <- u
      cache$value <- -res$loglik
      cache$gradient <- -iclv:::gradient_to_working(map, u, res$gradient[map$free])
    }
    cache
  }
  objective <- function(u) evaluate(u)$value
  gradient <- function(u) evaluate(u)$gradient
  start <- theta_true
  moved <- model$params$free & model$params$type %in% c("loading", "choice")
  start[moved] <- start[moved] + 0.2
  opt <- stats::optim(iclv:::working_from_theta(model, map, start), objective, gradient,
                      method = "BFGS", control = list(maxit = 500, reltol = 1e-12))
  list(loglik = -opt$value, count = opt$counts[["function"]],
       theta = iclv:::theta_from_working(model, map, opt$par))
}

rows <- list()
grid_truth <- iclv:::engine_eval(grid_engine, theta_true, gradient = FALSE)$loglik
for (name in names(engines)) {
  build_s <- system.time(engine <- engines[[name]](theta_true))[["elapsed"]]
  eval_ms <- median_ms(function() iclv:::engine_eval(engine, theta_true), reps = 10)
  ll_true <- iclv:::engine_eval(engine, theta_true, gradient = FALSE)$loglik
  est_s <- system.time(est <- estimate_with(engine))[["elapsed"]]
  ll_grid_at_est <- iclv:::engine_eval(grid_engine, est$theta, gradient = FALSE)$loglik
  rows[[name]] <- data.frame(rule = name, points = iclv:::engine_info(engine)$n_draws,
                             build_s = build_s, eval_grad_ms = eval_ms, loglik_truth = ll_true,
                             estimate_s = est_s, evaluations = est$count, loglik_max = est$loglik,
                             max_minus_grid = est$loglik - ll_grid_at_est,
                             truth_minus_grid = ll_true - grid_truth)
}
results <- do.call(rbind, rows)
cat(sprintf("\n2,001-point grid: log-likelihood at the truth %.6f\n", grid_truth))
cat("engine: build, one evaluation with gradient, estimation from perturbed truth\n")
cat("(max_minus_grid: the rule's maximised log-likelihood minus the grid's log-likelihood",
    "at the same parameters)\n")
print(format(results[, c("rule", "points", "build_s", "eval_grad_ms", "estimate_s",
                         "evaluations", "loglik_max", "max_minus_grid", "truth_minus_grid")],
             digits = 6), row.names = FALSE)

# ---- Part 2: iclv() with integration = "quadrature" --------------------------
if (all(c("integration", "nodes") %in% names(formals(iclv)))) {
  control <- iclv_control(threads = threads)
  runs <- list(
    quadrature_40 = function() iclv(model, data, integration = "quadrature", nodes = 40,
                                    control = control),
    adaptive_40 = function() iclv(model, data, integration = "quadrature", nodes = 40,
                                  adaptive = TRUE, control = control),
    adaptive_10 = function() iclv(model, data, integration = "quadrature", nodes = 10,
                                  adaptive = TRUE, control = control),
    halton_5000 = function() iclv(model, data, draws = 5000, control = control)
  )
  fits <- list()
  for (name in names(runs)) {
    elapsed <- system.time(fits[[name]] <- suppressWarnings(runs[[name]]()))[["elapsed"]]
    fit <- fits[[name]]
    grid_ll <- iclv:::engine_eval(grid_engine, fit$theta_full, gradient = FALSE)$loglik
    cat(sprintf("iclv %-14s %6.2f s (timings: %s)  loglik %.6f  minus grid %.2e\n", name,
                elapsed, paste(sprintf("%s %.2f", names(fit$timings), fit$timings),
                               collapse = ", "),
                fit$loglik, fit$loglik - grid_ll))
  }
  print(rbind(check_integration(fits$quadrature_40), check_integration(fits$adaptive_40)))
} else {
  cat("\niclv() does not take integration = \"quadrature\" yet: part 2 skipped\n")
}
cat(sprintf("peak RSS: %.0f MB\n", peak_rss_mb()))
