# The working scale the optimizer sees (notes/architecture.md, "Working
# scale"): free scales as logs, monotone threshold sets as a first value and
# log increments (symmetric sets: log increments from 0). Everything else is
# the identity. The engine always works on the natural scale; this file maps
# parameters, gradients and covariance matrices between the two.

# Parameters that are positive: free ones are logs on the working scale.
scale_types <- c("scale", "lv_scale", "random_spread")

# The map of a model: which free parameters are logs and which form sets.
working_map <- function(model) {
  params <- model$params
  free <- which(params$free)
  position <- match(seq_len(nrow(params)), free) # row -> position in the free vector
  is_log <- params$type[free] %in% scale_types

  rows_in_sets <- unlist(lapply(model$threshold_sets, `[[`, "par"))
  shared_rows <- rows_in_sets[duplicated(rows_in_sets)]
  sets <- list()
  for (set in model$threshold_sets) {
    rows <- set$par
    if (!all(params$free[rows]) || any(rows %in% shared_rows)) next
    sets[[length(sets) + 1L]] <- list(pos = position[rows], symmetric = set$scheme == "symmetric")
  }
  structure(list(free = free, is_log = is_log, sets = sets, n_full = nrow(params),
                 names = params$name[free]),
            class = "iclv_working_map")
}

# Natural-scale free parameters from the working vector u.
to_natural <- function(map, u) {
  theta <- u
  theta[map$is_log] <- exp(u[map$is_log])
  for (set in map$sets) {
    v <- u[set$pos]
    steps <- if (set$symmetric) exp(v) else c(v[1L], exp(v[-1L]))
    theta[set$pos] <- cumsum(steps)
  }
  theta
}

# The working vector from natural-scale free parameters inside the domain
# (working_from_theta() checks it first).
to_working <- function(map, theta) {
  u <- theta
  u[map$is_log] <- log(theta[map$is_log])
  for (set in map$sets) {
    v <- theta[set$pos]
    steps <- if (set$symmetric) diff(c(0, v)) else c(v[1L], diff(v))
    u[set$pos] <- if (set$symmetric) log(steps) else c(steps[1L], log(steps[-1L]))
  }
  u
}

# The gradient with respect to u from the gradient with respect to the
# natural free parameters (chain rule without forming the Jacobian).
gradient_to_working <- function(map, u, grad) {
  g <- grad
  g[map$is_log] <- grad[map$is_log] * exp(u[map$is_log])
  for (set in map$sets) {
    tail_sums <- rev(cumsum(rev(grad[set$pos])))
    scale <- exp(u[set$pos])
    if (!set$symmetric) scale[1L] <- 1
    g[set$pos] <- tail_sums * scale
  }
  g
}

# The Jacobian d theta / d u (free x free), for the delta method.
working_jacobian <- function(map, u) {
  n <- length(u)
  jac <- diag(1, n)
  diag(jac)[map$is_log] <- exp(u[map$is_log])
  for (set in map$sets) {
    scale <- exp(u[set$pos])
    if (!set$symmetric) scale[1L] <- 1
    k <- length(set$pos)
    block <- outer(seq_len(k), seq_len(k), `>=`) * rep(scale, each = k)
    jac[set$pos, set$pos] <- block
  }
  dimnames(jac) <- list(map$names, map$names)
  jac
}

# theta_full (every row of the table) with the free entries replaced.
fill_theta <- function(model, map, theta_free) {
  theta <- model$params$start
  theta[map$free] <- theta_free
  theta
}

# theta_full from the optimizer's working vector: the one path from what the
# optimizer moves to what the engine evaluates.
theta_from_working <- function(model, map, u) fill_theta(model, map, to_natural(map, u))

# The optimizer's working vector from theta_full, the one path back; theta
# must be inside the domain.
working_from_theta <- function(model, map, theta_full) {
  check_theta_domain(model, theta_full)
  to_working(map, theta_full[map$free])
}

# The domain of the parameters, checked in one place: scales must be
# positive and each indicator's thresholds must increase. Errors name the
# parameters.
check_theta_domain <- function(model, theta_full) {
  params <- model$params
  is_scale <- params$type %in% scale_types
  bad <- is_scale & !(theta_full > 0)
  if (any(bad))
    stop("scale parameter(s) must be positive: ",
         paste0("`", params$name[bad], "` = ", trimws(format(theta_full[bad])), collapse = ", "),
         call. = FALSE)
  plan <- model$plan
  for (k in seq_along(model$indicators)) {
    idx <- seq_csr(plan$ind_thr_ptr, k)
    if (length(idx) < 2L) next
    sign <- plan$ind_thr_sign[idx]
    rows <- plan$ind_thr_par[idx] + 1L
    tau <- sign * theta_full[rows]
    if (any(diff(tau) <= 0)) {
      # Mirrored (symmetric) thresholds show as minus their parameter, the
      # middle one of an odd set as 0.
      shown <- ifelse(sign == 0, "0", paste0(ifelse(sign < 0, "-", ""), "`", params$name[rows],
                                            "` = ", trimws(format(tau, digits = 4))))
      stop("the thresholds of indicator `", model$indicators[k], "` must increase, got ",
           paste(shown, collapse = ", "), call. = FALSE)
    }
  }
  invisible(TRUE)
}
