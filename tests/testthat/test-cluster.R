# Estimation sharded over a cluster (R/cluster.R): the same numbers as one
# process, bitwise, for 1, 2 and 3 workers; faults (a killed worker, one
# that stops answering, an error inside a worker) end with an error naming
# the worker and leave a resumable checkpoint; nothing is left on the
# workers. Three socket workers on this machine, one thread each; skipped
# where sockets cannot be opened.

cl <- cluster_for_tests(3L)
skip_if(is.null(cl), "no socket cluster on this machine")

test_that("the control and iclv_loglik() check the cluster", {
  expect_error(iclv_control(cluster = list(1)), "must be a cluster made by parallel")
  expect_error(iclv_control(cluster_timeout = 0), "positive number")
  expect_identical(iclv_control(cluster = cl, cluster_timeout = 5)$cluster_timeout, 5)
})

test_that("shards are contiguous, balanced, and aligned to the sum blocks when large", {
  shard_of <- function(n, workers, tasks = rep(2L, n)) {
    prepared <- list(ind_cat = matrix(1L, n, 3L), task_ptr = c(0L, cumsum(tasks)),
                     avail = matrix(1L, sum(tasks), 2L), choice = integer(sum(tasks)))
    iclv:::shard_bounds(prepared, workers)
  }
  small <- shard_of(100, 3)
  expect_identical(small$first, c(1L, 34L, 67L))
  expect_identical(small$last, c(33L, 66L, 100L))
  large <- shard_of(1000, 3)
  expect_identical(large$first[1L], 1L)
  expect_identical(large$last[3L], 1000L)
  expect_identical(large$first[-1L], large$last[-3L] + 1L)
  expect_true(all(large$last[-3L] %% 64L == 0L))
  # More work per person (more tasks) at the start: fewer people there.
  uneven <- shard_of(100, 2, tasks = rep(c(8L, 1L), each = 50))
  expect_lt(uneven$last[1L], 50L)
  # More workers than people: one person each, the rest idle.
  expect_identical(nrow(shard_of(2, 3)), 2L)
})

sparse_case <- function() {
  model <- iclv_model("
    a =~ q1 + q2 + q3
    b =~ q4 + q5 + q6
    c =~ q7 + q8 + q9
    d =~ q10 + q11 + q12",
    utility = list(A = ~ b_price * price_A + b_a * a + b_d * d,
                   B = ~ asc_B + b_price * price_B),
    choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = 100, n_tasks = 3, seed = 2)
  list(model = model, data = data, theta = attr(data, "theta"))
}

test_that("log-likelihood, gradient and scores equal one process bitwise on 1, 2, 3 workers", {
  cases <- list(
    list(case = build_case(engine_models$probit_paths, n_indiv = 150, availability = TRUE),
         args = list(draws = 20)),
    list(case = build_case(engine_models$logit_continuous, n_indiv = 150),
         args = list(draws = 15, draw_type = "mlhs", adaptive = FALSE)),
    list(case = build_case(engine_models$latent_only, n_indiv = 90), args = list(draws = 12)),
    list(case = build_case(engine_models$probit_paths, n_indiv = 70),
         args = list(integration = "quadrature", nodes = 4)),
    # Four latent variables: an adaptive sparse grid, centred with draws (an
    # engine of its own on the workers).
    list(case = sparse_case(), args = list(integration = "quadrature")),
    # Random coefficients: adaptive draws in a hybrid model, plain draws in a
    # mixed logit, and adaptive nodes.
    list(case = hybrid_random_case(list(b_price = "neg_lognormal", b_time = "uniform"),
                                   n_indiv = 130), args = list(draws = 20)),
    list(case = mixed_logit_case(list(b_price = "neg_lognormal"), n_indiv = 100),
         args = list(draws = 20)),
    list(case = mixed_logit_case(list(b_price = "lognormal", b_time = "normal"), correlated = TRUE,
                                 n_indiv = 100),
         args = list(integration = "quadrature", nodes = 5, adaptive = TRUE)))
  for (k in seq_along(cases)) {
    case <- cases[[k]]$case
    free <- case$model$params$free
    run <- function(...) do.call(iclv_loglik, c(list(case$model, case$data, case$theta[free],
                                                     scores = TRUE, threads = 1L),
                                                cases[[k]]$args, list(...)))
    one <- run()
    for (workers in 1:3) {
      res <- run(cluster = cl[seq_len(workers)])
      info <- sprintf("case %d, %d workers", k, workers)
      expect_identical(res$loglik, one$loglik, info = info)
      expect_identical(res$gradient, one$gradient, info = info)
      expect_identical(res$scores, one$scores, info = info)
      expect_identical(res$loglik_indiv, one$loglik_indiv, info = info)
      expect_null(res$engine)
    }
  }
  expect_identical(worker_session_counts(cl), c(0L, 0L, 0L))
})

