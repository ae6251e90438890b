# Quadrature rules (src/quadrature.c, R/quadrature.R) and the engine with
# them as weighted draws: exactness of the rules, the adaptive change of
# variables, and the log-likelihood and gradient against a brute-force grid,
# simulation with 10^6 draws, numDeriv and the R reference.

quadrature_rule <- iclv:::quadrature_rule
quadrature_draws <- iclv:::quadrature_draws
adaptive_draws <- iclv:::adaptive_draws
resolve_integration <- iclv:::resolve_integration
integration_engine <- iclv:::integration_engine
engine_build <- iclv:::engine_build
engine_eval <- iclv:::engine_eval

normal_moment <- function(p) if (p %% 2 == 1) 0 else prod(seq_len(p / 2) * 2 - 1)

# All exponent vectors of d variables with total degree <= max_degree.
monomials <- function(d, max_degree) {
  grid <- as.matrix(expand.grid(rep(list(0:max_degree), d)))
  grid[rowSums(grid) <= max_degree, , drop = FALSE]
}

# Largest error of a rule on the monomials of total degree <= max_degree,
# relative to the exact moment (or absolute where it is 0 or small).
monomial_error <- function(rule, max_degree) {
  powers <- monomials(ncol(rule$points), max_degree)
  errors <- apply(powers, 1, function(p) {
    value <- sum(rule$weights * apply(rule$points, 1, function(x) prod(x^p)))
    exact <- prod(vapply(p, normal_moment, 0))
    abs(value - exact) / max(1, exact)
  })
  max(errors)
}

# ---- the rules -------------------------------------------------------------------

test_that("Gauss-Hermite rules are exact to degree 2n - 1 and match LAPACK", {
  three <- iclv:::gauss_hermite_rule(3)
  expect_equal(three$nodes, c(-sqrt(3), 0, sqrt(3)), tolerance = 1e-15)
  expect_equal(three$weights, c(1, 4, 1) / 6, tolerance = 1e-15)
  for (n in c(1, 2, 5, 20, 40, 100)) {
    rule <- iclv:::gauss_hermite_rule(n)
    expect_identical(rule$nodes, -rev(rule$nodes))
    expect_true(all(diff(rule$nodes) > 0) && all(rule$weights > 0))
    expect_equal(sum(rule$weights), 1, tolerance = 1e-15)
    for (p in seq(0, min(2 * n - 1, 60), by = 2)) {
      expect_equal(sum(rule$weights * rule$nodes^p), normal_moment(p), tolerance = 1e-13)
    }
  }
  # Independent check: eigenvalues and first eigenvector components of the
  # Jacobi matrix by LAPACK (Golub-Welsch done the textbook way).
  n <- 100
  jacobi <- matrix(0, n, n)
  jacobi[cbind(1:(n - 1), 2:n)] <- jacobi[cbind(2:n, 1:(n - 1))] <- sqrt(1:(n - 1))
  eig <- eigen(jacobi, symmetric = TRUE)
  order <- order(eig$values)
  rule <- iclv:::gauss_hermite_rule(n)
  expect_lt(max(abs(rule$nodes - eig$values[order])), 1e-12)
  expect_lt(max(abs(rule$weights - eig$vectors[1, order]^2)), 1e-14)
  # A smooth integrand: E cos(X) = exp(-1/2).
  rule <- iclv:::gauss_hermite_rule(40)
  expect_equal(sum(rule$weights * cos(rule$nodes)), exp(-0.5), tolerance = 1e-15)
  expect_length(iclv:::gauss_hermite_rule(200)$nodes, 200)
  expect_error(iclv:::gauss_hermite_rule(0), "positive whole number")
  expect_error(iclv:::gauss_hermite_rule(201), "at most 200")
})

