# Checkpoints: the optimizer's state saved atomically (write a temporary file
# in the same directory, then rename it over the old one), so a crash or a
# kill never leaves a half-written file.

# `centre`: the centres of adaptive integration (NULL for plain points), so
# that a resumed run goes on with the same points.
write_checkpoint <- function(path, model, n_indiv, map, u, iteration, trace, centre = NULL) {
  state <- list(
    format = "iclv-checkpoint-1",
    parameters = map$names,
    n_indiv = n_indiv,
    theta = to_natural(map, u),
    iteration = iteration,
    trace = trace,
    centre = centre[c("mean", "chol")],
    saved = Sys.time()
  )
  save_atomically(state, path)
}

# saveRDS() to a temporary file renamed over `path`; a warning (not an
# error: the estimation goes on) when that fails.
save_atomically <- function(object, path) {
  tmp <- tempfile(pattern = paste0(basename(path), "-"), tmpdir = dirname(path), fileext = ".tmp")
  ok <- tryCatch({
    saveRDS(object, tmp)
    file.rename(tmp, path)
  }, error = function(e) FALSE)
  if (!isTRUE(ok)) {
    unlink(tmp)
    warning("could not write the checkpoint `", path, "`", call. = FALSE)
  }
  invisible(isTRUE(ok))
}

read_checkpoint <- function(path, model, n_indiv) {
  if (!is.character(path) || length(path) != 1L || !file.exists(path))
    stop("`resume`: checkpoint file `", path, "` does not exist", call. = FALSE)
  state <- tryCatch(readRDS(path), error = function(e)
    stop("`resume`: `", path, "` is not a readable checkpoint (", conditionMessage(e), ")",
         call. = FALSE))
  if (!is.list(state) || !identical(state$format, "iclv-checkpoint-1"))
    stop("`resume`: `", path, "` is not an iclv checkpoint", call. = FALSE)
  free_names <- model$params$name[model$params$free]
  if (!identical(state$parameters, free_names))
    stop("`resume`: the checkpoint was written for a model with other free parameters",
         call. = FALSE)
  if (!identical(state$n_indiv, n_indiv))
    stop("`resume`: the checkpoint was written for data with ", state$n_indiv,
         " individuals, these data have ", n_indiv, call. = FALSE)
  if (!is.null(state$centre) && !identical(nrow(state$centre$mean), n_indiv))
    state$centre <- NULL
  state
}
