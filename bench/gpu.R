# Benchmark of the CUDA engine: one log-likelihood + gradient evaluation of
# the seed-scale model (202 free parameters) at 326 x 100, 326 x 1000,
# 10000 x 100 and 10000 x 1000 individuals x draws; device memory held; the
# CPU engine (2 threads) on the same engine for comparison, with the largest
# relative differences of the results; and a full seed-scale estimation with
# backend = "gpu".
# Run from the package root after installing with CUDA: Rscript bench/gpu.R
# Targets (H100): 0.3, 1, 2 and 12 ms; <= 1 GB device memory at 10000 x 1000.
# With ICLV_BENCH_CSV set, the table is also written there.
source(file.path("bench", "common.R"))
library(iclv)

if (!iclv:::gpu_usable()) {
  print(iclv_backends())
  stop("no usable GPU: nothing to benchmark", call. = FALSE)
}

# Milliseconds per call: the median over batches long enough (>= 0.2 s) for
# the clock's resolution.
ms_per_call <- function(f, batches = 5, batch_s = 0.2) {
  t0 <- proc.time()[["elapsed"]]
  f()
  once <- max(proc.time()[["elapsed"]] - t0, 1e-4)
  reps <- max(1L, as.integer(ceiling(batch_s / once)))
  times <- vapply(seq_len(batches), function(i) {
    t0 <- proc.time()[["elapsed"]]
    for (k in seq_len(reps)) f()
    (proc.time()[["elapsed"]] - t0) / reps
  }, numeric(1))
  1000 * stats::median(times)
}

rel_diff <- function(a, b) max(abs(a - b)) / max(abs(b))

model <- seed_scale_model()
data_326 <- seed_scale_data(model)
data_10000 <- seed_scale_data(model, n_indiv = 10000)
theta_full <- unname(attr(data_326, "theta"))
cat(sprintf("seed-scale model: %d parameters (%d free)\n", length(theta_full),
            sum(iclv_parameters(model)$free)))
print(iclv_backends()[2, c("device", "compute_capability", "memory_mb", "free_mb")])

shapes <- data.frame(n_indiv = c(326, 326, 10000, 10000), n_draws = c(100, 1000, 100, 1000),
                     target_ms = c(0.3, 1, 2, 12))
rows <- list()
for (i in seq_len(nrow(shapes))) {
  n_indiv <- shapes$n_indiv[i]
  n_draws <- shapes$n_draws[i]
  data <- if (n_indiv == 326) data_326 else data_10000
  prepared <- iclv:::prepare_data(model, data)
  draws <- iclv_draws(n_indiv, n_draws, length(model$latent), seed = 1)
  engine <- iclv:::engine_build(model, prepared, draws, threads = 2)
  rm(draws)
  free_before <- iclv_backends()$free_mb[2]
  gpu <- iclv:::gpu_engine_build(engine)
  gpu_res <- iclv:::gpu_engine_eval(gpu, theta_full, gradient = TRUE)
  free_after <- iclv_backends()$free_mb[2]
  gpu_ms <- ms_per_call(function() iclv:::gpu_engine_eval(gpu, theta_full, gradient = TRUE))
  gpu_ll_ms <- ms_per_call(function() iclv:::gpu_engine_eval(gpu, theta_full, gradient = FALSE))
  big <- n_indiv * n_draws > 1e6
  cpu_ms <- ms_per_call(function() iclv:::engine_eval(engine, theta_full, gradient = TRUE),
                        batches = if (big) 1 else 3, batch_s = if (big) 0 else 0.2)
  cpu_res <- iclv:::engine_eval(engine, theta_full, gradient = TRUE)
  info <- iclv:::gpu_engine_info(gpu)
  rows[[i]] <- data.frame(
    shape = sprintf("%dx%d", n_indiv, n_draws),
    gpu_ms = round(gpu_ms, 3), target_ms = shapes$target_ms[i],
    gpu_loglik_ms = round(gpu_ll_ms, 3), cpu2_ms = round(cpu_ms, 1),
    speedup = round(cpu_ms / gpu_ms, 1),
    device_mb = round(info$device_mb, 1), used_mb = round(free_before - free_after, 1),
    chunk = info$chunk, threads = info$threads,
    rel_diff_ll = signif(rel_diff(gpu_res$loglik, cpu_res$loglik), 2),
    rel_diff_grad = signif(rel_diff(gpu_res$gradient, cpu_res$gradient), 2))
  rm(gpu, engine)
  gc()
}
table <- do.call(rbind, rows)
print(table, row.names = FALSE)
csv <- Sys.getenv("ICLV_BENCH_CSV", "")
if (nzchar(csv)) utils::write.csv(table, csv, row.names = FALSE)

# A full estimation on the GPU (needs backend = "gpu" wired into iclv()).
estimation <- tryCatch({
  t0 <- proc.time()[["elapsed"]]
  fit <- iclv(model, data_326, draws = 100, backend = "gpu")
  sprintf("seed-scale estimation on the GPU: %.2f s (loglik %.3f, %d iterations)",
          proc.time()[["elapsed"]] - t0, fit$loglik, fit$convergence$iterations)
}, error = function(e) paste("seed-scale estimation on the GPU: not wired (", conditionMessage(e), ")"))
cat(estimation, "\n")
if (nzchar(csv)) writeLines(estimation, sub("\\.csv$", "-estimation.txt", csv))