test_that("Genz-Keister rules are nested, exact to their degrees, with known values", {
  gk <- iclv:::genz_keister_rules()
  expect_identical(gk$sizes, c(1L, 3L, 9L, 19L, 35L))
  expect_identical(gk$degrees, c(1L, 5L, 15L, 29L, 51L))
  expect_equal(gk$nodes[2], sqrt(3), tolerance = 1e-16)
  expect_equal(sort(abs(gk$nodes[4:9]))[c(1, 3, 5)],
               c(0.741095349994540853, 2.86127957605705818, 4.18495601767273229))
  expect_equal(max(gk$nodes), 9.0169397898903032)
  for (i in seq_along(gk$sizes)) {
    used <- seq_len(gk$sizes[i])
    weights <- gk$weights[, i]
    expect_true(all(weights[-used] == 0))
    expect_equal(sum(weights), 1, tolerance = 1e-14)
    for (p in seq(0, gk$degrees[i] + 1, by = 2)) {
      moment <- sum(weights[used] * gk$nodes[used]^p)
      if (p <= gk$degrees[i]) expect_equal(moment, normal_moment(p), tolerance = 1e-13)
      else expect_gt(abs(moment / normal_moment(p) - 1), 1e-9) # the degree is sharp
    }
  }
  # Published weights: the 19-point rule's negative weight at +-2.8613, and
  # the 35-point rule's weight at 0.
  at <- which(abs(gk$nodes - 2.86127957605705818) < 1e-12)
  expect_equal(gk$weights[at, 4], -0.00633722479337375712, tolerance = 1e-12)
  expect_equal(gk$weights[1, 5], 0.000514894508069213769, tolerance = 1e-12)
})

test_that("sparse grids are exact for total degree 2L - 1, with merged points", {
  for (case in list(c(d = 2, level = 6), c(d = 3, level = 5), c(d = 4, level = 3))) {
    rule <- quadrature_rule(case[["d"]], case[["level"]], "sparse")
    expect_identical(rule$type, "sparse")
    expect_equal(sum(rule$weights), 1, tolerance = 1e-13)
    expect_false(anyDuplicated(rule$points) > 0)
    expect_lt(monomial_error(rule, 2 * case[["level"]] - 1), 1e-12)
  }
  rule <- quadrature_rule(3, 5, "sparse")
  expect_true(any(rule$weights < 0))
  expect_lt(nrow(rule$points), 5^3) # far fewer points than a tensor rule of the same degree
  # In one dimension the sparse grid is the Genz-Keister rule of that degree.
  gk <- iclv:::genz_keister_rules()
  one <- quadrature_rule(1, 4, "sparse")
  expect_equal(sort(one$points[, 1]), sort(gk$nodes[1:9]))
  # A smooth integrand: E exp(a'X) = exp(|a|^2 / 2), better with each level.
  a <- c(0.3, -0.5, 0.2, 0.4)
  errors <- vapply(2:7, function(level) {
    rule <- quadrature_rule(4, level, "sparse")
    abs(sum(rule$weights * exp(rule$points %*% a)) - exp(sum(a^2) / 2))
  }, 0)
  expect_true(all(diff(log(errors)) < 0))
  expect_lt(errors[6], 1e-8)
  expect_error(quadrature_rule(3, 27, "sparse"), "levels \\(nodes\\) up to 26")
  expect_error(quadrature_rule(6, 10, "sparse", max_points = 1000), "more than 1,000 points")
})

test_that("tensor rules and the auto choice; draws repeat the rule per individual", {
  rule <- quadrature_rule(2, 7)
  expect_identical(rule$type, "tensor")
  expect_equal(dim(rule$points), c(49L, 2L))
  gh <- iclv:::gauss_hermite_rule(7)
  expect_equal(rule$points[1:7, 1], gh$nodes)
  expect_equal(rule$points[c(1, 8, 15), 2], gh$nodes[1:3])
  expect_equal(rule$weights[9], gh$weights[2] * gh$weights[2])
  expect_lt(monomial_error(rule, 13), 1e-12)
  expect_identical(quadrature_rule(4, 3)$type, "sparse")
  expect_error(quadrature_rule(3, 50), "125,000 points")
  expect_error(quadrature_rule(2, 2.5), "nodes must be a positive whole number")

  draws <- quadrature_draws(rule, 3)
  expect_equal(dim(draws), c(3L, 49L, 2L))
  for (n in 1:3) expect_identical(draws[n, , ], rule$points)
})

