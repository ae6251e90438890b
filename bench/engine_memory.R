# One memory measurement of bench/engine.R, in a process of its own (peak
# RSS only ever grows): the seed-scale model at 3,260 individuals x 1,000
# draws x 5 latent variables (124 MiB of draws), adaptive integration.
# Run: Rscript bench/engine_memory.R build|fit   (from the package root;
# ICLV_BENCH_N and ICLV_BENCH_R set other sizes)
# Prints one line: what, draws_mb, base_mb, peak_mb, end_mb, seconds.
source(file.path("bench", "common.R"))
library(iclv)
what <- commandArgs(TRUE)[1L]
n_indiv <- as.integer(Sys.getenv("ICLV_BENCH_N", "3260"))
n_draws <- as.integer(Sys.getenv("ICLV_BENCH_R", "1000"))
model <- seed_scale_model()
data <- seed_scale_data(model, n_indiv = n_indiv)
theta <- attr(data, "theta")
free <- iclv_parameters(model)$free
draws_mb <- n_indiv * n_draws * length(model$latent) * 8 / 2^20
# The base: what the process holds once the data are made, with R's garbage
# collected and the freed heap handed back (as iclv() does before it builds
# the engine), the peak counted from there.
iclv:::release_unused_memory()
writeLines("5", "/proc/self/clear_refs")
base_mb <- current_rss_mb()
seconds <- system.time({
  result <- switch(what,
    # The engine of the log-likelihood, centred on the posteriors at theta.
    build = iclv_loglik(model, data, theta[free], draws = n_draws, threads = 2),
    # A fit, kept short: its memory does not grow with the iterations.
    fit = suppressWarnings(iclv(model, data, draws = n_draws, start = theta[free],
                                control = iclv_control(maxit = 3L, se = "bhhh", threads = 2,
                                                       start_stages = FALSE,
                                                       adapt_rounds = 2L))))
})[["elapsed"]]
invisible(gc())
cat(sprintf("%s %.1f %.1f %.1f %.1f %.1f\n", what, draws_mb, base_mb, peak_rss_mb(),
            current_rss_mb(), seconds))
