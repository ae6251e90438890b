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

# Default `nodes` when the user gives none: Gauss-Hermite nodes per dimension
# for tensor rules (20, 20 and 12 nodes: 20, 400 and 1,728 points), the
# accuracy level for sparse grids (537, 481 and 709 points in 4, 5 and 6
# dimensions).
default_quadrature_nodes <- function(n_dim, type) {
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
  n_dim <- check_quadrature_count(n_dim, "n_dim")
  nodes <- check_quadrature_count(nodes, "nodes")
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
  n_indiv <- check_quadrature_count(n_indiv, "n_indiv")
  points <- rule$points
  array(rep(as.vector(points), each = n_indiv), c(n_indiv, nrow(points), ncol(points)))
}

# The rule moved to each individual's posterior: eta_nr = mean_n + sd_n * z_r
# (per dimension). Since the prior of eta is N(0, 1),
#   integral f(eta) phi(eta) d eta = integral f(m + s z) [s phi(m + s z) / phi(z)] phi(z) dz,
# so point r of individual n gets weight w_r * prod_d sd_nd phi(eta_nrd) / phi(z_rd)
# (computed on the log scale; the sign of w_r is kept). eta_mean and eta_sd
# are N x D matrices (vectors when D = 1).
# Returns list(draws = N x R x D array, weights = N x R matrix).
adaptive_draws <- function(rule, eta_mean, eta_sd) {
  points <- rule$points
  n_dim <- ncol(points)
  n_points <- nrow(points)
  eta_mean <- as.matrix(eta_mean)
  eta_sd <- as.matrix(eta_sd)
  if (ncol(eta_mean) != n_dim || !identical(dim(eta_mean), dim(eta_sd)))
    stop("eta_mean and eta_sd must both be individuals x ", n_dim, " matrices, got ",
         paste(dim(eta_mean), collapse = " x "), " and ", paste(dim(eta_sd), collapse = " x "),
         call. = FALSE)
  if (!all(is.finite(eta_mean)))
    stop("eta_mean has non-finite values (individuals ",
         paste(utils::head(which(rowSums(!is.finite(eta_mean)) > 0), 5L), collapse = ", "), ")",
         call. = FALSE)
  if (!all(is.finite(eta_sd) & eta_sd > 0))
    stop("eta_sd must be positive and finite (individuals ",
         paste(utils::head(which(rowSums(!(is.finite(eta_sd) & eta_sd > 0)) > 0), 5L),
               collapse = ", "), ")", call. = FALSE)
  n_indiv <- nrow(eta_mean)
  draws <- array(0, c(n_indiv, n_points, n_dim))
  log_weight <- matrix(log(abs(rule$weights)), n_indiv, n_points, byrow = TRUE)
  for (d in seq_len(n_dim)) {
    z <- points[, d]
    eta <- eta_mean[, d] + outer(eta_sd[, d], z)
    draws[, , d] <- eta
    log_weight <- log_weight + log(eta_sd[, d]) - 0.5 * eta^2 + rep(0.5 * z^2, each = n_indiv)
  }
  # A weight below the smallest double would be 0, which the engine refuses;
  # at that size its point contributes nothing anyway.
  weights <- pmax(exp(log_weight), .Machine$double.xmin)
  weights <- weights * rep(sign(rule$weights), each = n_indiv)
  list(draws = draws, weights = weights)
}

