# The centres of adaptive integration (see R/integration.R for the change of
# variables): each person's posterior mean of the latent variables' errors
# and a Cholesky factor of their posterior covariance, found by iterating
# from the prior with the engine's own weights of its points (vignette
# "likelihood", section 3.2).

# The prior as a centre: m_n = 0, C_n = I.
prior_centre <- function(n_indiv, n_dim) {
  chol <- array(0, c(n_indiv, n_dim, n_dim))
  for (d in seq_len(n_dim)) chol[, d, d] <- 1
  list(mean = matrix(0, n_indiv, n_dim), chol = chol)
}

# The next centre from the posterior weights of the points the engine holds
# (those of `centre`; their rule's weights give `target`, target_ess()):
# the weighted mean of eta and the Cholesky factor of its weighted
# covariance. Far from the posterior
# (the first steps from the prior) nearly all weight falls on one point and
# these moments are meaningless; the weights are then tempered (raised to a
# power beta < 1, chosen per person so that the effective sample size is
# `target`), which gives the moments of a distribution between the
# points' spread and the posterior, so the centre moves towards the
# posterior without collapsing. Near the posterior beta = 1. The engine
# measures these moments over its own points (src/points.c; tempered_weights()
# states the tempering in R), in the place of the points' weights, which are
# then spent: the engine's points must be moved again before it is
# evaluated. People whose
# covariance is not positive definite keep their centre. Returns the centre
# with `step` (the move of each mean) and `moved` (person_change()) added.
next_centre <- function(engine, theta_full, centre, target) {
  moments <- .Call(C_engine_point_moments, engine, as.double(theta_full), as.double(target))
  mean <- moments$mean
  cov <- moments$cov
  factor <- cholesky_rows(cov)
  ok <- is.finite(rowSums(mean)) & attr(factor, "ok")
  out <- centre
  out$mean[ok, ] <- mean[ok, ]
  out$chol[ok, , ] <- factor[ok, , , drop = FALSE]
  # The moments measured with a few hundred points respond to the centre
  # they are measured from, and a full step can flip between two centres:
  # a person whose mean turned back (its step points against the last one)
  # moves halfway instead.
  step <- out$mean - centre$mean
  turned <- ok & rowSums(step * (centre$step %||% 0)) < 0
  out$mean[turned, ] <- centre$mean[turned, ] + step[turned, ] / 2
  out$chol[turned, , ] <- (centre$chol[turned, , , drop = FALSE] +
                             out$chol[turned, , , drop = FALSE]) / 2
  out$step <- out$mean - centre$mean
  out$moved <- person_change(out, centre)
  out
}

# The effective sample size the tempered weights keep: enough points to
# estimate a covariance in n_dim dimensions, at most a quarter of the points
# and half the rule's own effective size (a Gauss-Hermite rule's unequal
# weights have an effective size well below its number of nodes even on a
# flat integrand, and must not be tempered at the posterior).
target_ess <- function(rule_weights, n_dim) {
  rule_ess <- row_ess(matrix(abs(rule_weights), 1L))
  min(length(rule_weights) / 4, rule_ess / 2, max(4 * n_dim, 10))
}

# Normalised weights exp(beta * (l - max)) per row of log_weight (N x R),
# with beta = 1 where that keeps an effective sample size of at least
# `target`, else the beta (found by bisection) that gives `target`.
# Attribute "tempered": where beta < 1.
tempered_weights <- function(log_weight, target) {
  shifted <- log_weight - apply(log_weight, 1L, max)
  beta <- rep(1, nrow(shifted))
  low <- row_ess(exp(shifted)) < target
  if (any(low)) {
    lower <- rep(0, sum(low))
    upper <- rep(1, sum(low))
    sub <- shifted[low, , drop = FALSE]
    for (i in 1:40) {
      mid <- (lower + upper) / 2
      w <- exp(mid * sub)
      enough <- row_ess(w) >= target
      lower[enough] <- mid[enough]
      upper[!enough] <- mid[!enough]
    }
    beta[low] <- lower
  }
  w <- exp(beta * shifted)
  structure(w / rowSums(w), tempered = beta < 1)
}

