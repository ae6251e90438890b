# Benchmark: estimation sharded over a cluster (iclv_control(cluster =),
# R/cluster.R) on this machine, and the scaling model built from it.
#  1. One log-likelihood + gradient evaluation of the seed-scale model (326
#     individuals x 100 adaptive draws, 202 parameters): 1 process x 1 and 2
#     threads, and 2 socket workers x 1 thread (the same numbers, bitwise).
#  2. The communication per evaluation: the round trip of theta (202
#     doubles) out and a gradient (203 doubles) back, with no work, for 1, 2
#     and 4 workers on localhost; with R's default sockets and with
#     "no-delay" sockets (TCP_NODELAY); and the master's share of a real
#     evaluation (its wall time less the slowest worker's own time).
#  3. The master's cost of taking in the workers' answers at 10,000 and
#     100,000 people (unserialize, stack, sum), and the projected time per
#     evaluation at 1,000 points per person on 1, 8 and 64 hosts of 32 cores
#     (assumptions printed with the table).
# Run: Rscript bench/cluster.R   (after R CMD INSTALL .; from the package
# root). ICLV_BENCH_REPS sets the repetitions (default 30).
source(file.path("bench", "common.R"))  # run from the package root
library(iclv)
library(parallel)
reps <- as.integer(Sys.getenv("ICLV_BENCH_REPS", "30"))

model <- seed_scale_model()
data <- seed_scale_data(model)
free <- iclv_parameters(model)$free
theta <- attr(data, "theta")[free]
theta_full <- iclv:::theta_full_from(model, theta)
n_par <- length(theta_full)

# A socket cluster; `no_delay`: sockets that send small writes at once on
# both ends (R's default waits up to 40 ms for an acknowledgement before it
# sends the rest of an answer longer than 4 kB).
make_cluster <- function(n, no_delay = TRUE) {
  if (!no_delay) return(makePSOCKcluster(n))
  old <- options(socketOptions = "no-delay")
  on.exit(options(old))
  makePSOCKcluster(n, rscript_args = c("-e", shQuote("options(socketOptions='no-delay')")))
}

# The median of `reps` timings (ms) of f(), after one warm-up.
timed <- function(f) median_ms(f, reps)

# ---- 1. one evaluation -----------------------------------------------------
cat(sprintf("seed-scale model: %d individuals, %d parameters, 100 adaptive draws, %d reps\n",
            length(unique(data$id)), n_par, reps))
local_ms <- vapply(1:2, function(threads) {
  res <- iclv_loglik(model, data, theta, draws = 100, threads = threads)
  timed(function() iclv_engine_eval(res$engine, model, theta, gradient = TRUE))
}, 0)
reference <- iclv_loglik(model, data, theta, draws = 100, threads = 1)

# The sharded engine of the seed-scale model on `cl`, reused across
# evaluations (iclv() does the same; iclv_loglik() frees it at once).
sharded_engine <- function(session) {
  prepared <- iclv:::prepare_data(model, data)
  settings <- iclv:::resolve_integration("simulation", length(model$latent), model = model)
  iclv:::integration_engine(model, prepared, settings, theta_full, threads = 1L,
                            draws = 100L)$engine
}
cluster_eval <- function(no_delay) {
  cl <- make_cluster(2L, no_delay)
  on.exit(stopCluster(cl))
  session <- iclv:::cluster_open(cl)
  on.exit(iclv:::cluster_close(session), add = TRUE, after = FALSE)
  engine <- sharded_engine(session)
  res <- iclv:::engine_eval(engine, theta_full)
  stopifnot(identical(res$loglik, reference$loglik),
            identical(res$gradient[free], unname(reference$gradient)))
  wall <- worker <- numeric(reps)
  for (i in seq_len(reps)) {
    wall[i] <- system.time(iclv:::engine_eval(engine, theta_full))[["elapsed"]]
    worker[i] <- max(session$last_request$worker_seconds)
  }
  c(wall = 1000 * median(wall), worker = 1000 * median(worker),
    master = 1000 * median(wall - worker))
}
sharded <- rbind(no_delay = cluster_eval(TRUE), default = cluster_eval(FALSE))
cat("\n1. One evaluation (log-likelihood + gradient), median ms:\n")
print(data.frame(setup = c("1 process x 1 thread", "1 process x 2 threads",
                           "2 workers x 1 thread (no-delay sockets)",
                           "2 workers x 1 thread (default sockets)"),
                 ms = round(c(local_ms, sharded[, "wall"]), 1),
                 slowest_worker_ms = c(NA, NA, round(sharded[, "worker"], 1)),
                 master_and_network_ms = c(NA, NA, round(sharded[, "master"], 1))),
      row.names = FALSE)
cat("   (the same log-likelihood and gradient, bitwise, in every setup)\n")