test_that("adaptive draws are the exact change of variables for the N(0, I) prior", {
    # f(eta) = dnorm(y; b * eta, s): the posterior is normal, so a rule centred
  # and scaled on it integrates f exactly with a single node.
  y <- c(2, -1, 0.3)
  b <- 3
  s <- c(0.05, 0.5, 1)
  post_var <- 1 / (1 + b^2 / s^2)
  post_mean <- post_var * b * y / s^2
  exact <- stats::dnorm(y, 0, sqrt(s^2 + b^2))
  centre_1d <- list(mean = matrix(post_mean), chol = array(sqrt(post_var), c(3, 1, 1)))
  for (nodes in c(1, 5)) {
    rule <- quadrature_rule(1, nodes)
    adapted <- adaptive_draws(quadrature_draws(rule, 3), rule$weights, centre_1d)
    expect_equal(dim(adapted$draws), c(3L, nodes, 1L))
    value <- rowSums(adapted$weights * stats::dnorm(y, b * adapted$draws[, , 1], s))
    expect_equal(value, exact, tolerance = 1e-13)
  }
  # Two correlated dimensions: y ~ N(B eta, diag(s^2)) with a full B, so the
  # posterior of eta is correlated. Centred with the Cholesky factor of the
  # posterior covariance, one node (and a sparse grid with negative weights)
  # is exact; centred with the marginal sds only, it is not.
  big_b <- matrix(c(2, 1.5, -0.5, 1), 2)
  s2 <- c(0.3, 0.6)
  y2 <- rbind(c(1, -0.5), c(-2, 0.4))
  precision <- diag(2) + crossprod(big_b / s2)
  post_cov <- solve(precision)
  post_mean2 <- t(post_cov %*% crossprod(big_b / s2, t(y2 / rep(s2, each = 2))))
  marginal <- big_b %*% t(big_b) + diag(s2^2)
  exact2 <- apply(y2, 1, function(v) exp(-0.5 * sum(v * solve(marginal, v))) /
                    (2 * pi * sqrt(det(marginal))))
  full <- list(mean = post_mean2, chol = array(rep(t(chol(post_cov)), each = 2), c(2, 2, 2)))
  density <- function(adapted) {
    vapply(1:2, function(n) {
      eta <- adapted$draws[n, , , drop = TRUE]
      eta <- matrix(eta, ncol = 2)
      resid <- (rep(y2[n, ], each = nrow(eta)) - eta %*% t(big_b)) / rep(s2, each = nrow(eta))
      sum(adapted$weights[n, ] * exp(-0.5 * rowSums(resid^2)) / (2 * pi * prod(s2)))
    }, numeric(1))
  }
  for (rule in list(quadrature_rule(2, 1), quadrature_rule(2, 4, "sparse"))) {
    adapted <- adaptive_draws(quadrature_draws(rule, 2), rule$weights, full)
    expect_equal(density(adapted), exact2, tolerance = 1e-12)
  }
  diagonal <- full
  diagonal$chol[, 2, 1] <- 0
  diagonal$chol[, 2, 2] <- sqrt(post_cov[2, 2])
  rule <- quadrature_rule(2, 1)
  expect_gt(max(abs(density(adaptive_draws(quadrature_draws(rule, 2), rule$weights,
                                           diagonal)) / exact2 - 1)), 0.01)
  # Centred and scaled anywhere, a fine rule still integrates against phi.
  rule <- quadrature_rule(1, 60)
  anywhere <- list(mean = matrix(c(0.7, -2)), chol = array(c(0.8, 1.5), c(2, 1, 1)))
  adapted <- adaptive_draws(quadrature_draws(rule, 2), rule$weights, anywhere)
  expect_equal(rowSums(adapted$weights), c(1, 1), tolerance = 1e-10)
  expect_equal(rowSums(adapted$weights * adapted$draws[, , 1]^2), c(1, 1), tolerance = 1e-10)
})

