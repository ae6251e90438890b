# Integration points as the engine makes them (src/points.c). A points
# object says how to make the base points z_r, not the points themselves:
# the engine fills its own array from a draws recipe (generated in C), from
# the user's array (copied once) or from a quadrature rule, standardises
# each person's draws in place when the integration is adaptive, and moves
# them to each person's posterior, eta_nr = m_n + C_n z_r with their
# weights, from the centre (mean N x D, Cholesky factor N x D x D). No
# N x R x D array of points is made in R on the way to an estimate; an
# engine follows a new centre in place (engine_set_points()).
#
# A points object: list(source = list(kind = "draws", draw_type, scramble,
# seed, first (for a cluster's shard: the place of its first person in the
# whole sample, 0 when absent); "array", array; or "rule", nodes (R x D); and
# standardise), weights
# (length R, summing to 1, negative for some sparse-grid nodes), n_draws,
# n_indiv, n_dim, type (a label), recipe (how to make them again; NULL for
# the user's array), adaptive, centre (NULL, or the centre the engine moves
# them to), centring (for sparse grids: the points that find the centre)).

# Points from simulation draws made with a recipe list(n_draws, draw_type,
# seed) (draw_type one of draw_types_all), standardised per person when
# `standardise`.
draws_points <- function(recipe, n_indiv, n_dim, standardise = FALSE) {
  type <- sub("^scrambled_", "", recipe$draw_type)
  args <- check_draw_args(n_indiv, recipe$n_draws, n_dim, type, recipe$seed,
                          antithetic = FALSE, scramble = grepl("^scrambled_", recipe$draw_type))
  if (standardise) check_standardisable(args$n_draws, n_dim)
  list(source = list(kind = "draws", draw_type = args$type, scramble = args$scramble,
                     seed = args$seed, standardise = standardise),
       weights = rep(1 / args$n_draws, args$n_draws), n_draws = args$n_draws,
       n_indiv = args$n_indiv, n_dim = args$n_dim)
}

# Points from the user's array of draws (checked by check_user_draws()).
array_points <- function(draws, standardise = FALSE) {
  dims <- dim(draws)
  if (standardise) check_standardisable(dims[2L], dims[3L])
  list(source = list(kind = "array", array = draws, standardise = standardise),
       weights = rep(1 / dims[2L], dims[2L]), n_draws = dims[2L], n_indiv = dims[1L],
       n_dim = dims[3L])
}

# Points from a quadrature rule (quadrature_rule()): its nodes for every
# person.
rule_points <- function(rule, n_indiv) {
  nodes <- rule$points
  storage.mode(nodes) <- "double"
  list(source = list(kind = "rule", nodes = nodes, standardise = FALSE),
       weights = rule$weights, n_draws = nrow(nodes), n_indiv = as.integer(n_indiv),
       n_dim = ncol(nodes))
}

# The points as they are, not moved to the posteriors.
plain_points <- function(points) {
  points$centre <- NULL
  points
}

# Standardised draws need more draws per person than dimensions.
check_standardisable <- function(n_draws, n_dim) {
  if (n_draws <= n_dim)
    stop("adaptive simulation needs more draws per person (", n_draws, ") than latent ",
         "variables (", n_dim, "); use more draws, or adaptive = FALSE", call. = FALSE)
}

# Is `x` a points object (rather than an array of draws)?
is_points <- function(x) is.list(x) && !is.null(x$source)

# What the engine's C side reads (src/points_glue.c): the source, the base
# weights and the centre. Moved points have per-person weights.
points_input <- function(points) {
  source <- points$source
  centre <- points$centre
  list(kind = source$kind, n_draws = as.integer(points$n_draws),
       weights = as.double(points$weights), standardise = isTRUE(source$standardise),
       per_person = !is.null(centre), draw_type = source$draw_type %||% "",
       seed = as.integer(source$seed %||% 1L), scramble = isTRUE(source$scramble),
       first = as.integer(source$first %||% 0L),
       array = source$array, nodes = source$nodes, mean = centre$mean, chol = centre$chol)
}

# The base points as an N x R x D array in R (for the functions that
# work on a few people's points after a fit, and for tests); the engine
# makes its own.
points_base <- function(points) {
  source <- points$source
  base <- switch(source$kind,
    draws = iclv_draws(points$n_indiv, points$n_draws, points$n_dim, type = source$draw_type,
                       seed = source$seed, scramble = source$scramble),
    array = source$array,
    rule = quadrature_draws(list(points = source$nodes), points$n_indiv))
  if (isTRUE(source$standardise)) standardise_draws(base) else base
}

# Each person's draws shifted and rotated to mean exactly 0 and covariance
# exactly I (N x R x D in and out), as the engine does for adaptive draws
# (src/points.c says why).
standardise_draws <- function(draws) {
  dims <- dim(draws)
  check_standardisable(dims[2L], dims[3L])
  storage.mode(draws) <- "double"
  out <- .Call(C_standardise_draws, draws)
  attributes(out) <- list(dim = dims)
  out
}

# The engine's points moved to `points$centre` in place (same number of
# points and kind of weights as it was built with); a device engine gets
# a new copy of them. Returns the engine.
engine_set_points <- function(engine, points) {
  if (is_sharded(engine)) return(sharded_set_points(engine, points))
  .Call(C_engine_set_points, engine, points_input(points))
  if (!is.null(attr(engine, "gpu"))) {
    .Call(C_gpu_engine_free, attr(engine, "gpu"))
    engine <- attach_gpu(engine, attr(engine, "gpu_mb"))
  }
  engine_memory_check(engine, "setup")
  engine
}
