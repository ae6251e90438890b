# Benchmark: the seed-scale model (326 individuals, 202 parameters)
# estimated from the default starting values with robust standard errors,
# with 100 plain draws and with 200 adaptive draws (the default integration).
# Run from the package root after R CMD INSTALL .:
#   Rscript bench/estimate.R
# Target on the 2-core development machine: <= 15 s in total for each.
source(file.path("bench", "common.R"))
library(iclv)
integration_label <- iclv:::integration_label
model <- seed_scale_model()
data <- seed_scale_data(model)
threads <- as.integer(Sys.getenv("ICLV_BENCH_THREADS", "2"))
for (setting in list(list(draws = 100, adaptive = FALSE), list(draws = 200, adaptive = TRUE))) {
  fit <- iclv(model, data, draws = setting$draws, adaptive = setting$adaptive,
              control = iclv_control(threads = threads))
  truth <- attr(data, "theta")[names(coef(fit))]
  est <- estimates(fit)
  within3 <- mean(abs(est$estimate - truth) <= 3 * est$robust.std.error)
  cat(sprintf("seed-scale estimation: %d parameters, %d threads, %s\n", fit$n_par, fit$threads,
              integration_label(fit)))
  cat(sprintf("  log-likelihood %.3f, %d iterations, %s\n", fit$loglik,
              fit$convergence$iterations, fit$convergence$message))
  print(round(fit$timings, 2))
  cat(sprintf("  total %.2f s; %.0f%% of estimates within 3 robust SE of the truth\n",
              sum(fit$timings), 100 * within3))
}
cat(sprintf("peak RSS %.0f MB\n", peak_rss_mb()))