test_that("resolve_integration chooses the rule and explains bad settings", {
  expect_identical(resolve_integration("auto", 1),
                   list(method = "quadrature", type = "tensor", nodes = 20L, adaptive = FALSE))
  expect_identical(resolve_integration("auto", 3, nodes = 8)$nodes, 8L)
  # Adaptive rules need fewer nodes by default.
  expect_identical(resolve_integration("quadrature", 2, adaptive = TRUE)$nodes, 10L)
  expect_identical(resolve_integration("quadrature", 3, adaptive = TRUE)$nodes, 8L)
  expect_identical(resolve_integration("quadrature", 5, adaptive = TRUE)$nodes, 4L)
  expect_identical(resolve_integration("quadrature", 5)$nodes, 5L)
  expect_identical(resolve_integration("auto", 4)$method, "simulation")
  expect_identical(resolve_integration("quadrature", 5, adaptive = TRUE)[c("type", "adaptive")],
                   list(type = "sparse", adaptive = TRUE))
  expect_identical(resolve_integration("simulation", 2)$method, "simulation")
  expect_true(resolve_integration("simulation", 2, adaptive = TRUE)$adaptive)
  # The default: adaptive whenever the model has indicators.
  measured <- iclv_model("att =~ q1 + q2 + q3")
  expect_true(resolve_integration("simulation", 1, model = measured)$adaptive)
  expect_false(resolve_integration("simulation", 1, adaptive = FALSE, model = measured)$adaptive)
  expect_error(resolve_integration("quadrature", 1, nodes = 2.5), "`nodes` must be a positive")
  expect_error(resolve_integration("quadrature", 1, nodes = 0), "`nodes` must be a positive")
  expect_error(resolve_integration("quadrature", 7), "at most 6 latent variables.*has 7")
  expect_error(resolve_integration("quadrature", 3, nodes = 50), "125,000 points")
  expect_error(resolve_integration("quadrature", 4, nodes = 30), "at most 26, got 30")
  expect_error(resolve_integration("exact", 1), "must be one of")
  expect_error(resolve_integration("auto", 1, adaptive = NA), "TRUE, FALSE or NULL")
})

# ---- the engine with quadrature ---------------------------------------------------

# The brute-force reference: a 2,001-point grid on [-10, 10] (trapezoid
# weights h phi(x), spectrally accurate for these smooth integrands).
grid_engine <- function(case) {
  n_indiv <- nrow(case$prepared$ind_cat)
  grid <- seq(-10, 10, length.out = 2001)
  engine_build(case$model, case$prepared, array(rep(grid, each = n_indiv), c(n_indiv, 2001, 1)),
               stats::dnorm(grid) * (grid[2] - grid[1]), threads = 1)
}

test_that("Gauss-Hermite rules converge to the 2,001-point grid: log-likelihood and gradient", {
  case <- quadrature_case(n_indiv = 60)
  brute <- engine_eval(grid_engine(case), case$theta)
  exact <- engine_eval(engine_with_rule(case, quadrature_rule(1, 100)), case$theta)
  expect_equal(exact$loglik_indiv, brute$loglik_indiv, tolerance = 1e-11)
  expect_equal(exact$gradient, brute$gradient, tolerance = 1e-10)
  expect_identical(exact$n_nonpositive, 0L)
  forty <- engine_eval(engine_with_rule(case, quadrature_rule(1, 40)), case$theta)
  expect_lt(abs(forty$loglik - brute$loglik), 1e-4)
  expect_equal(forty$gradient, brute$gradient, tolerance = 1e-4)
  ten <- engine_eval(engine_with_rule(case, quadrature_rule(1, 10)), case$theta)
  expect_gt(abs(ten$loglik - brute$loglik), 1e-3) # the comparison can fail
})

