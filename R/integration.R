# The points an engine integrates the latent variables' errors eta ~ N(0, I)
# with: simulation draws or a quadrature rule (the "base points" z_r, with
# weights w_r that sum to 1), used as they are or moved to each person's
# posterior (adaptive integration).
#
# Adaptive integration. Person n's likelihood is an integral over eta of
# p(y_n | eta) phi_D(eta). With a location m_n and a lower-triangular factor
# C_n (the posterior mean of eta and a Cholesky factor of its posterior
# covariance) put eta_nr = m_n + C_n z_r; then
#   L_n = integral p(y_n | m_n + C_n z) phi_D(m_n + C_n z) |det C_n| dz
#       ~ sum_r w_r |det C_n| phi_D(eta_nr) / phi_D(z_r) p(y_n | eta_nr),
# importance sampling with a Gaussian proposal for draws, and Naylor-Smith
# adaptive Gauss-Hermite for rules (exact when the integrand is Gaussian times
# a polynomial of the rule's degree). The factor in front of p(y_n | eta_nr)
# becomes the engine's per-person weight of point r (a sign kept apart for
# the negative weights of sparse grids). For a fixed centre (m_n, C_n) the
# approximation is a smooth function of theta, so the analytic gradient holds
# the centre constant; the centre is refreshed between optimisation rounds
# (see iclv(), section "Integration").

# Validated integration settings for a model with n_dim latent variables:
# list(method = "quadrature" or "simulation", type = "tensor" / "sparse" (NA
# for simulation), nodes (NA for simulation), adaptive). `adaptive = NULL`
# takes default_adaptive(); `nodes = NULL` takes default_quadrature_nodes().
resolve_integration <- function(integration = c("simulation", "quadrature", "auto"), n_dim,
                                nodes = NULL, adaptive = NULL, model = NULL) {
  methods <- c("simulation", "quadrature", "auto")
  if (identical(integration, methods)) integration <- "simulation"
  if (!is.character(integration) || length(integration) != 1L || is.na(integration) ||
      !integration %in% methods)
    stop("`integration` must be one of ", paste0("\"", methods, "\"", collapse = ", "),
         ", got ", describe_draw_arg(integration), call. = FALSE)
  if (is.null(adaptive)) adaptive <- default_adaptive(model)
  if (!is.logical(adaptive) || length(adaptive) != 1L || is.na(adaptive))
    stop("`adaptive` must be TRUE, FALSE or NULL (automatic), got ",
         describe_draw_arg(adaptive), call. = FALSE)
  n_dim <- check_whole(n_dim, "the number of latent variables")
  if (!is.null(nodes)) nodes <- check_whole(nodes, "`nodes`")

  method <- integration
  if (method == "auto") method <- if (n_dim <= 3L) "quadrature" else "simulation"
  # Without latent variables (a mixed logit) draws are not moved: see
  # moves_draws().
  if (method == "simulation")
    return(list(method = "simulation", type = NA_character_, nodes = NA_integer_,
                adaptive = adaptive && moves_draws(model)))
  if (n_dim > quadrature_max_dim)
    stop("quadrature supports at most ", quadrature_max_dim, " latent variables (sparse ",
         "grids); this model has ", n_dim, ": use integration = \"simulation\"", call. = FALSE)
  type <- if (n_dim <= 3L) "tensor" else "sparse"
  if (is.null(nodes)) nodes <- default_quadrature_nodes(n_dim, type, adaptive)
  check_rule_size(n_dim, nodes, type)
  list(method = "quadrature", type = type, nodes = nodes, adaptive = adaptive)
}

# Adaptive integration unless the user says otherwise: whenever a latent
# variable is measured by indicators its posterior is narrower than its prior,
# and plain points waste most of their weight (with 38 items on five latent
# variables, 100 plain draws bias the log-likelihood by hundreds of units).
# Random coefficients alone (a mixed logit) are integrated with plain draws
# (moves_draws()).
default_adaptive <- function(model) {
  if (is.null(model)) return(FALSE)
  length(model$latent) > 0L && length(model$indicators) > 0L
}

# Whether adaptive draws are moved to the posteriors: not in a model without
# latent variables (a mixed logit), whose draws stay plain even when
# `adaptive = TRUE` asks. A random coefficient's posterior often keeps a
# prior-like tail (a person who always took the cheapest alternative is as
# likely under any more negative price coefficient), and a normal proposal
# narrower than that tail gives importance weights of infinite variance:
# bench/mixed_accuracy.R (1,000 people x 8 tasks), 100 moved draws put the
# log-likelihood 7.2 units below 5,000 plain ones with a neg_lognormal
# coefficient (0.8-2.9 with the others), plain ones 0.04-1.1. In a hybrid
# model the latent variables' narrow posteriors decide and every dimension
# moves: on the seed-scale model with two random coefficients, a fit with
# the coefficients left at the prior ended 326 units below the one with
# them moved, and its re-centring never settled. Adaptive quadrature always
# moves every dimension.
moves_draws <- function(model) is.null(model) || length(model$latent) > 0L

