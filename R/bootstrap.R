# Bootstrap standard errors (iclv_control(se = "bootstrap")): individuals
# resampled with replacement, the model refitted to each sample from the
# estimates, in parallel, with a checkpoint after every batch.

# The fit with fit$bootstrap (the replicates' estimates and the samples)
# and fit$vcov$bootstrap. `refit(data, start, control)` estimates the model
# as iclv() was asked to; `data` is the estimation data.
add_bootstrap <- function(fit, data, refit, control) {
  n_indiv <- fit$n_indiv
  samples <- bootstrap_samples(n_indiv, control$bootstrap, control$seed)
  free_names <- names(coef(fit))
  estimates <- read_bootstrap_checkpoint(control$bootstrap_checkpoint, samples, free_names)
  rows_of <- split(seq_len(nrow(data)), match(data[[fit$model$id]], fit$prepared$ids))
  replicate_control <- control
  replicate_control[c("checkpoint", "bootstrap_checkpoint")] <- list(NULL)
  replicate_control$se <- "robust"
  replicate_control$trace <- FALSE
  # On a cluster the replicates are refitted one after another, each sharded
  # over it with the fit's threads per worker.
  workers <- if (is.null(control$cluster)) control$threads %||% resolve_threads(NULL) else 1L
  if (is.null(control$cluster)) replicate_control$threads <- 1L
  one <- function(b) {
    sample_data <- resampled_data(data, rows_of, samples[b, ], fit$model$id)
    refitted <- suppressWarnings(refit(sample_data, coef(fit), replicate_control))
    if (refitted$convergence$code == 0L) coef(refitted)[free_names] else
      rep(NA_real_, length(free_names))
  }
  todo <- which(!attr(estimates, "done"))
  for (batch in split(todo, ceiling(seq_along(todo) / workers))) {
    results <- parallel::mclapply(batch, one, mc.cores = min(workers, length(batch)))
    for (k in seq_along(batch)) {
      if (inherits(results[[k]], "try-error")) stop(results[[k]], call. = FALSE)
      estimates[batch[k], ] <- results[[k]]
    }
    attr(estimates, "done")[batch] <- TRUE
    write_bootstrap_checkpoint(control$bootstrap_checkpoint, estimates, samples)
  }
  converged <- stats::complete.cases(estimates)
  if (sum(converged) < 2L)
    stop("bootstrap: fewer than 2 of ", nrow(samples), " refits converged", call. = FALSE)
  if (!all(converged))
    warning("bootstrap: ", sum(!converged), " of ", nrow(samples), " refits did not converge ",
            "and are left out", call. = FALSE)
  attr(estimates, "done") <- NULL
  fit$bootstrap <- list(estimates = estimates, samples = samples, converged = converged)
  fit$vcov$bootstrap <- stats::cov(estimates[converged, , drop = FALSE])
  fit
}

# Individuals (indices) drawn with replacement: one row per replicate, all
# drawn up front from the seed, so that each replicate's sample depends on
# neither the threads nor a resumed run. The session's stream is restored.
bootstrap_samples <- function(n_indiv, replications, seed) {
  restore_random_seed <- save_random_seed()
  on.exit(restore_random_seed(), add = TRUE)
  set.seed(seed)
  matrix(sample.int(n_indiv, n_indiv * replications, replace = TRUE), replications,
         n_indiv, byrow = TRUE)
}

# The rows of the sampled individuals, each copy a person of its own (new
# ids 1..N in sample order).
resampled_data <- function(data, rows_of, sample, id) {
  pieces <- lapply(seq_along(sample), function(k) {
    piece <- data[rows_of[[sample[k]]], , drop = FALSE]
    piece[[id]] <- k
    piece
  })
  out <- do.call(rbind, pieces)
  rownames(out) <- NULL
  out
}

# The replicates done so far (replicates x free parameters, NA rows to do,
# attribute "done"): from the checkpoint when it holds the same samples and
# parameters, else empty.
read_bootstrap_checkpoint <- function(path, samples, free_names) {
  empty <- matrix(NA_real_, nrow(samples), length(free_names),
                  dimnames = list(NULL, free_names))
  attr(empty, "done") <- rep(FALSE, nrow(samples))
  if (is.null(path) || !file.exists(path)) return(empty)
  saved <- readRDS(path)
  if (!identical(saved$samples, samples) || !identical(colnames(saved$estimates), free_names))
    stop("bootstrap checkpoint `", path, "` was written for other replicates (another seed, ",
         "number of replications, data or model); remove it or name another file",
         call. = FALSE)
  saved$estimates
}

write_bootstrap_checkpoint <- function(path, estimates, samples) {
  if (is.null(path)) return(invisible())
  save_atomically(list(estimates = estimates, samples = samples), path)
}
