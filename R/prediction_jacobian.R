# The analytic Jacobian of predicted choice probabilities with respect to the
# free parameters, for predict(interval = "delta").
#
# A task's predicted probability of alternative j is the prior average
# P_tj = sum_r w_r P_tj(eta_r) over its person's points. That is exactly the
# likelihood of a one-task person who chose j and answered nothing, so the
# engine's score of such a person is d log P_tj / d theta and
# d P_tj / d theta = P_tj * score. Each (task, alternative) becomes such a
# person, with the points of the task's owner; the engine's analytic
# gradient then gives every derivative in one evaluation, with no finite
# differences of a simulated quantity.

# Jacobian (tasks x alternatives in predict()'s order: all tasks of the first
# alternative, then the second, ... x free parameters) of the probabilities
# of `prepared` at the fit's estimates, on the plain points `points`.
probability_jacobian <- function(fit, prepared, points) {
  model <- fit$model
  free <- model$params$free
  n_tasks <- length(prepared$choice)
  n_alt <- length(model$alternatives)
  task_indiv <- rep.int(seq_along(prepared$ids), diff(prepared$task_ptr))
  jacobian <- matrix(0, n_tasks * n_alt, sum(free),
                     dimnames = list(NULL, model$params$name[free]))
  base <- points_base(points)
  block <- task_block_size(dim(base))
  for (j in seq_len(n_alt)) {
    available <- which(prepared$avail[, j] == 1L)
    for (tasks in split(available, (seq_along(available) - 1L) %/% block)) {
      chooser <- one_task_people(prepared, tasks, task_indiv, j)
      engine <- engine_build(model, chooser,
                             base[task_indiv[tasks], , , drop = FALSE],
                             points$weights, threads = fit$threads)
      res <- engine_eval(engine, fit$theta_full, gradient = TRUE, scores = TRUE,
                         columns = which(free))
      engine_release(engine)
      jacobian[(j - 1L) * n_tasks + tasks, ] <- exp(res$loglik_indiv) * res$scores
    }
  }
  jacobian
}

# Tasks per engine, so that one block's copy of the points stays near 64 MB.
task_block_size <- function(base_dim) {
  max(1L, as.integer(2^23 / (base_dim[2L] * base_dim[3L])))
}

# Prepared data with one person per task of `tasks`, who answered no
# indicator and chose alternative j; covariates are the task owner's.
one_task_people <- function(prepared, tasks, task_indiv, j) {
  n <- length(tasks)
  owner <- task_indiv[tasks]
  ind_cat <- prepared$ind_cat[owner, , drop = FALSE]
  ind_cat[] <- 0L
  ind_value <- prepared$ind_value[owner, , drop = FALSE]
  ind_value[] <- NaN
  structure(
    list(ids = seq_len(n), ind_cat = ind_cat, ind_value = ind_value,
         covariates = prepared$covariates[owner, , drop = FALSE],
         task_ptr = 0:n, rows = prepared$rows[tasks], choice = rep.int(j - 1L, n),
         avail = prepared$avail[tasks, , drop = FALSE],
         term_value = prepared$term_value[tasks, , drop = FALSE]),
    class = "iclv_data")
}
