# update() for models (rebuilt from the arguments they keep) and fits
# (refitted from their call, starting from the old estimates).

#' Change a model or refit a fit
#'
#' `update()` on a model rebuilds it with some arguments of [iclv_model()]
#' changed, without retyping the rest. `fixed` adds to the model's fixed
#' values (a name already fixed takes the new value; `fixed = NULL` removes
#' them all).
#'
#' `update()` on a fit estimates again with some arguments of [iclv()]
#' changed (`draws`, `start`, `control`, `model`, ...), the others as in the
#' fit's call, evaluated where `update()` is called. Unless `start` is given,
#' the estimation starts from the old estimates of every parameter that is
#' still free in the (new) model, so that a refit with more draws or one
#' more parameter converges in a few iterations.
#'
#' @param object An `iclv_model` from [iclv_model()] or an `iclv_fit` from
#'   [iclv()].
#' @param ... Arguments of [iclv_model()] (for a model) or [iclv()] (for a
#'   fit), by name.
#' @return An `iclv_model` or an `iclv_fit`.
#' @name update.iclv_fit
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' restricted <- update(model, fixed = c(b_att = 0))
#' subset(iclv_parameters(restricted), name == "b_att")
#' data <- iclv_simulate(model, n_indiv = 150, n_tasks = 4, seed = 3)
#' fit <- iclv(restricted, data, draws = 30, control = iclv_control(threads = 1))
#' fit_full <- update(fit, model = model)
#' fit_full$convergence$iterations
NULL

#' @rdname update.iclv_fit
#' @export
update.iclv_model <- function(object, ...) {
  changes <- named_changes(list(...), names(formals(iclv_model)), "update() of a model",
                           "iclv_model()")
  arguments <- object$arguments
  if (is.null(arguments))
    stop("update(): this model was built by an older version of iclv and does not keep its ",
         "arguments; build it again with iclv_model()", call. = FALSE)
  if ("fixed" %in% names(changes) && !is.null(changes$fixed)) {
    kept <- arguments$fixed[setdiff(names(arguments$fixed), names(changes$fixed))]
    changes$fixed <- c(kept, changes$fixed)
  }
  arguments[names(changes)] <- list(NULL)
  for (name in names(changes)) if (!is.null(changes[[name]])) arguments[[name]] <- changes[[name]]
  do.call(iclv_model, arguments)
}

#' @rdname update.iclv_fit
#' @export
update.iclv_fit <- function(object, ...) {
  changes <- as.list(match.call(expand.dots = FALSE)$...)
  named_changes(changes, names(formals(iclv)), "update() of a fit", "iclv()")
  call <- object$call
  if (is.null(call)) stop("update(): the fit keeps no call to refit from", call. = FALSE)
  caller <- parent.frame()
  for (name in names(changes)) call[[name]] <- changes[[name]]
  if (!"start" %in% names(changes) && !"resume" %in% names(changes)) {
    model <- eval(call$model, caller)
    check_model(model)
    call$start <- old_estimates_for(object, model)
  }
  eval(call, caller)
}

# The changes as a named list, every name an argument of `target`.
named_changes <- function(changes, allowed, what, target) {
  labels <- names(changes)
  if (length(changes) && (is.null(labels) || any(!nzchar(labels))))
    stop(what, ": give every change by name, e.g. draws = 200", call. = FALSE)
  unknown <- setdiff(labels, allowed)
  if (length(unknown))
    stop(what, ": ", paste0("`", unknown, "`", collapse = ", "), " is not an argument of ",
         target, call. = FALSE)
  changes
}

# The old fit's estimates of the parameters that are free in `model`.
old_estimates_for <- function(fit, model) {
  free <- model$params$name[model$params$free]
  estimates <- coef(fit)
  kept <- estimates[names(estimates) %in% free]
  if (length(kept)) kept else NULL
}

# The arguments a model keeps for update(). The utilities' formulas are kept
# without their environments (which could hold whole data sets): their
# expressions are evaluated in the data and the global environment anyway.
model_arguments <- function(arguments) {
  if (is.list(arguments$utility))
    arguments$utility <- lapply(arguments$utility, function(term) {
      if (inherits(term, "formula")) environment(term) <- globalenv()
      term
    })
  arguments
}
