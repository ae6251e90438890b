# Benchmark: one log-likelihood + gradient evaluation of the seed-scale model
# (326 individuals x 100 draws, 202 parameters) with 1 and 2 threads, and the
# peak memory of building the engine and of a fit at 3,260 x 1,000 draws.
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

# Memory at 3,260 individuals x 1,000 draws x 5 latent variables (124 MiB of
# draws), adaptive integration, each measurement in a fresh process
# (bench/engine_memory.R; the fit takes about a minute and a half on two cores).
# Target: peak RSS at most the base plus 1.5 times the draws.
# ICLV_BENCH_MEMORY=build measures the engine alone; =none skips.
memory <- Sys.getenv("ICLV_BENCH_MEMORY", "build,fit")
for (what in setdiff(strsplit(memory, ",")[[1L]], "none")) {
  line <- system2(file.path(R.home("bin"), "Rscript"),
                  c(file.path("bench", "engine_memory.R"), what), stdout = TRUE)
  value <- as.numeric(strsplit(utils::tail(line, 1L), " ")[[1L]][-1L])
  cat(sprintf("%s: draws %.0f MB, base %.0f MB, peak %.0f MB (base + %.2f x draws), end %.0f MB, %.0f s\n",
              what, value[1L], value[2L], value[3L], (value[3L] - value[2L]) / value[1L],
              value[4L], value[5L]))
}
