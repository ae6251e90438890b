# The fit object (class iclv_fit): a list, like lm's, built once at the end
# of iclv(), and the warnings that tell the user what to try.

new_fit <- function(model, prepared, engine, map, opt, se, control, timings, monitor, draws,
                    backend, call, stages, integration) {
  params <- model$params
  # The evaluation at the estimates that the standard errors used too.
  final <- opt$optimum
  theta_full <- stats::setNames(final$theta_full, params$name)
  theta_free <- stats::setNames(final$theta_full[map$free], map$names)
  gradient_working <- final$gradient_working
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
    nonpositive = if (final$n_nonpositive > 0L) nonpositive_individuals(engine, theta_full),
    n_par = length(theta_free),
    n_indiv = nrow(prepared$ind_cat),
    n_tasks = n_tasks,
    n_draws = draws$n_draws,
    draw_type = draws$type,
    backend = backend,
    threads = engine_info(engine)$n_threads,
    convergence = list(code = opt$code, message = opt$message, iterations = opt$iterations,
                       evaluations = opt$n_eval, gradient_norm = sqrt(sum(gradient_working^2)),
                       gradient_max = max(abs(gradient_working)),
                       gradient_relative = relative_gradient(gradient_working, opt$u,
                                                             final$loglik),
                       gradient = stats::setNames(gradient_working, map$names),
                       interrupted = opt$interrupted,
                       adaptive_rounds = opt$adaptive_rounds %||% NA_integer_,
                       adaptive_settled = opt$adaptive_settled %||% NA,
                       adaptive_gain = opt$adaptive_gain %||% NA_real_),
    start_stages = stages,
    timings = timings,
    trace = trace_frame(opt$trace),
    memory = memory_summary(monitor),
    hessian = se$hessian,
    hessian_problems = se$problems,
    scores = se$scores,
    model = model,
    prepared = prepared,
    draws = if (is.null(draws$recipe)) draws$source$array,
    draw_recipe = draws$recipe,
    centre = draws$centre[c("mean", "chol")],
    integration = integration,
    engine = engine,
    map = map,
    u = opt$u,
    bounds = list(lower = control$lower, upper = control$upper),
    control_gradtol = control$gradtol,
    call = call
  )
  # The fit's engine is freed next (its weights may be spent measuring the
  # error): the measures below build engines of their own, one at a time, so
  # that no more than one engine's points (the size of the draws) exists at
  # once, and it is built again at the end.
  fit$integration_error <- integration_error(fit, spend = TRUE)
  engine_release(engine)
  fit$loglik_choice <- choice_loglik(fit)
  # An interrupted fit has no estimates to describe, and its user wants it back now.
  if (!opt$interrupted) fit$loglik_parts <- part_logliks(model, prepared, draws, theta_full, fit$threads)
  # What the measures left behind goes back before the engine is built again.
  release_for_points(fit$n_indiv, fit$n_draws, n_dims(model))
  # On a cluster the fit keeps no engine (that of a large sample may not fit
  # in this process): fit_engine() builds one here when a method needs it.
  fit$engine <- if (is.null(active_session()))
    engine_build(model, prepared, draws, threads = fit$threads, backend = backend)
  class(fit) <- "iclv_fit"
  fit
}

# The engine of a fit, rebuilt when the fit was saved and loaded (external
# pointers do not survive serialisation), from the fit's recipe or draws.
# With `plain`, the engine of the base points as they are, not moved to the
# posteriors: what prior averages (the unconditional choice probabilities)
# need, since adaptive points cover only each person's posterior.
fit_engine <- function(fit, plain = FALSE) {
  if (plain && !is.null(fit$centre))
    return(engine_build(fit$model, fit$prepared, plain_points(fit_points(fit)),
                        threads = fit$threads))
  if (engine_alive(fit$engine)) return(fit$engine)
  engine_build(fit$model, fit$prepared, fit_points(fit), threads = fit$threads)
}

# Whether an engine can still be evaluated (not freed, not from a saved fit).
engine_alive <- function(engine) {
  if (is.null(engine)) return(FALSE)
  tryCatch({
    engine_info(engine)
    TRUE
  }, error = function(e) FALSE)
}

# The integration points of a fit (a points object with the fit's centre),
# from their recipe, or from the user's draws the fit keeps.
fit_points <- function(fit) {
  adaptive <- isTRUE(fit$integration$adaptive)
  points <- if (is.null(fit$draw_recipe)) array_points(fit$draws, standardise = adaptive) else
    points_from_recipe(fit$draw_recipe, fit$n_indiv, n_dims(fit$model), adaptive)
  points$centre <- fit$centre
  points
}

# Log-likelihood of the choices alone: the per-task choice probabilities
# averaged over the draws; the same under equal shares of the available
# alternatives, LL(0), and with constants alone, LL(C) (for rho-squared).
choice_loglik <- function(fit) {
  if (!fit$n_tasks) {
    return(c(model = NA_real_, equal_shares = NA_real_, observed_shares = NA_real_))
  }
  engine <- fit_engine(fit, plain = TRUE)
  if (!identical(engine, fit$engine)) on.exit(engine_release(engine))
  prob <- t(engine_predict(engine, fit$theta_full, "prob"))
  chosen <- cbind(seq_len(fit$n_tasks), fit$prepared$choice + 1L)
  c(model = sum(log(prob[chosen])),
    equal_shares = -sum(log(rowSums(fit$prepared$avail))),
    observed_shares = constants_only_loglik(fit$prepared$choice + 1L, fit$prepared$avail))
}