# Validated integration settings for a model with n_dim latent variables:
# list(method = "quadrature" or "simulation", type = "tensor" / "sparse" (NA
# for simulation), nodes (NA for simulation), adaptive). `nodes = NULL` takes
# default_quadrature_nodes().
resolve_integration <- function(integration = c("auto", "simulation", "quadrature"), n_dim,
                                nodes = NULL, adaptive = FALSE) {
  methods <- c("auto", "simulation", "quadrature")
  if (identical(integration, methods)) integration <- "auto"
  if (!is.character(integration) || length(integration) != 1L || is.na(integration) ||
      !integration %in% methods)
    stop("`integration` must be one of ", paste0("\"", methods, "\"", collapse = ", "),
         ", got ", describe_draw_arg(integration), call. = FALSE)
  if (!is.logical(adaptive) || length(adaptive) != 1L || is.na(adaptive))
    stop("`adaptive` must be TRUE or FALSE, got ", describe_draw_arg(adaptive), call. = FALSE)
  n_dim <- check_quadrature_count(n_dim, "the number of latent variables")
  if (!is.null(nodes)) nodes <- check_quadrature_count(nodes, "`nodes`")

  method <- integration
  if (method == "auto") {
    method <- if (n_dim <= 3L) "quadrature" else "simulation"
    if (adaptive && method == "simulation")
      stop("adaptive = TRUE needs quadrature, but integration = \"auto\" uses simulation for ",
           n_dim, " latent variables; set integration = \"quadrature\" (sparse grids, up to ",
           quadrature_max_dim, " latent variables)", call. = FALSE)
  }
  if (method == "simulation") {
    if (adaptive)
      stop("adaptive = TRUE applies to quadrature only; use integration = \"quadrature\" ",
           "or adaptive = FALSE", call. = FALSE)
    return(list(method = "simulation", type = NA_character_, nodes = NA_integer_,
                adaptive = FALSE))
  }
  if (n_dim > quadrature_max_dim)
    stop("quadrature supports at most ", quadrature_max_dim, " latent variables (sparse ",
         "grids); this model has ", n_dim, ": use integration = \"simulation\"", call. = FALSE)
  type <- if (n_dim <= 3L) "tensor" else "sparse"
  if (is.null(nodes)) nodes <- default_quadrature_nodes(n_dim, type)
  if (type == "tensor" && nodes > gauss_hermite_max_nodes)
    stop("`nodes` must be at most ", gauss_hermite_max_nodes, " (Gauss-Hermite nodes per ",
         "latent variable), got ", nodes, call. = FALSE)
  if (type == "tensor" && nodes^n_dim > quadrature_max_points)
    stop("`nodes` = ", nodes, " with ", n_dim, " latent variables gives ",
         format_count(nodes^n_dim), " points per individual (at most ",
         format_count(quadrature_max_points), "); use fewer nodes, ",
         "or adaptive = TRUE, which needs fewer", call. = FALSE)
  if (type == "sparse" && nodes > sparse_max_level)
    stop("with ", n_dim, " latent variables `nodes` is the accuracy level of a sparse grid ",
         "(exact for polynomials of total degree 2 * nodes - 1) and must be at most ",
         sparse_max_level, ", got ", nodes, "; levels 4 to 8 are usual", call. = FALSE)
  list(method = "quadrature", type = type, nodes = nodes, adaptive = adaptive)
}

# An engine for quadrature settings from resolve_integration(). With adaptive
# quadrature the rule is centred and scaled on each individual's posterior of
# eta at theta_full (its mean and sd, as in GLLAMM's adaptive quadrature),
# found by iterating from `centre` (list(mean, sd), N x D each; the prior
# N(0, 1) when NULL) until they move less than `tol`, at most `steps` times.
# Returns list(engine, rule, centre = the moments the engine's rule is centred
# on, posterior = the latest posterior moments (the centre for the next
# update), steps).
integration_engine <- function(model, prepared, settings, theta_full, threads = NULL,
                               centre = NULL, steps = 20L, tol = 1e-6, ...) {
  if (!identical(settings$method, "quadrature"))
    stop("integration_engine() builds quadrature engines only", call. = FALSE)
  n_dim <- length(model$latent)
  n_indiv <- nrow(prepared$ind_cat)
  rule <- quadrature_rule(n_dim, settings$nodes, settings$type)
  if (!isTRUE(settings$adaptive)) {
    draws <- quadrature_draws(rule, n_indiv)
    engine <- engine_build(model, prepared, draws, rule$weights, threads = threads, ...)
    return(list(engine = engine, rule = rule, centre = NULL, posterior = NULL, steps = 0L,
                draws = draws, weights = rule$weights))
  }
  if (is.null(centre))
    centre <- list(mean = matrix(0, n_indiv, n_dim), sd = matrix(1, n_indiv, n_dim))
  for (step in seq_len(steps)) {
    adapted <- adaptive_draws(rule, centre$mean, centre$sd)
    engine <- engine_build(model, prepared, adapted$draws, adapted$weights, threads = threads,
                           ...)
    posterior <- engine_posterior(engine, theta_full, centre)
    change <- max(abs(posterior$mean - centre$mean), abs(log(posterior$sd / centre$sd)))
    if (change < tol) break
    if (step < steps) centre <- posterior
  }
  list(engine = engine, rule = rule, centre = centre, posterior = posterior, steps = step,
       draws = adapted$draws, weights = adapted$weights)
}

# Posterior mean and sd of each individual's eta (N x D) under the engine's
# rule. Unusable values (not finite) keep the fallback's. A rule too coarse
# for a sharp posterior puts nearly all its weight on one node and reports an
# sd near 0: the sd may shrink at most tenfold per update, so that the next,
# narrower rule can measure it.
engine_posterior <- function(engine, theta_full, fallback) {
  moments <- engine_predict(engine, theta_full, "eta")
  post_mean <- t(moments$mean)
  post_sd <- t(moments$sd)
  bad <- !is.finite(post_mean) | !is.finite(post_sd)
  post_mean[bad] <- fallback$mean[bad]
  post_sd[bad] <- fallback$sd[bad]
  list(mean = post_mean, sd = pmax(post_sd, 0.1 * fallback$sd))
}

