# Random coefficients: reading `random =` and `correlated =`, their
# parameters (spreads and Cholesky entries) and their place in the plan. A
# random coefficient is one more integration dimension after the latent
# variables: beta_n = g(location + spread h(xi_n) + sum_j L_j xi_nj), with
# g and h set by its distribution (vignette "likelihood", section 1.5).

random_distributions <- c("normal", "lognormal", "neg_lognormal", "uniform", "triangular")
# The engine's codes (src/engine_person.h, ICLV_DIM_*); 0 is a latent variable.
random_kind_codes <- c(normal = 1L, lognormal = 2L, neg_lognormal = 3L, uniform = 4L,
                       triangular = 5L)
# Those whose underlying value is normal: they can be correlated.
normal_based <- c("normal", "lognormal", "neg_lognormal")

# The random coefficients as a data frame (one row each, in the order of
# `random`): coef, distribution, correlated (in the Cholesky block).
read_random <- function(random, correlated, utility_terms, fixed) {
  if (is.null(random) || length(random) == 0L) {
    if (!isFALSE(correlated) && !is.null(correlated) && length(correlated))
      stop("`correlated` needs `random` (the random coefficients).", call. = FALSE)
    return(empty_random())
  }
  if (is.list(random)) random <- unlist(random)
  coefs <- names(random)
  if (!is.character(random) || is.null(coefs) || anyNA(coefs) || any(!nzchar(coefs)) || anyNA(random)) {
    stop("`random` must be a named list, coefficient = distribution, e.g. ",
         "random = list(b_price = \"neg_lognormal\", b_time = \"normal\").", call. = FALSE)
  }
  if (anyDuplicated(coefs)) {
    stop(sprintf("`random` names '%s' twice.", coefs[anyDuplicated(coefs)]), call. = FALSE)
  }
  known <- unique(utility_terms$coef)
  for (coef in coefs) {
    if (!coef %in% known) {
      stop(sprintf("`random` names '%s', which is not a utility coefficient; coefficients: %s.",
                   coef, if (length(known)) paste0("'", known, "'", collapse = ", ") else "none"),
           call. = FALSE)
    }
    dist <- random[[coef]]
    if (!dist %in% random_distributions) {
      stop(sprintf("`random`: unknown distribution '%s' for '%s' (use %s).", dist, coef,
                   paste0("'", random_distributions, "'", collapse = ", ")), call. = FALSE)
    }
    with_lv <- utility_terms$coef == coef & !is.na(utility_terms$lv)
    if (any(with_lv)) {
      stop(sprintf("random coefficient '%s' multiplies latent variable '%s'; a random coefficient's terms cannot hold a latent variable: give the interaction its own coefficient (e.g. %s * x + g * x * %s).",
                   coef, utility_terms$lv[with_lv][[1]], coef, utility_terms$lv[with_lv][[1]]),
           call. = FALSE)
    }
    if (!is.null(fixed) && coef %in% names(fixed)) {
      stop(sprintf("'%s' is random (`random`) and fixed (`fixed`); a random coefficient's location is estimated: remove it from one of them.",
                   coef), call. = FALSE)
    }
  }
  table <- data.frame(coef = coefs, distribution = unname(random), stringsAsFactors = FALSE)
  table$correlated <- read_correlated(correlated, table)
  table
}

empty_random <- function() {
  data.frame(coef = character(0), distribution = character(0), correlated = logical(0),
             stringsAsFactors = FALSE)
}

# Which random coefficients share the Cholesky factor: none (FALSE), every
# normal-based one (TRUE), or those named.
read_correlated <- function(correlated, table) {
  based <- table$distribution %in% normal_based
  if (isFALSE(correlated) || is.null(correlated)) return(rep(FALSE, nrow(table)))
  if (isTRUE(correlated)) return(based)
  if (!is.character(correlated) || anyNA(correlated)) {
    stop("`correlated` must be TRUE, FALSE or names of random coefficients.", call. = FALSE)
  }
  unknown <- setdiff(correlated, table$coef)
  if (length(unknown)) {
    stop(sprintf("`correlated` names '%s', which is not a random coefficient (random: %s).",
                 unknown[[1]], paste0("'", table$coef, "'", collapse = ", ")), call. = FALSE)
  }
  bad <- table$coef %in% correlated & !based
  if (any(bad)) {
    stop(sprintf("`correlated` names '%s', which is %s; only normal, lognormal and neg_lognormal coefficients can be correlated.",
                 table$coef[bad][[1]], table$distribution[bad][[1]]), call. = FALSE)
  }
  table$coef %in% correlated
}

