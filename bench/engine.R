# Benchmark: one log-likelihood + gradient evaluation of the seed-scale model
# (326 individuals x 100 draws, 202 parameters) with 1 and 2 threads.
# Run: Rscript bench/engine.R   (after R CMD INSTALL .)
# Target on the 2-core development machine: <= 15 ms with 2 threads.
source(file.path("bench", "common.R"))  # run from the package root
library(iclv)
model <- seed_scale_model()
data <- seed_scale_data(model)
free <- iclv_parameters(model)$free
theta <- attr(data, "theta")[free]
cat(sprintf("seed-scale model: %d individuals, %d free parameters, 100 draws\n",
            length(unique(data$id)), sum(free)))
rows <- list()
for (threads in c(1L, 2L)) {
  res <- iclv_loglik(model, data, theta, draws = 100, threads = threads)
  engine <- res$engine
  ll_only <- median_ms(function() iclv_engine_eval(engine, model, theta, gradient = FALSE))
  ll_grad <- median_ms(function() iclv_engine_eval(engine, model, theta, gradient = TRUE))
  rows[[length(rows) + 1]] <- data.frame(threads = threads, loglik_ms = ll_only,
                                         loglik_gradient_ms = ll_grad)
}
print(do.call(rbind, rows), row.names = FALSE)
cat(sprintf("peak RSS: %.0f MB\n", peak_rss_mb()))
