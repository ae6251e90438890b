# Benchmark: the cost of the start stage (staged starting values, and the
# multi-start with its default `starts`) against the estimation itself, on
# the bundled survey (survey_dce, survey_model(): 326 individuals, five latent
# variables, 100 draws) and on a one-latent-variable model of 1,000 people x
# 10 tasks with 100 draws. Run from the package root after R CMD INSTALL .:
#   Rscript bench/start_cost.R
# Target: fit$timings[["start"]] <= fit$timings[["estimation"]] on both.
# ICLV_BENCH_THREADS (default 1) sets the threads; ICLV_BENCH_REPS (default 3)
# the repetitions (the median is reported).
library(iclv)
threads <- as.integer(Sys.getenv("ICLV_BENCH_THREADS", "1"))
reps <- as.integer(Sys.getenv("ICLV_BENCH_REPS", "3"))

source(file.path("tests", "testthat", "helper-models.R")) # run from the package root
one_latent <- attitude_covariates_model()
data(survey_dce, package = "iclv", envir = environment())
cases <- list(
  list(label = "survey_dce, survey_model(), 100 draws", model = survey_model(),
       data = survey_dce),
  list(label = "1 latent variable, 1,000 x 10, 100 draws", model = one_latent,
       data = iclv_simulate(one_latent, n_indiv = 1000, n_tasks = 10, seed = 11)))

for (case in cases) {
  timings <- replicate(reps, {
    fit <- iclv(case$model, case$data, draws = 100, control = iclv_control(threads = threads))
    c(fit$timings[c("start", "estimation")], loglik = fit$loglik,
      iterations = fit$convergence$iterations)
  })
  median <- apply(timings, 1L, stats::median)
  cat(sprintf("%-42s start %.2f s, estimation %.2f s (%d iterations), log-likelihood %.3f: %s\n",
              case$label, median[["start"]], median[["estimation"]],
              as.integer(median[["iterations"]]), median[["loglik"]],
              if (median[["start"]] <= median[["estimation"]]) "target met" else "TARGET MISSED"))
}