test_that("quadrature log-likelihoods equal the R reference, negative weights included", {
  case <- multi_case(3, n_indiv = 6)
  # The references take positive weights: a signed rule is the difference
  # of the likelihoods over its positive and its negative points. First the
  # structure written by hand, then the package's.
  part_likelihood <- function(rule, keep, by_hand = TRUE) {
    draws <- quadrature_draws(list(points = rule$points[keep, , drop = FALSE]), 6)
    weights <- abs(rule$weights[keep])
    ref <- if (by_hand) by_hand_loglik(case$by_hand, case$data, draws, case$theta, weights) else
      reference_loglik(case$model, case$prepared, draws, case$theta, draw_weights = weights)
    exp(ref$loglik_indiv)
  }
  for (rule in list(quadrature_rule(3, 4, "tensor"), quadrature_rule(3, 5, "sparse"))) {
    res <- engine_eval(engine_with_rule(case, rule), case$theta)
    negative <- rule$weights < 0
    expect_identical(any(negative), rule$type == "sparse")
    for (by_hand in c(TRUE, FALSE)) {
      ref <- part_likelihood(rule, !negative, by_hand)
      if (any(negative)) ref <- ref - part_likelihood(rule, negative, by_hand)
      expect_equal(res$loglik_indiv, log(ref), tolerance = 1e-10)
    }
  }
})

test_that("quadrature agrees with simulation on 10^6 draws within simulation error", {
  # 10 batches of 10^5 pseudo-random draws: the batch means of each
  # individual's likelihood give the 10^6-draw estimate and its standard error.
  simulated <- function(case) {
    n_indiv <- nrow(case$prepared$ind_cat)
    batch <- vapply(1:10, function(b) {
      draws <- iclv_draws(n_indiv, 1e5, length(case$model$latent), type = "pseudo", seed = b)
      engine_eval(engine_build(case$model, case$prepared, draws, threads = 2), case$theta,
                  gradient = FALSE)$loglik_indiv
    }, numeric(n_indiv))
    likelihood <- exp(batch)
    list(loglik_indiv = log(rowMeans(likelihood)),
         se_indiv = apply(likelihood, 1, stats::sd) / sqrt(10) / rowMeans(likelihood))
  }
  check <- function(engine, case, sim) {
    quad <- engine_eval(engine, case$theta, gradient = FALSE)
    expect_lt(max(abs(quad$loglik_indiv - sim$loglik_indiv) / sim$se_indiv), 4.5)
    expect_lt(abs(quad$loglik - sum(sim$loglik_indiv)), 4 * sqrt(sum(sim$se_indiv^2)))
  }
  case <- quadrature_case(n_indiv = 4, seed = 3)
  check(engine_with_rule(case, quadrature_rule(1, 40)), case, simulated(case))
  case <- multi_case(3, n_indiv = 3, seed = 4)
  sim <- simulated(case)
  check(engine_with_rule(case, quadrature_rule(3, 20)), case, sim)
  adaptive_sparse <- list(method = "quadrature", type = "sparse", nodes = 8L, adaptive = TRUE)
  check(integration_engine(case$model, case$prepared, adaptive_sparse, case$theta,
                           threads = 1)$engine, case, sim)
})

test_that("quadrature gradients match numDeriv (tensor, and sparse with negative weights)", {
  skip_if_not_installed("numDeriv")
  case <- multi_case(2, n_indiv = 10, seed = 5)
  free <- case$model$params$free
  check_gradient <- function(engine) {
    res <- engine_eval(engine, case$theta)
    f <- function(th) {
      theta <- case$theta
      theta[free] <- th
      engine_eval(engine, theta, gradient = FALSE)$loglik
    }
    expect_equal(res$gradient[free], numDeriv::grad(f, case$theta[free]), tolerance = 1e-6)
  }
  check_gradient(engine_with_rule(case, quadrature_rule(2, 8)))
  sparse <- quadrature_rule(2, 5, "sparse")
  expect_true(any(sparse$weights < 0))
  check_gradient(engine_with_rule(case, sparse))
  # Adaptive: at a fixed centring the rule is a fixed set of weighted draws.
  adaptive <- integration_engine(case$model, case$prepared,
                                 resolve_integration("quadrature", 2, nodes = 6, adaptive = TRUE),
                                 case$theta, threads = 1)
  check_gradient(adaptive$engine)
})

