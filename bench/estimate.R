# Benchmark: the seed-scale model (326 individuals, 202 parameters)
# estimated from the default starting values with robust standard errors,
# with 100 plain draws and with 200 adaptive draws (the default integration),
# and the cost of the analytic Hessian of the standard errors in
# evaluations (log-likelihood and gradient) at the estimates.
# ICLV_BENCH_LARGE=1 adds 3,260 individuals x 200 adaptive draws with
# maxit = 3, once with se = "robust" (the Hessian) and once with se = "bhhh"
# (none): several minutes.
# Run from the package root after R CMD INSTALL .:
#   Rscript bench/estimate.R
# Targets on the 2-core development machine: <= 15 s in total for each
# seed-scale fit; standard errors <= 0.6 s at 326 x 100 and <= 10 s at
# 3,260 x 200.
source(file.path("bench", "common.R"))
library(iclv)
integration_label <- iclv:::integration_label
model <- seed_scale_model()
data <- seed_scale_data(model)
threads <- as.integer(Sys.getenv("ICLV_BENCH_THREADS", "2"))

# Milliseconds of one evaluation with the gradient and with the Hessian at
# the estimates, on the fit's engine, and their ratio.
hessian_cost <- function(fit) {
  engine <- iclv:::fit_engine(fit)
  free <- fit$model$params$free
  gradient <- median_ms(function() iclv:::engine_eval(engine, fit$theta_full), reps = 10)
  hessian <- median_ms(function() iclv:::engine_eval(engine, fit$theta_full, hessian = free),
                       reps = 5)
  c(gradient_ms = gradient, hessian_ms = hessian, evaluations = hessian / gradient)
}

report <- function(fit, truth = NULL) {
  cat(sprintf("  %d parameters, %d threads, %s\n", fit$n_par, fit$threads, integration_label(fit)))
  cat(sprintf("  log-likelihood %.3f, %d iterations, %s\n", fit$loglik,
              fit$convergence$iterations, fit$convergence$message))
  print(round(fit$timings, 2))
  cat(sprintf("  total %.2f s", sum(fit$timings)))
  if (!is.null(truth)) {
    est <- estimates(fit)
    within3 <- mean(abs(est$estimate - truth[est$term]) <= 3 * est$robust.std.error)
    cat(sprintf("; %.0f%% of estimates within 3 robust SE of the truth", 100 * within3))
  }
  cat("\n")
}

for (setting in list(list(draws = 100, adaptive = FALSE), list(draws = 200, adaptive = TRUE))) {
  fit <- iclv(model, data, draws = setting$draws, adaptive = setting$adaptive,
              control = iclv_control(threads = threads))
  cat("seed-scale estimation:\n")
  report(fit, attr(data, "theta"))
  cost <- hessian_cost(fit)
  cat(sprintf("  Hessian at the estimates: %.0f ms, %.2f evaluations with the gradient (%.1f ms)\n",
              cost[["hessian_ms"]], cost[["evaluations"]], cost[["gradient_ms"]]))
}

if (Sys.getenv("ICLV_BENCH_LARGE") == "1") {
  large <- seed_scale_data(model, n_indiv = 3260)
  for (se in c("robust", "bhhh")) {
    fit <- suppressWarnings(iclv(model, large, draws = 200,
                                 control = iclv_control(threads = threads, maxit = 3, se = se)))
    cat(sprintf("3,260 individuals, maxit = 3, se = \"%s\":\n", se))
    report(fit)
    if (se == "robust") {
      cost <- hessian_cost(fit)
      cat(sprintf("  Hessian: %.0f ms, %.2f evaluations with the gradient (%.0f ms)\n",
                  cost[["hessian_ms"]], cost[["evaluations"]], cost[["gradient_ms"]]))
    }
  }
}
cat(sprintf("peak RSS %.0f MB\n", peak_rss_mb()))
