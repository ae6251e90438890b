# Integration over the latent variables' standard normal errors by
# quadrature: Gauss-Hermite tensor rules, Smolyak sparse grids on the nested
# Genz-Keister rules (both computed in src/quadrature.c), and adaptive rules
# centred and scaled on each individual's posterior. A rule becomes the
# engine's weighted draws: LL_n = log sum_r w_nr exp(l_nr), with weights that
# may be negative for sparse grids.

# Points per individual above which a rule is refused (the engine stores
# N x R x D draws).
quadrature_max_points <- 1e5

# Limits of the C code (src/quadrature.h).
gauss_hermite_max_nodes <- 200L
sparse_max_level <- 26L
quadrature_max_dim <- 6L

# Default `nodes` when the user gives none. Plain rules: Gauss-Hermite nodes
# per dimension for tensor rules (20, 20 and 12 nodes: 20, 400 and 1,728
# points), the accuracy level for sparse grids (537, 481 and 709 points in 4,
# 5 and 6 dimensions). Adaptive rules need far fewer, since they are centred
# and shaped on each posterior: 10, 10 and 8 nodes (10, 100 and 512 points;
# within 2e-5 per person of 30-200-node plain rules in the tests), and sparse
# level 4 (89, 121 and 269 points; within 0.004 of the exact log-likelihood
# of the bundled survey, bench/integration.R).
default_quadrature_nodes <- function(n_dim, type, adaptive = FALSE) {
  if (adaptive) return(if (type == "tensor") c(10L, 10L, 8L)[min(n_dim, 3L)] else 4L)
  if (type == "tensor") return(c(20L, 20L, 12L)[min(n_dim, 3L)])
  if (n_dim <= 4L) 6L else 5L
}

# The rule for n_dim independent standard normals.
#   type "tensor": `nodes` Gauss-Hermite nodes per dimension (nodes^n_dim
#     points), exact for polynomials of degree 2 * nodes - 1 in each variable.
#   type "sparse": `nodes` is the accuracy level L of a Smolyak sparse grid on
#     the nested Genz-Keister rules (1, 3, 9, 19, 35 points), exact for
#     polynomials of total degree 2L - 1 -- the degree of an L-node
#     Gauss-Hermite rule in one dimension -- with far fewer points than the
#     tensor rule in 3 or more dimensions (level 6: 189 points in 3
#     dimensions, 537 in 4, 2,501 in 6). Some weights are negative.
#   type "auto": tensor up to 3 dimensions, sparse above.
# Returns list(points = R x n_dim matrix, weights = length R summing to 1,
# type, nodes, n_dim, degree).
quadrature_rule <- function(n_dim, nodes, type = c("auto", "tensor", "sparse"),
                            max_points = quadrature_max_points) {
  n_dim <- check_whole(n_dim, "n_dim")
  nodes <- check_whole(nodes, "nodes")
  type <- match.arg(type)
  if (type == "auto") type <- if (n_dim <= 3L) "tensor" else "sparse"
  if (type == "tensor") {
    if (nodes > gauss_hermite_max_nodes)
      stop("Gauss-Hermite rules have at most ", gauss_hermite_max_nodes, " nodes per ",
           "dimension, got nodes = ", nodes, call. = FALSE)
    if (nodes^n_dim > max_points)
      stop("a tensor rule with ", nodes, " nodes in ", n_dim, " dimensions has ",
           format_count(nodes^n_dim), " points per individual (at most ",
           format_count(max_points), "); use fewer nodes, adaptive = TRUE (which ",
           "needs fewer), or a sparse grid", call. = FALSE)
  } else {
    if (n_dim > 10L)
      stop("sparse grids support at most 10 dimensions, got ", n_dim, call. = FALSE)
    if (nodes > sparse_max_level)
      stop("sparse grids support accuracy levels (nodes) up to ", sparse_max_level,
           ", got nodes = ", nodes, call. = FALSE)
  }
  rule <- tryCatch(
    .Call(C_quadrature_grid, n_dim, nodes, type == "sparse", as.double(max_points)),
    error = function(e) {
      if (grepl("more points than allowed", conditionMessage(e)))
        stop("a sparse grid of level ", nodes, " in ", n_dim, " dimensions has more than ",
             format_count(max_points), " points per individual; use a lower ",
             "level (nodes)", call. = FALSE)
      stop(e)
    })
  list(points = rule$points, weights = rule$weights, type = type, nodes = nodes,
       n_dim = n_dim, degree = 2L * nodes - 1L)
}

# The same points for every individual: an N x R x D array for engine_build().
quadrature_draws <- function(rule, n_indiv) {
  n_indiv <- check_whole(n_indiv, "n_indiv")
  points <- rule$points
  array(rep(as.vector(points), each = n_indiv), c(n_indiv, nrow(points), ncol(points)))
}

# Why a rule is larger than the engine should hold, or beyond the C code's
# limits, naming the setting to change; NULL when it is fine.
rule_size_problem <- function(n_dim, nodes, type) {
  if (type == "tensor" && nodes > gauss_hermite_max_nodes)
    return(paste0("`nodes` must be at most ", gauss_hermite_max_nodes, " (Gauss-Hermite nodes ",
                  "per latent variable), got ", nodes))
  if (type == "tensor" && nodes^n_dim > quadrature_max_points)
    return(paste0("`nodes` = ", nodes, " with ", n_dim, " latent variables gives ",
                  format_count(nodes^n_dim), " points per individual (at most ",
                  format_count(quadrature_max_points), "); use fewer nodes, ",
                  "or adaptive = TRUE, which needs fewer"))
  if (type == "sparse" && nodes > sparse_max_level)
    return(paste0("with ", n_dim, " latent variables `nodes` is the accuracy level of a ",
                  "sparse grid (exact for polynomials of total degree 2 * nodes - 1) and must ",
                  "be at most ", sparse_max_level, ", got ", nodes, "; levels 4 to 8 are usual"))
  NULL
}

check_rule_size <- function(n_dim, nodes, type) {
  problem <- rule_size_problem(n_dim, nodes, type)
  if (!is.null(problem)) stop(problem, call. = FALSE)
  invisible()
}

# The n-node Gauss-Hermite rule for the standard normal: list(nodes, weights).
gauss_hermite_rule <- function(n_nodes) {
  .Call(C_quadrature_gauss_hermite, check_whole(n_nodes, "n_nodes"))
}

# The nested Genz-Keister rules: list(nodes (35, in joining order), weights
# (35 x 5, rule i in column i), sizes, degrees).
genz_keister_rules <- function() .Call(C_quadrature_genz_keister)

format_count <- function(x) format(x, big.mark = ",", scientific = FALSE)