# The effective sample size (sum w)^2 / sum w^2 of each row of weights.
row_ess <- function(w) rowSums(w)^2 / rowSums(w^2)

# Lower Cholesky factors of N symmetric D x D matrices (an N x D x D
# array), all at once; attribute "ok" is FALSE where a matrix is not
# positive definite (its factor is then NA).
cholesky_rows <- function(cov) {
  dims <- dim(cov)
  n_dim <- dims[2L]
  out <- array(0, dims)
  ok <- rep(TRUE, dims[1L])
  for (j in seq_len(n_dim)) {
    pivot <- cov[, j, j]
    for (k in seq_len(j - 1L)) pivot <- pivot - out[, j, k]^2
    ok <- ok & is.finite(pivot) & pivot > 1e-12 * pmax(1, cov[, j, j])
    out[, j, j] <- sqrt(pmax(pivot, 0))
    for (i in seq_len(n_dim)[-seq_len(j)]) {
      value <- cov[, i, j]
      for (k in seq_len(j - 1L)) value <- value - out[, i, k] * out[, j, k]
      out[, i, j] <- value / out[, j, j]
    }
  }
  structure(out, ok = ok)
}

# How far each person's centre moved: the largest change in the mean in
# units of the old scale, or of a log scale.
person_change <- function(new, old) {
  n_dim <- ncol(old$mean)
  change <- rep(0, nrow(old$mean))
  for (d in seq_len(n_dim)) {
    scale_old <- old$chol[, d, d]
    change <- pmax(change, abs(new$mean[, d] - old$mean[, d]) / scale_old,
                   abs(log(new$chol[, d, d] / scale_old)))
  }
  change
}

# Centres the points on each person's posterior at theta_full: starting from
# points$centre (the prior when NULL), moves the engine's points, takes the
# posterior moments, and repeats until the centre moves less than `tol` (at
# most `steps` times). `build(points)` makes an engine; `engine`, when
# given, is an engine on these points to move instead of building one.
# `tidy()` runs after each step (iclv() hands R's garbage of the step back
# on large problems: otherwise 50 steps of people x dimensions^2 arrays pile
# up about 50 MB of it at 3,260 people before R collects it).
# Returns list(engine, points (with the centre its engine uses), steps).
adapt_points <- function(points, theta_full, build, engine = NULL, steps = 50L, tol = 1e-7,
                         tidy = function() invisible()) {
  # The parameters first (iclv() passes the data-driven start, whose
  # correlations leave garbage), so that it is handed back before the engine.
  force(theta_full)
  centre <- points$centre %||% prior_centre(points$n_indiv, points$n_dim)
  # The points the centre is measured with (the integration's own, or draws
  # for a sparse grid), moved in one engine from step to step.
  measure <- points$centring %||% points
  target <- target_ess(measure$weights, points$n_dim)
  measuring <- if (is.null(points$centring)) engine
  for (step in seq_len(steps)) {
    measure$centre <- centre
    measuring <- if (is.null(measuring)) build(measure) else engine_set_points(measuring, measure)
    if (is_sharded(measuring)) {
      # On a cluster the workers take the steps, each on its own people.
      adapted <- sharded_adapt(measuring, theta_full, target, step, steps, tol)
      centre <- adapted$centre
      step <- adapted$step
      break
    }
    if (step == steps) break
    updated <- next_centre(measuring, theta_full, centre, target)
    tidy()
    change <- max(updated$moved)
    if (change < tol) {
      # The measurement spent the points' weights: back to this centre's.
      measuring <- engine_set_points(measuring, measure)
      break
    }
    centre <- updated
  }
  points$centre <- centre
  if (is.null(points$centring)) return(list(engine = measuring, points = points, steps = step))
  engine_release(measuring)
  engine <- if (is.null(engine)) build(points) else engine_set_points(engine, points)
  list(engine = engine, points = points, steps = step)
}