# ---- 2. communication ------------------------------------------------------
# Wall time (median) and the master's own processor time (mean) per round
# trip: on one machine the workers compete with the master for its cores,
# on a cluster each has its own host and only the master's time adds up.
round_trip <- function(workers, no_delay, rows = 1L) {
  cl <- make_cluster(workers, no_delay)
  on.exit(stopCluster(cl))
  session <- iclv:::cluster_open(cl)
  on.exit(iclv:::cluster_close(session), add = TRUE, after = FALSE)
  request <- rep(list(list(theta_full, rows, n_par + 1L)), workers)
  trip <- function() iclv:::cluster_run(session, "worker_echo", request)
  wall <- timed(trip)
  cpu <- system.time(for (i in seq_len(reps)) trip())
  c(wall_ms = wall, master_cpu_ms = 1000 * (cpu[["user.self"]] + cpu[["sys.self"]]) / reps)
}
comm <- expand.grid(workers = c(1L, 2L, 4L), sockets = c("no-delay", "default"),
                    stringsAsFactors = FALSE)
comm <- cbind(comm, round(t(mapply(function(w, s) round_trip(w, s == "no-delay"),
                                   comm$workers, comm$sockets)), 2))
cat("\n2. Round trip of theta and a gradient (no work), ms:\n")
print(comm, row.names = FALSE)
# An answer of 7 gradients (16 kB: serialize() writes it in 4 kB pieces).
nagle <- sapply(c(`no-delay` = TRUE, default = FALSE), function(nd) round_trip(1L, nd, 7L))
cat("   an answer of 16 kB instead (1 worker), ms:\n")
print(round(nagle, 2))

# ---- 3. the master's share at scale, and the projection --------------------
# What each worker sends for its shard of an evaluation (worker_eval(): block
# sums of the log-likelihood and gradient, and the people's
# log-likelihoods), taken in and summed by the master as sharded_eval() does.
master_ms <- function(n_indiv, workers) {
  per <- n_indiv %/% workers
  blocks <- ceiling(per / 64)
  answer <- list(pieces = list(rows = matrix(stats::rnorm(blocks * (n_par + 1L)), blocks),
                               block = seq_len(blocks), complete = rep(TRUE, blocks)),
                 loglik_indiv = stats::rnorm(per), scores = NULL, n_nonpositive = 0L,
                 nonpositive = integer())
  bytes <- serialize(answer, NULL)
  take_in <- function() {
    answers <- lapply(seq_len(workers), function(k) unserialize(bytes))
    pieces <- lapply(answers, `[[`, "pieces")
    .Call(iclv:::C_reduce_pieces, do.call(rbind, lapply(pieces, `[[`, "rows")),
          unlist(lapply(pieces, `[[`, "block")), unlist(lapply(pieces, `[[`, "complete")))
    unlist(lapply(answers, `[[`, "loglik_indiv"))
  }
  c(ms = timed(take_in), mb = workers * length(bytes) / 2^20)
}
scale <- expand.grid(n = c(1e4, 1e5), hosts = c(8L, 64L))
scale <- cbind(scale, t(mapply(master_ms, scale$n, scale$hosts)))
cat("\n3. The master taking in one evaluation's answers (unserialize, stack, sum):\n")
print(scale, row.names = FALSE)

# The projection: per person and point, the seed-scale evaluation's cost on
# one thread measured here; hosts of 32 cores at a parallel efficiency of 0.8
# (0.86 measured from 1 to 2 threads on a quiet machine, vignette
# "speed-and-memory"); shards aligned to blocks of 64 people (the slowest
# host holds the most blocks); communication: the no-delay round trip of one
# worker (latency, localhost), the master's processor time per further
# worker (the slope over 1, 2, 4 workers), the answers' bytes over a
# 10 Gb/s link (1 GB/s) and the master's taking in measured above.
points <- 1000
cores <- 32
efficiency <- 0.8
per_point_s <- local_ms[1] / 1000 / (326 * 100)
nd <- comm[comm$sockets == "no-delay", ]
trip <- c(nd$wall_ms[nd$workers == 1L],
          stats::coef(stats::lm(master_cpu_ms ~ workers, nd))[[2L]])
projection <- expand.grid(n = c(1e4, 1e5), hosts = c(1L, 8L, 64L))
projection$seconds <- mapply(function(n, hosts) {
  largest <- if (hosts == 1L) n else ceiling(n / 64 / hosts) * 64
  compute <- per_point_s * points * largest / (cores * efficiency)
  if (hosts == 1L) return(compute)
  at <- scale[scale$n == n & scale$hosts == hosts, ]
  compute + (trip[[1]] + trip[[2]] * (hosts - 1L) + at$ms) / 1000 + at$mb * 2^20 / 1e9
}, projection$n, projection$hosts)
cat(sprintf(paste0("\nProjection (%d points per person, hosts of %d cores): %.3g us per ",
                   "person and point on one thread, parallel efficiency %.2f, round trip ",
                   "%.2f ms + %.3f ms per further worker\n"),
            points, cores, 1e6 * per_point_s, efficiency, trip[[1]], trip[[2]]))
table <- stats::reshape(projection, idvar = "n", timevar = "hosts", direction = "wide")
names(table) <- c("individuals", paste(c(1, 8, 64), "host(s), s"))
print(table, row.names = FALSE, digits = 3)
