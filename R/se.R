# Standard errors: the Hessian by central differences of the analytic
# gradient on the working scale, the per-individual scores, and the three
# covariance matrices mapped to the natural scale by the delta method.

# `optimum`: evaluate_at() at the estimates, shared with the fit.
standard_errors <- function(engine, model, map, optimum, step) {
  engine_memory_check(engine, "hessian")
  u <- optimum$u
  n <- length(u)
  grad_at <- function(v) {
    theta_full <- theta_from_working(model, map, v)
    gradient_to_working(map, v, engine_eval(engine, theta_full)$gradient[map$free])
  }
  jac <- optimum$jacobian
  scores_working <- optimum$scores %*% jac
  # Steps relative to each parameter's size, or to the scale its scores give
  # when that is far below 1 (a coefficient of a variable in millions).
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
  hessian <- (hessian + t(hessian)) / 2
  engine_memory_check(engine, "hessian")

  info <- -hessian
  opg <- crossprod(scores_working)
  problems <- hessian_problems(info, map$names)
  bread <- if (is.null(problems)) safe_inverse(info) else NULL
  meat_inv <- safe_inverse(opg)
  working <- list(
    classical = bread,
    robust = if (!is.null(bread)) bread %*% opg %*% bread else NULL,
    bhhh = meat_inv
  )
  natural <- lapply(working, function(v) {
    if (is.null(v)) return(na_matrix(map$names))
    out <- jac %*% v %*% t(jac)
    dimnames(out) <- list(map$names, map$names)
    out
  })
  list(vcov = natural, hessian = hessian, problems = problems, scores = optimum$scores)
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
  # millions) do not make the other directions look flat.
  eig <- eigen(info / sqrt(outer(curvature, curvature)), symmetric = TRUE)
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