# The name of the spread of `coef`, and of the Cholesky entry L[a, b] (a
# after b in `random`): `a~~b`. On the diagonal, `a~~a` is the spread.
random_spread_name <- function(coef) lavaan_name(coef, "~~", coef)

# The Cholesky entries below the diagonal: one row each, a (its row) and b
# (its column), in the order the plan lists them.
cholesky_entries <- function(random) {
  block <- random$coef[random$correlated]
  pairs <- lapply(seq_along(block), function(i) {
    data.frame(a = rep(block[i], i - 1L), b = block[seq_len(i - 1L)], stringsAsFactors = FALSE)
  })
  do.call(rbind, c(list(data.frame(a = character(0), b = character(0))), pairs))
}

random_slots <- function(random) {
  chol <- cholesky_entries(random)
  rbind(new_slots(random_spread_name(random$coef), "choice", "random_spread", TRUE, 0.1),
        new_slots(lavaan_name(chol$a, "~~", chol$b), "choice", "random_chol", TRUE, 0))
}

# The model's random coefficients (none for a model built without the
# table, as the tests' hand-made ones are).
model_random <- function(model) model$random %||% empty_random()

# Integration dimensions: the latent variables, then the random coefficients.
model_dims <- function(model) c(model$latent, model$random$coef)
n_dims <- function(model) length(model$latent) + nrow(model_random(model))

# The plan entries of the dimensions after the latent variables, appended to
# the structural plan: location as alpha, spread as sigma, no covariates or
# paths; and every dimension's kind and Cholesky entries (none for a latent
# variable).
random_plan <- function(plan, random, n_latent, index) {
  dims <- c(rep(NA_character_, n_latent), random$coef)
  chol <- cholesky_entries(random)
  extend <- function(ptr) c(ptr, rep(ptr[[length(ptr)]], nrow(random)))
  plan$lv_alpha <- c(plan$lv_alpha, index(random$coef))
  plan$lv_sigma <- c(plan$lv_sigma, index(random_spread_name(random$coef)))
  plan$lv_cov_ptr <- extend(plan$lv_cov_ptr)
  plan$lv_path_ptr <- extend(plan$lv_path_ptr)
  plan$lv_kind <- c(rep(0L, n_latent), unname(random_kind_codes[random$distribution]))
  plan$lv_chol_ptr <- csr_pointer(lapply(dims, function(coef) which(chol$a %in% coef)))
  plan$lv_chol_from <- match(chol$b, dims) - 1L
  plan$lv_chol_par <- index(lavaan_name(chol$a, "~~", chol$b))
  plan
}

# Terms of random coefficients: the dimension with coefficient 1.
random_choice_plan <- function(plan, utility_terms, random, n_latent) {
  dim <- match(utility_terms$coef, random$coef)
  is_random <- !is.na(dim)
  plan$util_lv[is_random] <- as.integer(n_latent + dim[is_random] - 1L)
  plan$util_par[is_random] <- -1L
  plan
}

# h() and g() of a dimension of kind `kind` (the engine's ICLV_DIM_*, 0 for
# a latent variable), in R: for simulation; the engine has its own
# (engine_person.h).
random_draw_map <- function(kind, xi) {
  switch(kind_distribution(kind),
         uniform = 2 * stats::pnorm(xi) - 1,
         triangular = ifelse(xi < 0, sqrt(2 * stats::pnorm(xi)) - 1,
                             1 - sqrt(2 * stats::pnorm(-xi))),
         xi)
}
random_value_map <- function(kind, z) {
  switch(kind_distribution(kind), lognormal = exp(z), neg_lognormal = -exp(z), z)
}
kind_distribution <- function(kind) {
  if (kind == 0L) "latent" else names(random_kind_codes)[match(kind, random_kind_codes)]
}

# Locations from the MNL stage's coefficients (R/start.R), where the MNL
# estimated the coefficient itself: a lognormal's location is the log of its
# size (of 0.01 when the MNL gave the other sign). Rows in `keep` (the
# user's starts) stay.
random_location_starts <- function(model, theta_full, keep = integer(0)) {
  random <- model_random(model)
  rows <- match(random$coef, model$params$name)
  for (i in which(random$distribution %in% c("lognormal", "neg_lognormal") & !rows %in% keep)) {
    sign <- if (random$distribution[[i]] == "lognormal") 1 else -1
    size <- sign * theta_full[[rows[[i]]]]
    theta_full[[rows[[i]]]] <- log(if (size > 0.01) size else 0.01)
  }
  theta_full
}
