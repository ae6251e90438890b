# The scale of the latent variables. A latent variable's scale is set either
# by its error scale (`LV ~~ LV` fixed, loadings free) or by a reference
# loading (one loading fixed, `LV ~~ LV` free). The second form has a
# boundary the first has not: when the free loadings start on the wrong side
# of the reference, the likelihood is higher near a zero error scale with
# exploding loadings (the latent variable gives up its reference indicator)
# than on the path to the maximum. The start stage therefore works with
# standardised latent variables (error scale 1, every loading free) and maps
# the result to the user's normalisation by rescaling each latent variable.

# The rows of theta_full (1-based) that belong to latent variable l: its
# loadings (and their indicators), error scale, intercept (NA when absent),
# covariate paths, and the paths into it and out of it.
latent_rows <- function(plan, l) {
  on_l <- which(plan$ind_load_lv == l - 1L)
  path_in <- seq_csr(plan$lv_path_ptr, l)
  list(loadings = plan$ind_load_par[on_l] + 1L,
       items = findInterval(on_l - 1L, plan$ind_load_ptr),
       sigma = plan$lv_sigma[[l]] + 1L,
       alpha = if (plan$lv_alpha[[l]] >= 0L) plan$lv_alpha[[l]] + 1L else NA_integer_,
       covariates = plan$lv_cov_par[seq_csr(plan$lv_cov_ptr, l)] + 1L,
       paths_in = plan$lv_path_par[path_in] + 1L,
       paths_out = plan$lv_path_par[plan$lv_path_from == l - 1L] + 1L)
}

# The model in standardised form: each latent variable whose scale is set by
# one reference loading gets its error scale fixed at 1 and the reference
# loading freed. Latent variables with another normalisation, with loadings
# shared with other latent variables, or with parameters the user gave
# starting values for (`keep`, rows) keep theirs. Returns the model and, per
# rescaled latent variable, its reference row and fixed value.
standardised_model <- function(model, keep = integer(0)) {
  params <- model$params
  plan <- model$plan
  rescaled <- list()
  for (l in seq_along(model$latent)) {
    rows <- latent_rows(plan, l)
    fixed_loadings <- rows$loadings[!params$free[rows$loadings] & params$start[rows$loadings] != 0]
    shared <- any((plan$ind_load_par[plan$ind_load_lv != l - 1L] + 1L) %in% rows$loadings)
    own <- c(rows$loadings, rows$sigma, rows$alpha, rows$covariates, rows$paths_in,
             rows$paths_out)
    if (!params$free[rows$sigma] || length(fixed_loadings) != 1L || shared ||
        sum(plan$ind_load_par + 1L == fixed_loadings) != 1L || any(own %in% keep)) next
    params$free[fixed_loadings] <- TRUE
    params$free[rows$sigma] <- FALSE
    params$start[rows$sigma] <- 1
    rescaled[[length(rescaled) + 1L]] <- list(latent = l, reference = fixed_loadings,
                                              value = model$params$start[[fixed_loadings]])
  }
  model$params <- params
  list(model = model, rescaled = rescaled)
}

# The mean and standard deviation of each latent variable over individuals
# and draws: its intercept, covariates and error scale, and its paths from
# earlier latent variables (taken as independent: rough sizes, not moments).
latent_moments <- function(model, prepared, theta_full) {
  plan <- model$plan
  n_latent <- length(model$latent)
  mean <- numeric(n_latent)
  variance <- numeric(n_latent)
  for (l in seq_len(n_latent)) {
    systematic <- numeric(nrow(prepared$covariates))
    for (i in seq_csr(plan$lv_cov_ptr, l))
      systematic <- systematic + theta_full[[plan$lv_cov_par[[i]] + 1L]] *
        prepared$covariates[, plan$lv_cov_col[[i]] + 1L]
    paths <- seq_csr(plan$lv_path_ptr, l)
    from <- plan$lv_path_from[paths] + 1L
    beta <- theta_full[plan$lv_path_par[paths] + 1L]
    alpha <- if (plan$lv_alpha[[l]] >= 0L) theta_full[[plan$lv_alpha[[l]] + 1L]] else 0
    mean[l] <- alpha + mean(systematic) + sum(beta * mean[from])
    variance[l] <- theta_full[[plan$lv_sigma[[l]] + 1L]]^2 +
      mean((systematic - mean(systematic))^2) + sum(beta^2 * variance[from])
  }
  list(mean = mean, sd = sqrt(variance))
}

# The rows of the reference loadings a standardised model has freed.
reference_rows <- function(standardised) {
  vapply(standardised$rescaled, function(r) r$reference, integer(1))
}

# theta_full of the standardised model mapped to the user's normalisation:
# latent variable l is multiplied by c_l = (reference loading) / (its fixed
# value), so loadings and choice coefficients on it are divided by c_l, and
# its error scale, intercept and covariate paths multiplied by |c_l| or c_l
# (a path from m to l by c_l / c_m). |c_l| is kept away from 0, where the reference indicator would
# lose its latent variable: at least `min_signal` times the reference
# indicator's error scale over the reference loading.
to_user_normalisation <- function(standardised, model, theta_std, min_signal = 0.25) {
  plan <- model$plan
  theta <- theta_std
  for (r in standardised$rescaled) {
    rows <- latent_rows(plan, r$latent)
    ratio <- theta_std[[r$reference]] / r$value
    item <- rows$items[rows$loadings == r$reference]
    floor <- min_signal * indicator_error_sd(model, theta_std, item) / abs(r$value)
    c_l <- (if (ratio < 0) -1 else 1) * max(abs(ratio), floor)
    theta[rows$loadings] <- theta_std[rows$loadings] / c_l
    theta[rows$sigma] <- abs(c_l) * theta_std[[rows$sigma]]
    if (!is.na(rows$alpha)) theta[rows$alpha] <- c_l * theta_std[rows$alpha]
    theta[rows$covariates] <- c_l * theta_std[rows$covariates]
    theta[rows$paths_in] <- theta[rows$paths_in] * c_l
    theta[rows$paths_out] <- theta[rows$paths_out] / c_l
    choice <- choice_rows_of(model, r$latent)
    theta[choice] <- theta[choice] / c_l
  }
  theta[!model$params$free] <- model$params$start[!model$params$free]
  theta
}

# Rows of the choice coefficients that multiply latent variable l and
# nothing else (rescaled with it).
choice_rows_of <- function(model, l) {
  plan <- model$plan
  on_l <- unique(plan$util_par[plan$util_lv == l - 1L])
  elsewhere <- plan$util_par[plan$util_lv != l - 1L]
  setdiff(on_l, elsewhere) + 1L
}

# The standard deviation of indicator k's error on its own scale (the
# logistic's pi / sqrt(3) times the scale for ordered logit).
indicator_error_sd <- function(model, theta_full, k) {
  scale <- theta_full[[model$plan$ind_scale[[k]] + 1L]]
  if (model$family[[k]] == "ordered_logit") scale * pi / sqrt(3) else scale
}