# LL(C): the multinomial logit with a constant per alternative and nothing
# else. With every alternative always available its constants reproduce the
# observed shares, sum_j N_j log(N_j / N); where availability varies they are
# fitted (one constant is redundant: the optimizer moves along the flat
# direction without harm).
constants_only_loglik <- function(choice, avail) {
  counts <- tabulate(choice, ncol(avail))
  if (all(avail == 1L)) {
    chosen <- counts[counts > 0]
    return(sum(chosen * log(chosen / sum(chosen))))
  }
  exp_utility <- function(asc) avail * rep(exp(asc - max(asc)), each = nrow(avail))
  loglik <- function(asc) sum(asc[choice] - max(asc)) - sum(log(rowSums(exp_utility(asc))))
  gradient <- function(asc) {
    e <- exp_utility(asc)
    counts - colSums(e / rowSums(e))
  }
  opt <- stats::optim(log(pmax(counts, 0.5)), loglik, gradient, method = "BFGS",
                      control = list(fnscale = -1, reltol = 1e-12, maxit = 1000L))
  opt$value
}

# The log-likelihood of each part of the model on its own at the estimates:
# each indicator (every other answer marked missing, choices switched off)
# and the choice model (every answer marked missing), each integrated over
# the latent variables with the fit's base points, not moved to the joint
# posterior (one part alone says little about a person's latent variables,
# so its posterior is close to the prior), by the engine itself. The parts
# do not add up to the total, which integrates them jointly.
part_logliks <- function(model, prepared, points, theta_full, threads) {
  part_loglik <- function(keep, choice) {
    part <- prepared
    part$ind_cat[, !keep] <- 0L
    part$ind_value[, !keep] <- NaN
    engine <- engine_build(model, part, plain_points(points), threads = threads)
    on.exit(engine_release(engine))
    engine_eval(engine, theta_full, gradient = FALSE, choice = choice)$loglik
  }
  indicators <- model$indicators
  answered <- ifelse(model$family == "continuous", colSums(!is.nan(prepared$ind_value)),
                     colSums(prepared$ind_cat > 0L))
  parts <- data.frame(
    part = indicators,
    kind = rep("indicator", length(indicators)),
    n_obs = as.numeric(unname(answered)),
    unit = rep("individuals", length(indicators)),
    loglik = vapply(seq_along(indicators), function(k) part_loglik(seq_along(indicators) == k, FALSE), 0),
    stringsAsFactors = FALSE)
  if (length(prepared$choice)) {
    parts <- rbind(parts, data.frame(part = "choice model", kind = "choice",
                                     n_obs = length(prepared$choice), unit = "tasks",
                                     loglik = part_loglik(rep(FALSE, length(indicators)), TRUE),
                                     stringsAsFactors = FALSE))
  }
  parts
}

# The individuals (indices) whose integral is not positive at theta_full.
nonpositive_individuals <- function(engine, theta_full) {
  engine_eval(engine, theta_full, gradient = FALSE)$nonpositive
}

# The warning for individuals whose integral is not positive.
warn_nonpositive <- function(individuals, ids, where = "at the estimates") {
  if (!length(individuals)) return(invisible())
  warning(length(individuals), " individual(s) (id ",
          paste(utils::head(ids[individuals], 5L), collapse = ", "),
          if (length(individuals) > 5L) ", ..." else "",
          ") have a non-positive integral ", where,
          " under the sparse grid (its negative weights): ",
          "their log-likelihood is floored and carries no gradient, so the estimates are ",
          "not reliable; use adaptive = TRUE (the default for models with indicators) or ",
          "more nodes", call. = FALSE)
}

# The estimated integration error of the log-likelihood above which a fit
# warns: larger errors bias likelihood-ratio tests and the estimates.
integration_error_warn <- 0.5

warn_fit <- function(fit) {
  warn_nonpositive(fit$nonpositive, fit$prepared$ids)
  conv <- fit$convergence
  if (conv$interrupted) {
    warning("estimation interrupted after ", conv$iterations, " iterations: the fit holds the ",
            "last accepted parameters and no standard errors; resume with ",
            "iclv(..., resume = <checkpoint>)", call. = FALSE)
    return(invisible())
  }
  error <- fit$integration_error
  if (isTRUE(error$error > integration_error_warn))
    warning(sprintf(paste0("the estimated integration error of the log-likelihood is %.2g ",
                           "(%s): the estimates may be biased by the integration; use %s, ",
                           "and see check_integration(fit)"),
                    error$error, error$kind,
                    if (isTRUE(fit$integration$adaptive) || !default_adaptive(fit$model))
                      "more draws or nodes" else "adaptive = TRUE or more draws or nodes"),
            call. = FALSE)
  if (isFALSE(conv$adaptive_settled))
    warning(sprintf(paste0("adaptive integration: re-centring the points still moved the ",
                           "optimum after %d rounds (the last gained %.2g in log-likelihood), ",
                           "so the estimates depend slightly on the centring; use more draws ",
                           "or nodes, or raise iclv_control(adapt_rounds =)"),
                    conv$adaptive_rounds, conv$adaptive_gain), call. = FALSE)
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
