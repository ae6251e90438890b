# Benchmark: the seed-scale model (326 individuals, 100 draws, 202
# parameters) estimated from the default starting values with robust
# standard errors. Run from the package root after R CMD INSTALL .:
#   Rscript bench/estimate.R
# Target on the 2-core development machine: <= 15 s in total.
source(file.path("bench", "common.R"))
library(iclv)
model <- seed_scale_model()
data <- seed_scale_data(model)
threads <- as.integer(Sys.getenv("ICLV_BENCH_THREADS", "2"))
fit <- iclv(model, data, draws = 100, control = iclv_control(threads = threads))
s <- summary(fit)
truth <- attr(data, "theta")[names(coef(fit))]
est <- estimates(fit)
within3 <- mean(abs(est$estimate - truth) <= 3 * est$robust.std.error)
cat(sprintf("seed-scale estimation: %d parameters, %d threads\n", fit$n_par, fit$threads))
cat(sprintf("  log-likelihood %.3f, %d iterations, %d evaluations, %s\n", fit$loglik,
            fit$convergence$iterations, fit$convergence$evaluations, fit$convergence$message))
print(round(fit$timings, 2))
cat(sprintf("  total %.2f s; peak RSS %.0f MB; %.0f%% of estimates within 3 robust SE of the truth\n",
            sum(fit$timings), peak_rss_mb(), 100 * within3))
