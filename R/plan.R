# The plan: the model as 0-based index arrays for the engine, and the
# threshold sets the optimizer's working scale is built on.

# The plan is the engine's final input, read by C as it is: index arrays
# stored as integers, the threshold signs as doubles, and the counts
# (parameters, covariates, alternatives) that size the engine.
build_plan <- function(spec, covariates, choice_part, index, n_par, random = empty_random()) {
  n_latent <- length(spec$latent)
  plan <- c(random_plan(structural_plan(spec, covariates, index), random, n_latent, index),
            measurement_plan(spec, index),
            random_choice_plan(choice_plan(choice_part, spec$latent, index),
                               choice_part$utility_terms, random, n_latent))
  is_index <- names(plan) != "ind_thr_sign"
  plan[is_index] <- lapply(plan[is_index], as.integer)
  plan$ind_thr_sign <- as.double(plan$ind_thr_sign)
  c(plan, list(n_par = as.integer(n_par), n_cov = length(covariates),
               n_alt = length(choice_part$alternatives)))
}

# CSR pointer from the lengths of consecutive groups.
csr_pointer <- function(groups) {
  as.integer(c(0L, cumsum(lengths(groups))))
}

# The 0-based positions of group i (1-based) in a CSR layout: the entries
# ptr[i] .. ptr[i + 1] - 1 of the arrays that `ptr` points into.
seq_csr <- function(ptr, i) {
  seq_len(ptr[[i + 1L]] - ptr[[i]]) + ptr[[i]]
}

int_vector <- function(x) as.integer(unlist(x, use.names = FALSE))

structural_plan <- function(spec, covariates, index) {
  latent <- spec$latent
  cov_names <- lapply(latent, function(l) spec$covariate_paths[[l]])
  path_from <- lapply(latent, function(l) spec$lv_paths[[l]])
  intercept <- index(lavaan_name(latent, "~1"))
  list(
    lv_alpha = as.integer(ifelse(is.na(intercept), -1L, intercept)),
    lv_sigma = index(lavaan_name(latent, "~~", latent)),
    lv_cov_ptr = csr_pointer(cov_names),
    lv_cov_col = int_vector(lapply(cov_names, function(x) match(x, covariates) - 1L)),
    lv_cov_par = int_vector(Map(function(l, x) index(lavaan_name(l, "~", x)), latent, cov_names)),
    lv_path_ptr = csr_pointer(path_from),
    lv_path_from = int_vector(lapply(path_from, function(x) match(x, latent) - 1L)),
    lv_path_par = int_vector(Map(function(l, x) index(lavaan_name(l, "~", x)), latent, path_from))
  )
}

measurement_plan <- function(spec, index) {
  k_names <- spec$indicators
  loadings <- lapply(k_names, function(k) spec$loadings[[k]])
  layouts <- lapply(k_names, function(k) {
    if (spec$family[[k]] == "continuous") return(data.frame(param = character(0), sign = numeric(0)))
    threshold_layout(k, spec$categories[[k]], spec$scheme[[k]])
  })
  list(
    ind_family = unname(family_codes[spec$family]),
    ind_ncat = as.integer(ifelse(is.na(spec$categories), 0L, spec$categories)),
    ind_intercept = index(lavaan_name(k_names, "~1")),
    ind_scale = index(lavaan_name(k_names, "~~", k_names)),
    ind_load_ptr = csr_pointer(loadings),
    ind_load_lv = int_vector(lapply(loadings, function(l) match(l, spec$latent) - 1L)),
    ind_load_par = int_vector(Map(function(k, l) index(lavaan_name(l, "=~", k)), k_names, loadings)),
    ind_thr_ptr = as.integer(c(0L, cumsum(vapply(layouts, nrow, 0L)))),
    ind_thr_par = int_vector(lapply(layouts, function(x) index(x$param))),
    ind_thr_sign = as.numeric(unlist(lapply(layouts, `[[`, "sign"), use.names = FALSE))
  )
}

choice_plan <- function(choice_part, latent, index) {
  terms <- choice_part$utility_terms
  lv <- match(terms$lv, latent) - 1L
  list(
    util_alt = as.integer(terms$alt - 1L),
    util_par = as.integer(index(terms$coef)),
    util_lv = as.integer(ifelse(is.na(lv), -1L, lv))
  )
}

# One element per distinct threshold set: the rows (1-based) of its distinct
# parameters in threshold order, its scheme and the indicators sharing it.
build_threshold_sets <- function(spec, plan) {
  ordered <- which(spec$family != "continuous")
  rows <- lapply(ordered, function(k) {
    i <- seq_csr(plan$ind_thr_ptr, k)
    unique(plan$ind_thr_par[i][plan$ind_thr_sign[i] == 1] + 1L)
  })
  scheme <- spec$scheme[ordered]
  key <- paste(scheme, vapply(rows, paste, "", collapse = ","))
  sets <- lapply(unique(key), function(set_key) {
    members <- which(key == set_key)
    list(par = rows[[members[[1]]]], scheme = unname(scheme[[members[[1]]]]),
         indicators = spec$indicators[ordered[members]])
  })
  check_symmetric_sharing(sets)
  sets
}

# A symmetric set may be shared only as a whole.
check_symmetric_sharing <- function(sets) {
  for (a in seq_along(sets)) for (b in seq_along(sets)) {
    overlap <- a < b && length(intersect(sets[[a]]$par, sets[[b]]$par)) > 0L
    if (overlap && "symmetric" %in% c(sets[[a]]$scheme, sets[[b]]$scheme)) {
      stop(sprintf("indicators %s and %s share some threshold labels but not all, or mix 'free' and 'symmetric' thresholds; symmetric thresholds can only be shared as a whole set.",
                   sets[[a]]$indicators[[1]], sets[[b]]$indicators[[1]]), call. = FALSE)
    }
  }
}
