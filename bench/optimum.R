# Benchmark: does the estimation find the maximum? For each cell (a model and
# an integration setting) it reports the log-likelihood reached from the
# default start, and the best of 20 random multi-starts of the same setting
# (iclv_control(starts = 20, start_iterations = maxit): every start run to
# convergence, the best kept). Target: every cell reaches its best within
# 0.01, and no degenerate solution is reported as converged (code 0).
#
# Run from the package root after R CMD INSTALL .:
#   Rscript bench/optimum.R [subset|full] [path to optima_hybrid.csv]
# `subset` (the default): the Optima hybrid model, ordered logit and ordered
# probit, with 100 and 500 Halton draws and 10 and 20 Gauss-Hermite nodes,
# plain and adaptive. `full`: the Optima model in ordered-logit, ordered-probit
# and continuous form, the bundled survey (survey_dce, survey_model()) and the
# seed-shaped simulated model for data seeds 1 to 5; quadrature with 10, 20, 30
# and 40 nodes, plain and adaptive, where the model has at most two latent
# variables; 100, 500 and 2,000 draws.
#
# The Optima data are not shipped with the package: optima_hybrid.csv holds
# the 889 trips of the Optima mode-choice survey (Switzerland) as Biogeme's
# hybrid choice examples prepare them (optima.py: valid choice, workers, tours
# of more than one trip, non-zero times and distance, car chosen only where
# available, known number of cars), one row per trip, id `obs`. Give its path
# as the second argument or in the environment variable ICLV_OPTIMA. Without
# it the Optima rows are skipped.
# ICLV_BENCH_THREADS (default 2) sets the threads; ICLV_BENCH_STARTS (default
# 20) the number of random starts. Each start runs to convergence on the
# one-latent-variable Optima models; on the five-latent-variable models (202
# parameters, minutes a fit at 2,000 draws) each start runs
# ICLV_BENCH_START_ITERATIONS (default 25) iterations and the best is
# continued to convergence, as iclv_control(starts =) does. ICLV_BENCH_OUT
# names a CSV file that receives each cell's row as soon as it is done, so a
# long run can be read (and stopped) part way; ICLV_BENCH_MODELS (a regular
# expression) keeps only the matching models, ICLV_BENCH_SETTINGS (a regular
# expression) only the matching settings (e.g. "^(100|500) draws").
source(file.path("bench", "common.R"))
library(iclv)

args <- commandArgs(trailingOnly = TRUE)
full <- length(args) >= 1L && args[[1L]] == "full"
optima_path <- if (length(args) >= 2L) args[[2L]] else Sys.getenv("ICLV_OPTIMA")
threads <- as.integer(Sys.getenv("ICLV_BENCH_THREADS", "2"))
n_starts <- as.integer(Sys.getenv("ICLV_BENCH_STARTS", "20"))
large_start_iterations <- as.integer(Sys.getenv("ICLV_BENCH_START_ITERATIONS", "25"))
out_path <- Sys.getenv("ICLV_BENCH_OUT")
model_filter <- Sys.getenv("ICLV_BENCH_MODELS")
setting_filter <- Sys.getenv("ICLV_BENCH_SETTINGS")

# The hybrid model of Biogeme's Optima examples: one latent variable (a
# car-centric attitude) with five covariates, nine Likert items with a
# reference loading of -1 and shared symmetric thresholds, and a logit of
# public transport, car and slow modes.
optima_model <- function(indicators) {
  items <- c("Envir01", "Envir02", "Envir06", "Mobil03", "Mobil05", "Mobil08", "Mobil09",
             "Mobil10", "LifSty07")
  ordered <- indicators != "continuous"
  latent <- paste(c(
    paste("car_centric_attitude =~ -1*Envir01 +", paste(items[-1], collapse = " + ")),
    paste("car_centric_attitude ~ 1 + top_manager + car_oriented_parents + high_education +",
          "low_education + used_to_go_to_school_by_car"),
    "car_centric_attitude ~~ car_centric_attitude",
    "Envir01 ~ 0*1",
    if (ordered) c(paste(items[-1], "~ 1"), "Envir01 ~~ 1*Envir01",
                   paste(items[-1], "~~", items[-1]),
                   paste(items, "| th1*t1 + th2*t2 + th3*t3 + th4*t4"))),
    collapse = "\n")
  iclv_model(latent = latent,
    utility = list(
      pt = ~ asc_pt + b_time_pt * TimePT_hour + b_cost * MarginalCostPT,
      car = ~ asc_car + b_time_car * TimeCar_hour + b_cost * CostCarCHF +
        b_lv_car * car_centric_attitude,
      slow = ~ b_dist_work * distance_work + b_dist_other * distance_other),
    choice = "choice", id = "obs", availability = list(car = "av_car"),
    thresholds = "symmetric", indicators = indicators)
}

