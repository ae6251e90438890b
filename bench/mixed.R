# Benchmark: random coefficients (issue "Random coefficients in the choice
# model"). Two models, each measured in a fresh process so that its peak
# memory is its own:
#   hybrid  the seed-scale model (bench/common.R: 326 people, five latent
#           variables, 38 items, 202 parameters) with a neg_lognormal price
#           coefficient and a normal organic coefficient: 7 dimensions, 200
#           adaptive draws (the random coefficients' stay at their prior);
#   mixed   a panel mixed logit without latent variables: 1,000 people x 10
#           tasks, three alternatives, three random coefficients
#           (neg_lognormal price, normal time, uniform comfort; time and
#           comfort standard normal, price uniform on 1-5), 500 Halton draws.
# For each: the median time of one log-likelihood + gradient evaluation (1
# and 2 threads), the fit with robust standard errors (2 threads, analytic
# Hessian), and the process's peak resident memory.
# Run from the package root after R CMD INSTALL .:  Rscript bench/mixed.R
# (or Rscript bench/mixed.R hybrid | mixed for one case).
source(file.path("bench", "common.R"))

hybrid_case <- function() {
  model <- seed_scale_model(random = list(b_price = "neg_lognormal", b_organic = "normal"))
  # Organic labels on half the products, and a spread the 326 people can
  # show (with iclv_simulate()'s default 0.5 on a uniform attribute, the
  # spread's estimate goes to 0).
  binary <- function(n) stats::rbinom(n, 1L, 0.5)
  data <- seed_scale_data(model, theta = c("b_price~~b_price" = 0.8, "b_organic~~b_organic" = 1.5),
                          attributes = list(organic_A = binary, organic_B = binary))
  list(model = model, data = data, draws = 200)
}

mixed_case <- function() {
  model <- iclv::iclv_model(
    utility = list(A = ~ asc_A + b_price * price_A + b_time * time_A + b_comfort * comfort_A,
                   B = ~ asc_B + b_price * price_B + b_time * time_B + b_comfort * comfort_B,
                   C = ~ b_price * price_C + b_time * time_C + b_comfort * comfort_C),
    choice = "choice",
    random = list(b_price = "neg_lognormal", b_time = "normal", b_comfort = "uniform"))
  truth <- c(asc_A = 0.3, asc_B = -0.2, b_price = -0.5, "b_price~~b_price" = 0.6,
             b_time = -0.8, "b_time~~b_time" = 0.6, b_comfort = 0.7, "b_comfort~~b_comfort" = 1)
  normal <- function(n) stats::rnorm(n)
  data <- iclv::iclv_simulate(model, theta = truth, n_indiv = 1000, n_tasks = 10, seed = 7,
                              attributes = list(time_A = normal, time_B = normal, time_C = normal,
                                                comfort_A = normal, comfort_B = normal,
                                                comfort_C = normal))
  list(model = model, data = data, draws = 500)
}

run_case <- function(name) {
  library(iclv)
  case <- if (name == "hybrid") hybrid_case() else mixed_case()
  free <- iclv_parameters(case$model)$free
  theta <- attr(case$data, "theta")[free]
  eval_ms <- vapply(1:2, function(threads) {
    engine <- iclv_loglik(case$model, case$data, theta, draws = case$draws,
                          threads = threads)$engine
    median_ms(function() iclv_engine_eval(engine, case$model, theta, gradient = TRUE), reps = 20)
  }, 0)
  gc()
  seconds <- system.time(fit <- iclv(case$model, case$data, draws = case$draws,
                                     control = iclv_control(threads = 2, se = "robust")))
  cat(sprintf("%s %d %d %d %.2f %.2f %.1f %.1f %.3f %.2f %d\n", name, length(unique(case$data$id)),
              fit$n_draws, sum(free), eval_ms[1], eval_ms[2], seconds[["elapsed"]],
              fit$timings[["standard_errors"]], fit$loglik,
              fit$integration_error$error, fit$convergence$code))
  cat(sprintf("peak %.0f\n", peak_rss_mb()))
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args)) {
  run_case(args[[1]])
} else {
  rows <- lapply(c("hybrid", "mixed"), function(name) {
    out <- system2(file.path(R.home("bin"), "Rscript"), c(file.path("bench", "mixed.R"), name),
                   stdout = TRUE)
    fields <- strsplit(grep(paste0("^", name, " "), out, value = TRUE), " ")[[1]]
    peak <- as.numeric(sub("^peak ", "", grep("^peak ", out, value = TRUE)))
    data.frame(case = name, people = fields[2], points = fields[3], parameters = fields[4],
               eval_ms_1thread = fields[5], eval_ms_2threads = fields[6], fit_s = fields[7],
               se_s = fields[8], loglik = fields[9], integration_error = fields[10],
               code = fields[11], peak_mb = peak)
  })
  print(do.call(rbind, rows), row.names = FALSE)
}
