# Standard errors: the Hessian of the log-likelihood (analytic, from the
# engine, on the natural scale, mapped to the optimizer's working scale; or
# by central differences of the analytic gradient on the working scale), the
# per-individual scores, and the covariance matrices mapped to the natural
# scale by the delta method. Only what is asked is computed: with
# se = "bhhh" no Hessian (vcov() computes it on demand, fit_hessian_vcov()).

# `optimum`: evaluate_at() at the estimates, shared with the fit. `control`:
# iclv_control() (`se`, `hessian`, `hessian_step`). The classical and robust
# matrices are NULL when not computed.
standard_errors <- function(engine, model, map, optimum, control) {
  scores_working <- optimum$scores %*% optimum$jacobian
  hessian <- NULL
  if (control$se != "bhhh") {
    engine_memory_check(engine, "hessian")
    hessian <- if (control$hessian == "analytic")
      working_hessian(engine, model, map, optimum) else
        differences_hessian(engine, model, map, optimum$u, scores_working, control$hessian_step)
    engine_memory_check(engine, "hessian")
  }
  out <- covariances(hessian, scores_working, optimum$jacobian, map$names)
  out$scores <- optimum$scores
  out
}

# The Hessian on the working scale u from the engine's analytic Hessian in
# the natural free parameters theta: J' H_theta J plus, for the transformed
# entries, sum_k g_k d2 theta_k / du_i^2 (vignette "likelihood", section 7.5).
working_hessian <- function(engine, model, map, optimum) {
  res <- engine_eval(engine, optimum$theta_full, hessian = model$params$free)
  hessian_to_working(map, optimum$u, res$hessian, res$gradient[map$free])
}

# J' H J + diag(c): theta = exp(u) (scales) and the increments of a monotone
# threshold set, tau_j = tau_{j-1} + exp(u_j), have d2 theta / du^2 = d theta /
# du on the diagonal and no cross terms, so c_i = sum_k g_k d2 theta_k / du_i^2
# is the working gradient's entry for those (tail sums of g times exp(u_i)),
# and 0 elsewhere (the identity, a free set's first threshold).
hessian_to_working <- function(map, u, hessian, grad) {
  jac <- working_jacobian(map, u)
  g_working <- gradient_to_working(map, u, grad)
  curved <- map$is_log
  for (set in map$sets) curved[if (set$symmetric) set$pos else set$pos[-1L]] <- TRUE
  out <- crossprod(jac, hessian %*% jac)
  diag(out) <- diag(out) + ifelse(curved, g_working, 0)
  out <- (out + t(out)) / 2
  dimnames(out) <- list(map$names, map$names)
  out
}

# The Hessian by central differences of the analytic gradient on the
# working scale (iclv_control(hessian = "differences")): 2 x n gradients.
# Steps relative to each parameter's size, or to the scale its scores give
# when that is far below 1 (a coefficient of a variable in millions).
differences_hessian <- function(engine, model, map, u, scores_working, step) {
  n <- length(u)
  grad_at <- function(v) {
    theta_full <- theta_from_working(model, map, v)
    gradient_to_working(map, v, engine_eval(engine, theta_full)$gradient[map$free])
  }
  scale <- pmin(1, 100 / sqrt(pmax(colSums(scores_working^2), .Machine$double.xmin)))
  hessian <- matrix(0, n, n)
  for (i in seq_len(n)) {
    h <- step * max(scale[i], abs(u[i]))
    up <- u
    down <- u
    up[i] <- u[i] + h
    down[i] <- u[i] - h
    hessian[, i] <- (grad_at(up) - grad_at(down)) / (2 * h)
  }
  out <- (hessian + t(hessian)) / 2
  dimnames(out) <- list(map$names, map$names)
  out
}

# The covariance matrices (natural scale) from the working-scale Hessian
# (NULL: not computed, and neither are the classical and robust ones) and
# scores: list(vcov = list(classical, robust, bhhh), hessian, problems).
covariances <- function(hessian, scores_working, jacobian, names) {
  opg <- crossprod(scores_working)
  problems <- NULL
  bread <- NULL
  if (!is.null(hessian)) {
    info <- -hessian
    problems <- hessian_problems(info, names)
    bread <- if (is.null(problems)) safe_inverse(info) else NULL
  }
  to_natural_scale <- function(v) {
    if (is.null(v)) return(na_matrix(names))
    out <- jacobian %*% v %*% t(jacobian)
    dimnames(out) <- list(names, names)
    out
  }
  vcov <- list(
    classical = if (!is.null(hessian)) to_natural_scale(bread),
    robust = if (!is.null(hessian)) to_natural_scale(if (!is.null(bread)) bread %*% opg %*% bread),
    bhhh = to_natural_scale(safe_inverse(opg))
  )
  list(vcov = vcov, hessian = hessian, problems = problems)
}

# The classical or robust covariance of a fit whose Hessian was not computed
# (se = "bhhh"): the analytic Hessian now, on the fit's engine, with a
# message that says so.
fit_hessian_vcov <- function(fit, type) {
  message("vcov(): the fit was estimated with se = \"bhhh\", which computes no Hessian; ",
          "computing it now for the ", type, " covariance")
  engine <- fit_engine(fit)
  if (!identical(engine, fit$engine)) on.exit(engine_release(engine))
  map <- fit$map
  jacobian <- working_jacobian(map, fit$u)
  scores_working <- fit$scores %*% jacobian
  res <- engine_eval(engine, fit$theta_full, hessian = fit$model$params$free)
  hessian <- hessian_to_working(map, fit$u, res$hessian, res$gradient[map$free])
  covariances(hessian, scores_working, jacobian, map$names)$vcov[[type]]
}

# NULL when the information matrix is positive definite; otherwise the names
# of the parameters that dominate its weakest directions (min_eigen: the
# smallest eigenvalue on the correlation scale, or the smallest curvature).
hessian_problems <- function(info, names) {
  if (any(!is.finite(info))) return(list(names = names, min_eigen = NA_real_))
  curvature <- diag(info)
  if (any(curvature <= 0))
    return(list(names = names[curvature <= 0], min_eigen = min(curvature)))
  # On the correlation scale, so that the units of the data (a price in
  # millions) do not make the other directions look flat. A curvature so
  # small that the scaling overflows (a random coefficient's spread gone to
  # 0, whose log the optimizer moves) is itself the weak direction.
  inv_sd <- 1 / sqrt(curvature)
  scaled <- info * outer(inv_sd, inv_sd)
  if (any(!is.finite(scaled))) return(list(names = names[which.min(curvature)], min_eigen = 0))
  eig <- eigen(scaled, symmetric = TRUE)
  tol <- max(abs(eig$values)) * 1e-12
  weak <- which(eig$values <= tol)
  if (!length(weak)) return(NULL)
  involved <- unique(unlist(lapply(weak, function(k) {
    v <- abs(eig$vectors[, k])
    names[order(v, decreasing = TRUE)[seq_len(min(3L, length(v)))]]
  })))
  list(names = involved, min_eigen = min(eig$values))
}

safe_inverse <- function(m) {
  out <- tryCatch(solve(m), error = function(e) NULL)
  if (is.null(out) || any(!is.finite(out))) return(NULL)
  (out + t(out)) / 2
}

na_matrix <- function(names) {
  matrix(NA_real_, length(names), length(names), dimnames = list(names, names))
}