# The points of an integration: a points object (R/points.R) with its type
# (a label), recipe (how to make the base again: draw settings or the
# rule's settings; NULL for the user's own draws, which are then kept),
# adaptive, and centre (NULL until adapted).
integration_points <- function(model, settings, draws, draw_type, seed, n_indiv) {
  n_dim <- n_dims(model)
  if (settings$method == "simulation") {
    drawn <- resolve_draws(draws, draw_type, seed, n_indiv,
                           structure(n_dim, dims = model_dims(model)))
    points <- if (is.null(drawn$recipe)) array_points(drawn$array, settings$adaptive) else
      draws_points(drawn$recipe, n_indiv, n_dim, settings$adaptive)
    return(c(points, list(type = paste0(if (settings$adaptive) "adaptive ", drawn$type, " draws"),
                          recipe = drawn$recipe, adaptive = settings$adaptive, centre = NULL)))
  }
  recipe <- list(settings = settings)
  points <- c(points_from_recipe(recipe, n_indiv, n_dim),
              list(type = sprintf("%sGauss-Hermite %s",
                                  if (settings$adaptive) "adaptive " else "",
                                  if (settings$type == "tensor") "product rule" else "sparse grid"),
                   recipe = recipe, adaptive = settings$adaptive, centre = NULL))
  # A sparse grid's large negative weights make its posterior moments
  # unreliable: its centre is found with draws instead.
  if (settings$adaptive && settings$type == "sparse")
    points$centring <- centring_points(n_indiv, n_dim)
  points
}

# The points that find the centres of a sparse grid: 200 standardised
# Halton draws per person.
centring_points <- function(n_indiv, n_dim, n_draws = 200L) {
  draws_points(list(n_draws = n_draws, draw_type = "halton", seed = 1L), n_indiv, n_dim,
               standardise = TRUE)
}

# The base points again from their recipe (a fit keeps the recipe, not the
# points, so that it stays small when saved): a points object.
points_from_recipe <- function(recipe, n_indiv, n_dim, adaptive = FALSE) {
  if (!is.null(recipe$settings))
    return(rule_points(quadrature_rule(n_dim, recipe$settings$nodes, recipe$settings$type),
                       n_indiv))
  draws_points(recipe, n_indiv, n_dim, standardise = adaptive)
}

# The base points z (N x R x D) moved to eta_nr = m_n + C_n z_nr, with
# weights w_r |det C_n| phi_D(eta_nr) / phi_D(z_nr) (log scale, the sign of
# w_r kept): the move the engine makes in place (src/points.c), stated in R
# for the tests, which compare the two. centre: list(mean = N x D, chol = N x D x D, lower-triangular
# C_n[d, k] in chol[n, d, k]). Returns list(draws, weights = N x R).
adaptive_draws <- function(base, weights, centre) {
  dims <- dim(base)
  n_dim <- dims[3L]
  draws <- array(0, dims)
  log_weight <- matrix(log(abs(weights)), dims[1L], dims[2L], byrow = TRUE)
  for (d in seq_len(n_dim)) {
    eta <- matrix(centre$mean[, d], dims[1L], dims[2L])
    for (k in seq_len(d)) eta <- eta + centre$chol[, d, k] * base[, , k]
    draws[, , d] <- eta
    log_weight <- log_weight + log(centre$chol[, d, d]) - 0.5 * eta^2 + 0.5 * base[, , d]^2
  }
  # A weight below the smallest double would be 0, which the engine refuses;
  # at that size its point contributes nothing anyway.
  out <- pmax(exp(log_weight), .Machine$double.xmin)
  out <- out * rep(sign(weights), each = dims[1L])
  list(draws = draws, weights = out)
}

# An engine for integration settings from resolve_integration(), with
# adaptive points centred on the posteriors at theta_full. Returns
# list(engine, points, steps) as adapt_points() does.
integration_engine <- function(model, prepared, settings, theta_full, threads = NULL,
                               draws = 100L, draw_type = "halton", seed = 1L, backend = "cpu") {
  points <- integration_points(model, settings, draws, draw_type, seed, nrow(prepared$ind_cat))
  build <- function(points)
    engine_build(model, prepared, points, threads = threads, backend = backend)
  if (points$adaptive) return(adapt_points(points, theta_full, build))
  list(engine = build(points), points = points, steps = 0L)
}