test_that("shards of whole blocks, every kind of draws and the user's own give the same numbers", {
  # 700 people on 2 workers: shards of whole blocks of 64 people (the
  # workers send block sums); each worker makes its people's draws.
  model <- attitude_binary_model()
  data <- iclv_simulate(model, n_indiv = 700, n_tasks = 2, seed = 11)
  theta <- attr(data, "theta")[model$params$free]
  own <- iclv_draws(700, 6, 1, type = "pseudo", seed = 2)
  kinds <- list(list(draws = 6, draw_type = "sobol"), list(draws = 6, draw_type = "pseudo"),
                list(draws = 6, draw_type = "scrambled_halton"), list(draws = own))
  for (kind in kinds) {
    run <- function(...) do.call(iclv_loglik, c(list(model, data, theta, threads = 1L, seed = 4L,
                                                     adaptive = FALSE), kind, list(...)))
    one <- run()
    two <- run(cluster = cl[1:2])
    expect_identical(two$loglik, one$loglik, info = kind$draw_type)
    expect_identical(two$gradient, one$gradient, info = kind$draw_type)
  }
})

# A sharded engine of a small model, built on the session open last, and
# its theta_full.
small_sharded_engine <- function() {
  case <- build_case(engine_models$probit_paths, n_indiv = 40)
  prepared <- iclv:::prepare_data(case$model, case$data)
  points <- iclv:::draws_points(list(n_draws = 5L, draw_type = "halton", seed = 1L), 40L, 2L)
  list(engine = iclv:::engine_build(case$model, prepared, points, threads = 1L),
       theta = case$theta)
}

test_that("an answer left by an interrupted request is dropped", {
  session <- iclv:::cluster_open(cl[1])
  on.exit(iclv:::cluster_close(session))
  # A request whose answer nobody waits for, as Ctrl-C leaves one.
  iclv:::node_send(cl[[1]], iclv:::remote_function(), list("worker_echo", list(1, 1L, 1L)),
                   tag = -1L)
  answer <- iclv:::cluster_run(session, "worker_echo", list(list(2, 1L, 1L)))
  expect_identical(answer, list(matrix(2, 1L, 1L)))
})

test_that("an error inside a worker comes back with its message", {
  session <- iclv:::cluster_open(cl[1:2])
  on.exit(iclv:::cluster_close(session))
  small <- small_sharded_engine()
  engine <- small$engine
  case <- list(theta = small$theta)
  expect_s3_class(engine, "iclv_sharded_engine")
  expect_output(print(engine), "sharded over 2 cluster workers: 40 individuals")
  expect_identical(iclv:::engine_info(engine)$n_indiv, 40L)
  expect_error(iclv:::engine_eval(engine, c(1, 2)),
               paste("cluster worker 1 of 2 \\(.*pid [0-9]+\\), during an evaluation:",
                     "theta must be a double vector"))
  # The session goes on after a worker's error.
  expect_true(is.finite(iclv:::engine_eval(engine, case$theta)$loglik))
  iclv:::engine_release(engine)
  expect_error(iclv:::engine_eval(engine, case$theta), "has been freed")
})

# The fits of the tests below: small, quick, from the default start.
fit_model <- attitude_binary_model()
fit_data <- iclv_simulate(fit_model, n_indiv = 120, n_tasks = 4, seed = 5)
fit_control <- function(...) iclv_control(threads = 1L, start_stages = FALSE, ...)
fit_one <- iclv(fit_model, fit_data, draws = 20, control = fit_control())

test_that("a fit on a cluster equals the fit in one process", {
  fit <- iclv(fit_model, fit_data, draws = 20, control = fit_control(cluster = cl[1:2]))
  expect_identical(coef(fit), coef(fit_one))
  expect_identical(fit$loglik, fit_one$loglik)
  # The shards' analytic Hessians are added in shard order: equal to rounding.
  expect_equal(fit$vcov, fit_one$vcov, tolerance = 1e-10)
  expect_identical(fit$loglik_parts, fit_one$loglik_parts)
  expect_identical(fit$loglik_choice, fit_one$loglik_choice)
  expect_identical(fit$integration_error, fit_one$integration_error)
  expect_identical(fit$centre, fit_one$centre)
  expect_identical(fit$convergence$iterations, fit_one$convergence$iterations)
  expect_null(fit$engine)
  expect_identical(fit$cluster$first, c(1L, 61L))
  expect_identical(fit$cluster$backend, c("cpu", "cpu"))
  expect_match(fit$backend, "2 cluster workers \\(cpu\\)")
  # The fit's methods work in this process, without the cluster.
  expect_equal(predict(fit, type = "lv"), predict(fit_one, type = "lv"))
  expect_identical(worker_session_counts(cl), c(0L, 0L, 0L))
})