test_that("adaptive quadrature with few nodes equals the plain rule with many to 1e-6", {
  # Sharp, smooth posteriors (sd about 0.12): six continuous indicators with
  # error sd 0.3, and a choice part.
  items <- paste0("y", 1:6)
  model <- iclv_model(paste("att =~", paste(items, collapse = " + ")),
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ asc_B + b_price * price_B, C = ~ 0),
    choice = "choice", id = "id", indicators = "continuous")
  theta <- stats::setNames(model$params$start, model$params$name)
  theta[paste0(items, "~~", items)] <- 0.3
  theta[c("asc_A", "asc_B", "b_price", "b_att")] <- c(0.3, -0.2, -0.8, 1.5)
  data <- iclv_simulate(model, theta = theta[model$params$free], n_indiv = 30, n_tasks = 3,
                        seed = 2)
  case <- list(model = model, prepared = iclv:::prepare_data(model, data),
               theta = attr(data, "theta"))
  fine_engine <- grid_engine(case)
  fine <- engine_eval(fine_engine, case$theta)
  plain <- engine_eval(engine_with_rule(case, quadrature_rule(1, 100)), case$theta)
  expect_gt(max(abs(plain$loglik_indiv - fine$loglik_indiv)), 0.01) # too sharp for 100 nodes
  settings <- resolve_integration("quadrature", 1, nodes = 10, adaptive = TRUE)
  adaptive <- integration_engine(case$model, case$prepared, settings, case$theta, threads = 1)
  expect_lt(adaptive$steps, 20L)
  res <- engine_eval(adaptive$engine, case$theta)
  expect_lt(max(abs(res$loglik_indiv - fine$loglik_indiv)), 1e-6)
  expect_equal(res$gradient, fine$gradient, tolerance = 1e-6)
  # It is centred on the posterior.
  fine_post <- iclv:::engine_predict(fine_engine, case$theta, "eta")
  expect_equal(adaptive$points$centre$mean[, 1], fine_post$mean[1, ], tolerance = 1e-5)
  expect_equal(adaptive$points$centre$chol[, 1, 1], fine_post$sd[1, ], tolerance = 1e-5)

  # Nine ordered indicators (the benchmark's measurement model): adaptive 10
  # nodes against 200 plain nodes.
  case <- quadrature_case(n_indicators = 9, n_indiv = 30, seed = 6)
  fine <- engine_eval(engine_with_rule(case, quadrature_rule(1, 200)), case$theta)
  settings <- resolve_integration("quadrature", 1, nodes = 10, adaptive = TRUE)
  adaptive <- integration_engine(case$model, case$prepared, settings, case$theta, threads = 1)
  res <- engine_eval(adaptive$engine, case$theta)
  expect_lt(max(abs(res$loglik_indiv - fine$loglik_indiv)), 1e-6)

  # Two latent variables: an adaptive 10 x 10 rule against a plain 60 x 60 one.
  case2 <- multi_case(2, n_indiv = 10, seed = 7)
  fine2 <- engine_eval(engine_with_rule(case2, quadrature_rule(2, 60)), case2$theta)
  adaptive2 <- integration_engine(case2$model, case2$prepared,
                                  resolve_integration("quadrature", 2, nodes = 10, adaptive = TRUE),
                                  case2$theta, threads = 1)
  expect_lt(max(abs(engine_eval(adaptive2$engine, case2$theta)$loglik_indiv -
                      fine2$loglik_indiv)), 1e-6)
})