# The cells of one model: simulation with each number of draws, and
# quadrature (plain and adaptive) with each number of nodes when the model
# has at most two latent variables.
cells_for <- function(label, model, data, draws, nodes) {
  settings <- lapply(draws, function(r) list(setting = sprintf("%d draws", r),
                                             args = list(draws = r)))
  if (length(model$latent) <= 2L)
    for (adaptive in c(FALSE, TRUE)) for (n in nodes)
      settings[[length(settings) + 1L]] <- list(
        setting = sprintf("%s%d nodes", if (adaptive) "adaptive " else "", n),
        args = list(integration = "quadrature", nodes = n, adaptive = adaptive))
  lapply(settings, function(s) c(list(model_label = label, model = model, data = data), s))
}

cells <- list()
if (nzchar(optima_path) && file.exists(optima_path)) {
  optima <- utils::read.csv(optima_path)
  families <- if (full) c("ordered_logit", "ordered_probit", "continuous") else
    c("ordered_logit", "ordered_probit")
  for (family in families)
    cells <- c(cells, cells_for(paste("Optima", family), optima_model(family), optima,
                                draws = if (full) c(100, 500, 2000) else c(100, 500),
                                nodes = if (full) c(10, 20, 30, 40) else c(10, 20)))
} else {
  message("Optima rows skipped: give the path of optima_hybrid.csv (see the header)")
}
if (full) {
  data(survey_dce, package = "iclv", envir = environment())
  cells <- c(cells, cells_for("survey_dce", survey_model(), survey_dce,
                              draws = c(100, 500, 2000), nodes = integer(0)))
  seed_model <- seed_scale_model()
  for (seed in 1:5)
    cells <- c(cells, cells_for(sprintf("seed-shaped, data seed %d", seed), seed_model,
                                seed_scale_data(seed_model, seed = seed),
                                draws = c(100, 500, 2000), nodes = integer(0)))
}

if (nzchar(model_filter))
  cells <- Filter(function(cell) grepl(model_filter, cell$model_label), cells)
if (nzchar(setting_filter))
  cells <- Filter(function(cell) grepl(setting_filter, cell$setting), cells)

fit_cell <- function(cell, control) {
  elapsed <- system.time(
    fit <- suppressWarnings(do.call(iclv, c(list(cell$model, cell$data, control = control),
                                            cell$args))))[["elapsed"]]
  list(fit = fit, seconds = elapsed)
}

# A degenerate solution reported as converged would have code 0 with
# findings; iclv() gives those code 3 (the package's degenerate_code).
degenerate_code <- iclv:::degenerate_code
reported_wrongly <- function(fit) fit$convergence$code == 0L && !is.null(fit$degenerate)

rows <- lapply(cells, function(cell) {
  default <- fit_cell(cell, iclv_control(threads = threads))
  start_iterations <- if (length(cell$model$latent) > 1L) large_start_iterations else 1000L
  multi <- fit_cell(cell, iclv_control(threads = threads, starts = n_starts,
                                       start_iterations = start_iterations))
  # The best usable maximum: a degenerate solution (code 3) is not one.
  regular <- Filter(function(fit) fit$convergence$code != degenerate_code,
                    list(default$fit, multi$fit))
  best <- max(vapply(regular, `[[`, numeric(1), "loglik"), -Inf)
  row <- data.frame(
    model = cell$model_label, setting = cell$setting,
    loglik_default = default$fit$loglik, code_default = default$fit$convergence$code,
    loglik_best = multi$fit$loglik, code_best = multi$fit$convergence$code,
    gap = best - default$fit$loglik,
    starts_spread = diff(range(multi$fit$starts$loglik, na.rm = TRUE)),
    degenerate_starts = sum(multi$fit$starts$degenerate, na.rm = TRUE),
    wrong_converged = reported_wrongly(default$fit) || reported_wrongly(multi$fit),
    seconds_default = default$seconds, seconds_multi = multi$seconds,
    start_share = default$fit$timings[["start"]] / default$fit$timings[["estimation"]],
    start_iterations = start_iterations, stringsAsFactors = FALSE)
  print(row, digits = 8, row.names = FALSE)
  if (nzchar(out_path))
    utils::write.table(row, out_path, sep = ",", row.names = FALSE, append = file.exists(out_path),
                       col.names = !file.exists(out_path))
  row
})
table <- do.call(rbind, rows)

cat("\n| model | setting | LL from default | code | best of", n_starts,
    "starts | code | gap | start / estimation time | s (default) | s (multi) |\n")
cat("|---|---|---|---|---|---|---|---|---|---|\n")
for (i in seq_len(nrow(table))) {
  r <- table[i, ]
  cat(sprintf("| %s | %s | %.3f | %d | %.3f | %d | %.3f | %.2f | %.1f | %.1f |\n", r$model,
              r$setting, r$loglik_default, r$code_default, r$loglik_best, r$code_best, r$gap,
              r$start_share,
              r$seconds_default, r$seconds_multi))
}
cat(sprintf("\n%d of %d cells reach their best within 0.01 from the default start; %d report a degenerate solution as converged\n",
            sum(table$gap <= 0.01), nrow(table), sum(table$wrong_converged)))