#' Check the accuracy of the integration at the estimates
#'
#' Recomputes the log-likelihood at the estimates with a finer integration
#' rule and reports the difference. For quadrature, the finer rule has twice
#' the nodes (Gauss-Hermite nodes per latent variable, or twice the accuracy
#' level of a sparse grid), adaptive again when the fit's rule was; for
#' simulation, four times the draws (unscrambled Halton draws replace your
#' own draws). A difference well below 0.1 means the integration error does
#' not matter for inference; otherwise re-estimate with more nodes or draws.
#'
#' @param fit An `iclv_fit` from [iclv()].
#' @param nodes The nodes (quadrature) or draws (simulation) of the finer
#'   rule, instead of the default.
#' @return A one-row data frame: `method` (`"quadrature"` or
#'   `"simulation"`), `nodes` (nodes or draws of the fit), `nodes_finer`,
#'   `loglik` (of the fit), `loglik_finer` and `difference`
#'   (`loglik_finer - loglik`).
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 100, n_tasks = 4, seed = 3)
#' fit <- iclv(model, data, draws = 25, control = iclv_control(threads = 1))
#' check_integration(fit)
check_integration <- function(fit, nodes = NULL) {
  if (!inherits(fit, "iclv_fit"))
    stop("`fit` must be an iclv_fit (from iclv())", call. = FALSE)
  model <- fit$model
  prepared <- fit$prepared
  n_dim <- length(model$latent)
  n_indiv <- nrow(prepared$ind_cat)
  integration <- fit$integration
  method <- if (is.null(integration$method)) "simulation" else integration$method

  if (method == "quadrature") {
    base <- integration$nodes
    type <- integration$type
    if (is.null(type) || is.na(type)) type <- if (n_dim <= 3L) "tensor" else "sparse"
    finer <- if (is.null(nodes)) 2L * base else check_quadrature_count(nodes, "`nodes`")
    settings <- list(method = "quadrature", type = type, nodes = finer,
                     adaptive = isTRUE(integration$adaptive))
    rule_size <- if (type == "tensor") finer^n_dim else NA
    if (!is.na(rule_size) && rule_size > quadrature_max_points)
      stop("the finer rule (", finer, " nodes in ", n_dim, " dimensions) has ",
           format_count(rule_size), " points per individual; give a smaller `nodes`",
           call. = FALSE)
    centre <- NULL
    if (settings$adaptive) {
      prior <- list(mean = matrix(0, n_indiv, n_dim), sd = matrix(1, n_indiv, n_dim))
      centre <- engine_posterior(fit_engine(fit), fit$theta_full, prior)
    }
    engine <- integration_engine(model, prepared, settings, fit$theta_full,
                                 threads = fit$threads, centre = centre)$engine
  } else {
    base <- fit$n_draws %||% dim(fit$draws)[2L]
    finer <- if (is.null(nodes)) 4L * base else check_quadrature_count(nodes, "`nodes`")
    draw_type <- fit$draw_type
    if (is.null(draw_type) || identical(draw_type, "user")) draw_type <- "halton"
    drawn <- resolve_draws(finer, draw_type, 1L, n_indiv, n_dim)
    engine <- engine_build(model, prepared, drawn$draws, threads = fit$threads)
  }
  loglik_finer <- engine_eval(engine, unname(fit$theta_full), gradient = FALSE)$loglik
  data.frame(method = method, nodes = base, nodes_finer = finer, loglik = fit$loglik,
             loglik_finer = loglik_finer, difference = loglik_finer - fit$loglik,
             stringsAsFactors = FALSE)
}

# The n-node Gauss-Hermite rule for the standard normal: list(nodes, weights).
gauss_hermite_rule <- function(n_nodes) {
  .Call(C_quadrature_gauss_hermite, check_quadrature_count(n_nodes, "n_nodes"))
}

# The nested Genz-Keister rules: list(nodes (35, in joining order), weights
# (35 x 5, rule i in column i), sizes, degrees).
genz_keister_rules <- function() .Call(C_quadrature_genz_keister)

format_count <- function(x) format(x, big.mark = ",", scientific = FALSE)

check_quadrature_count <- function(x, name) {
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) && x >= 1 &&
    x == round(x) && x <= .Machine$integer.max
  if (!ok)
    stop(name, " must be a positive whole number, got ", describe_draw_arg(x), call. = FALSE)
  as.integer(x)
}
