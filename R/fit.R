# The fit object (class iclv_fit): a list, like lm's, built once at the end
# of iclv(), and the warnings that tell the user what to try.

new_fit <- function(model, prepared, engine, map, opt, se, control, timings, monitor, draws,
                    backend, call, stages, integration) {
  params <- model$params
  theta_free <- stats::setNames(to_natural(map, opt$u), map$names)
  theta_full <- fill_theta(model, map, theta_free)
  names(theta_full) <- params$name
  final <- engine_eval(engine, theta_full, gradient = TRUE)
  gradient_working <- gradient_to_working(map, opt$u, final$gradient[map$free])
  vcov_list <- if (is.null(se)) {
    lapply(c(classical = 1, robust = 2, bhhh = 3), function(i) na_matrix(map$names))
  } else se$vcov
  n_tasks <- length(prepared$choice)
  fit <- list(
    coefficients = theta_free,
    theta_full = theta_full,
    vcov = vcov_list,
    se_type = control$se,
    loglik = final$loglik,
    loglik_indiv = final$loglik_indiv,
    n_par = length(theta_free),
    n_indiv = nrow(prepared$ind_cat),
    n_tasks = n_tasks,
    n_draws = dim(draws$draws)[2L],
    draw_type = draws$type,
    backend = backend,
    threads = engine_info(engine)$n_threads,
    convergence = list(code = opt$code, message = opt$message, iterations = opt$iterations,
                       evaluations = opt$n_eval, gradient_norm = sqrt(sum(gradient_working^2)),
                       gradient_max = max(abs(gradient_working)),
                       gradient_relative = relative_gradient(gradient_working, opt$u,
                                                             final$loglik),
                       gradient = stats::setNames(gradient_working, map$names),
                       interrupted = opt$interrupted),
    start_stages = stages,
    timings = timings,
    trace = trace_frame(opt$trace),
    memory = memory_summary(monitor),
    hessian = se$hessian,
    hessian_problems = se$problems,
    scores = se$scores,
    model = model,
    prepared = prepared,
    draws = if (is.null(draws$recipe)) draws$draws,
    draw_weights = if (is.null(draws$recipe)) draws$weights,
    draw_recipe = draws$recipe,
    integration = integration,
    engine = engine,
    map = map,
    u = opt$u,
    bounds = list(lower = control$lower, upper = control$upper),
    control_gradtol = control$gradtol,
    call = call
  )
  fit$loglik_choice <- choice_loglik(fit)
  class(fit) <- "iclv_fit"
  fit
}

# The engine of a fit, rebuilt when the fit was saved and loaded (external
# pointers do not survive serialisation).
fit_engine <- function(fit) {
  alive <- tryCatch({
    engine_info(fit$engine)
    TRUE
  }, error = function(e) FALSE)
  if (alive) return(fit$engine)
  points <- if (is.null(fit$draw_recipe)) list(draws = fit$draws, weights = fit$draw_weights) else
    points_from_recipe(fit$draw_recipe, fit$n_indiv, length(fit$model$latent))
  engine_build(fit$model, fit$prepared, points$draws, points$weights, threads = fit$threads)
}

# Log-likelihood of the choices alone: the per-task choice probabilities
# averaged over the draws, and the same under equal shares of the available
# alternatives (for rho-squared).
choice_loglik <- function(fit) {
  if (!fit$n_tasks) return(c(model = NA_real_, equal_shares = NA_real_))
  prob <- t(engine_predict(fit_engine(fit), fit$theta_full, "prob"))
  chosen <- cbind(seq_len(fit$n_tasks), fit$prepared$choice + 1L)
  c(model = sum(log(prob[chosen])),
    equal_shares = -sum(log(rowSums(fit$prepared$avail))))
}

warn_fit <- function(fit) {
  conv <- fit$convergence
  if (conv$interrupted) {
    warning("estimation interrupted after ", conv$iterations, " iterations: the fit holds the ",
            "last accepted parameters and no standard errors; resume with ",
            "iclv(..., resume = <checkpoint>)", call. = FALSE)
    return(invisible())
  }
  if (conv$code == 1L)
    warning("no convergence within ", conv$iterations, " iterations: increase ",
            "iclv_control(maxit =), or resume from a checkpoint", call. = FALSE)
  else if (conv$code != 0L && conv$code != degenerate_code)
    warning("the optimizer stopped: ", conv$message, call. = FALSE)
  # The gradient of a parameter held at an active bound need not vanish.
  at_bound <- parameters_at_bounds(fit)
  gradient <- conv$gradient
  gradient[names(gradient) %in% at_bound] <- 0
  gradient_relative <- relative_gradient(gradient, fit$u, fit$loglik)
  if (gradient_relative > 100 * fit$control_gradtol)
    warning(sprintf(paste0("the gradient is still large at the end (relative gradient %.2g, ",
                           "max |g| = %.3g, ",
                           "largest for `%s`): the maximum may not be reached; try more ",
                           "iterations, other starting values or more draws"),
                    gradient_relative, max(abs(gradient)),
                    names(which.max(abs(gradient)))), call. = FALSE)
  if (length(at_bound))
    warning("parameter(s) at a bound: ", paste0("`", at_bound, "`", collapse = ", "),
            "; the bound is active, so their standard errors are not reliable; widen or ",
            "drop the bound", call. = FALSE)
  warn_degenerate(fit$degenerate)
  if (!is.null(fit$hessian_problems) && is.null(fit$degenerate))
    warning("the Hessian is not negative definite: the model is weakly identified in the ",
            "direction of ", paste0("`", fit$hessian_problems$names, "`", collapse = ", "),
            ". Classical and robust standard errors are NA; fix or drop one of these ",
            "parameters, add draws, or check the normalisation", call. = FALSE)
  invisible()
}

parameters_at_bounds <- function(fit) {
  out <- character()
  for (side in c("lower", "upper")) {
    b <- fit$bounds[[side]]
    if (is.null(b)) next
    est <- fit$coefficients[names(b)]
    out <- c(out, names(b)[abs(est - b) <= 1e-8 * pmax(1, abs(b))])
  }
  unique(out)
}
