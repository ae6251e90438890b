# Long runs: many evaluations of one engine leave the process's memory flat.
# The engine allocates nothing per evaluation (src/engine.c); the R side only
# creates garbage that the collector takes back.

test_that("10,000 engine evaluations keep RSS flat (growth under 1 MB after warm-up)", {
  skip_on_os("windows") # RSS is not measured there
  model <- iclv_model("att =~ q1 + q2 + q3\natt ~ age",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ b_price * price_B),
    choice = "choice", id = "id", categories = 4)
  data <- iclv_simulate(model, n_indiv = 20, n_tasks = 3, seed = 2)
  theta <- attr(data, "theta")[model$params$free]
  res <- iclv_loglik_plain(model, data, theta, draws = 10, threads = 1)
  engine <- res$engine
  evaluate <- function(i) {
    step <- theta * (1 + 1e-3 * sin(i))
    iclv_engine_eval(engine, model, step, gradient = TRUE, scores = i %% 10L == 0L)$loglik
  }
  for (i in seq_len(1000L)) evaluate(i)
  invisible(gc(full = TRUE))
  before <- iclv:::process_rss_mb()
  values <- vapply(seq_len(10000L), evaluate, 0)
  invisible(gc(full = TRUE))
  after <- iclv:::process_rss_mb()
  expect_true(all(is.finite(values)))
  expect_lt(after - before, 1)
  # The engine still gives its first answer (nothing was overwritten).
  expect_identical(iclv_engine_eval(engine, model, theta)$loglik, res$loglik)
})