test_that("a fit on a cluster with a memory limit reports the memory of every worker", {
  # A limit below every process's size: the collector runs at every check.
  fit <- suppressWarnings(iclv(fit_model, fit_data, draws = 20, adaptive = FALSE,
                               control = fit_control(cluster = cl[1:2], maxit = 2L,
                                                     memory = memory_limits(cpu_mb = 1))))
  memory <- memory_summary(fit)
  expect_setequal(unique(memory$worker), 0:2)
  for (w in 1:2) {
    mine <- memory[memory$worker == w, ]
    expect_true(all(mine$host_mb > 0))
    expect_true(any(mine$phase == "iteration"))
    expect_true(all(mine$action == "gc"))
  }
  expect_true(all(memory$host_mb[memory$worker == 0L] == 0))
  expect_true(all(memory$action[memory$worker == 0L] == "gc"))
  expect_identical(memory_stats(fit)$n_gc, nrow(memory))
})

test_that("bootstrap replicates are refitted on the cluster, with the same results", {
  control <- function(...) fit_control(se = "bootstrap", bootstrap = 2L, ...)
  boot_one <- suppressWarnings(iclv(fit_model, fit_data, draws = 10, control = control()))
  boot_cl <- suppressWarnings(iclv(fit_model, fit_data, draws = 10,
                                   control = control(cluster = cl[1:3])))
  expect_identical(boot_cl$bootstrap$estimates, boot_one$bootstrap$estimates)
  expect_identical(worker_session_counts(cl), c(0L, 0L, 0L))
})

# The process ids of a cluster's workers.
worker_pids <- function(cl) unlist(parallel::clusterEvalQ(cl, Sys.getpid()))

test_that("a killed worker ends the fit with an error naming it, and the checkpoint resumes", {
  skip_on_os("windows")
  lost <- cluster_for_tests(2L)
  skip_if(is.null(lost))
  on.exit(stop_cluster_for_tests(lost), add = TRUE)
  pid <- worker_pids(lost)[2L]
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path), add = TRUE)
  err <- tryCatch(withCallingHandlers(
    iclv(fit_model, fit_data, draws = 20,
         control = fit_control(cluster = lost, checkpoint = path, checkpoint_every = 100L,
                               trace = TRUE)),
    message = function(m) {
      if (grepl("^iter +3 ", conditionMessage(m))) tools::pskill(pid, tools::SIGKILL)
      invokeRestart("muffleMessage")
    }), error = identity)
  expect_s3_class(err, "iclv_cluster_error")
  expect_match(conditionMessage(err), "cluster worker 2 of 2 \\(.*pid [0-9]+\\) died")
  expect_match(conditionMessage(err), "The state at iteration 3 is in the checkpoint", fixed = TRUE)
  expect_identical(readRDS(path)$iteration, 3L)
  # The surviving worker freed its engines.
  expect_identical(worker_session_counts(lost[1]), 0L)
  # Resumed on a cluster of another size: the same maximum.
  resumed <- iclv(fit_model, fit_data, draws = 20, resume = path,
                  control = fit_control(cluster = cl[1:3]))
  expect_identical(resumed$start_stages, "resumed")
  expect_equal(resumed$loglik, fit_one$loglik, tolerance = 1e-6)
  expect_equal(coef(resumed), coef(fit_one), tolerance = 1e-4)
})

test_that("a worker that stops answering ends the evaluation after the timeout", {
  skip_on_os("windows")
  stuck <- cluster_for_tests(2L)
  skip_if(is.null(stuck))
  on.exit(stop_cluster_for_tests(stuck), add = TRUE)
  pid <- worker_pids(stuck)[1L]
  session <- iclv:::cluster_open(stuck, timeout = 2)
  on.exit(iclv:::cluster_close(session), add = TRUE, after = FALSE)
  small <- small_sharded_engine()
  engine <- small$engine
  case <- list(theta = small$theta)
  tools::pskill(pid, tools::SIGSTOP)
  on.exit(tools::pskill(pid, tools::SIGKILL), add = TRUE, after = FALSE)
  started <- proc.time()[["elapsed"]]
  expect_error(iclv:::engine_eval(engine, case$theta),
               "cluster worker 1 of 2 .* did not answer within 2 seconds",
               class = "iclv_cluster_error")
  expect_lt(proc.time()[["elapsed"]] - started, 10)
  # The session no longer sends to it; the other worker is closed cleanly.
  expect_error(iclv:::engine_eval(engine, case$theta), "failed earlier \\(unresponsive\\)")
  iclv:::cluster_close(session)
  expect_identical(worker_session_counts(stuck[2]), 0L)
})

stop_cluster_for_tests(cl)