test_that("check_integration compares the fit's log-likelihood with a finer rule", {
  case <- quadrature_case(n_indiv = 40, seed = 8)
  make_fit <- function(integration, engine, draws, centre = NULL) {
    structure(list(model = case$model, prepared = case$prepared, theta_full = case$theta,
                   loglik = engine_eval(engine, case$theta, gradient = FALSE)$loglik,
                   threads = 1L, draws = draws, draw_type = "halton", engine = engine,
                   n_indiv = 40L, n_draws = if (is.null(draws)) NA else dim(draws)[2L],
                   integration = integration, centre = centre),
              class = "iclv_fit")
  }
  rule <- quadrature_rule(1, 30)
  fit <- make_fit(list(method = "quadrature", type = "tensor", nodes = 30L, adaptive = FALSE),
                  engine_with_rule(case, rule), quadrature_draws(rule, 40))
  res <- check_integration(fit)
  expect_identical(names(res), c("method", "adaptive", "nodes", "nodes_finer", "loglik",
                                 "loglik_finer", "difference", "std_error"))
  expect_identical(res$method, "quadrature")
  expect_identical(res$nodes_finer, 60L)
  expect_lt(abs(res$difference), 1e-4)
  expect_equal(res$difference, res$loglik_finer - res$loglik)
  fine <- engine_eval(engine_with_rule(case, quadrature_rule(1, 60)), case$theta)$loglik
  expect_equal(res$loglik_finer, fine, tolerance = 1e-12)

  settings <- resolve_integration("quadrature", 1, nodes = 6, adaptive = TRUE)
  adaptive <- integration_engine(case$model, case$prepared, settings, case$theta, threads = 1)
  fit <- make_fit(settings, adaptive$engine, NULL, centre = adaptive$points$centre)
  res <- check_integration(fit)
  expect_identical(res$nodes_finer, 12L)
  expect_lt(abs(res$difference), 1e-3)
  expect_identical(check_integration(fit, nodes = 7)$nodes_finer, 7L)

  draws <- iclv_draws(40, 50, 1)
  fit <- make_fit(NULL, engine_build(case$model, case$prepared, draws, threads = 1), draws)
  res <- check_integration(fit)
  expect_identical(res[c("method", "nodes", "nodes_finer")],
                   data.frame(method = "simulation", nodes = 50L, nodes_finer = 200L))
  expect_lt(abs(res$difference), 1)
  # The importance-sampling standard error of plain draws from the prior.
  expect_gt(res$std_error, 0)
  expect_lt(res$std_error, 5)
  expect_error(check_integration(list()), "must be an iclv_fit")
})

test_that("iclv() and iclv_loglik() integrate by quadrature and say so", {
  model <- iclv_model("att =~ q1 + q2 + q3 + q4",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att, B = ~ b_price * price_B),
    choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = 200, n_tasks = 2, seed = 21)
  free <- iclv_parameters(model)$free
  theta <- attr(data, "theta")[free]
  plain <- iclv_loglik(model, data, theta, integration = "quadrature", nodes = 30,
                       adaptive = FALSE, threads = 1)
  adapt <- iclv_loglik(model, data, theta, integration = "quadrature", nodes = 8,
                       adaptive = TRUE, threads = 1)
  auto <- iclv_loglik(model, data, theta, integration = "auto", nodes = 30, adaptive = FALSE,
                      threads = 1)
  expect_equal(auto$loglik, plain$loglik)
  # Against 200 plain nodes (exact to rounding here): 8 adaptive nodes are
  # within 1e-5 per person, 20 within 1e-9; 30 plain nodes within 1e-4.
  fine <- iclv_loglik(model, data, theta, integration = "quadrature", nodes = 200,
                      adaptive = FALSE, threads = 1)
  adapt20 <- iclv_loglik(model, data, theta, integration = "quadrature", nodes = 20,
                         threads = 1)
  expect_lt(max(abs(adapt$loglik_indiv - fine$loglik_indiv)), 1e-5)
  expect_lt(abs(adapt$loglik - fine$loglik), 1e-4)
  expect_lt(max(abs(adapt20$loglik_indiv - fine$loglik_indiv)), 1e-9)
  expect_lt(max(abs(plain$loglik_indiv - fine$loglik_indiv)), 1e-4)
  fit <- iclv(model, data, integration = "quadrature", nodes = 8, adaptive = TRUE,
              control = iclv_control(threads = 1))
  expect_equal(fit$integration$method, "quadrature")
  expect_true(fit$integration$adaptive)
  expect_match(summary(fit)$integration, "adaptive Gauss-Hermite product rule, nodes per latent variable 8")
  expect_output(print(summary(fit)), "Integration: adaptive Gauss-Hermite")
  check <- check_integration(fit)
  expect_lt(abs(check$difference), 1e-4)
  # A saved and reloaded fit rebuilds its engine with the same weights.
  path <- tempfile(fileext = ".rds")
  saveRDS(fit, path)
  again <- readRDS(path)
  expect_equal(predict(again, type = "lv"), predict(fit, type = "lv"))
  expect_match(summary(fit)$integration, "difference to 12 nodes per latent variable")
})
