# Identification: the clearly unidentified models are refused with a message
# that says what to fix.

check_identification <- function(spec, params, plan, utility_terms) {
  free <- function(par) params$free[par + 1L]
  # a parameter fixed at a non-zero value sets a scale
  sets_scale <- function(par) any(!params$free[par + 1L] & params$start[par + 1L] != 0)
  load_rows <- function(k) plan$ind_load_par[seq_csr(plan$ind_load_ptr, k)]
  thr_rows <- function(k) plan$ind_thr_par[seq_csr(plan$ind_thr_ptr, k)]
  k_index <- seq_along(spec$indicators)
  ordered <- spec$family != "continuous"
  # indicators whose thresholds share a parameter with indicator k (k included)
  sharing <- function(k) k_index[ordered & vapply(k_index, function(o) any(thr_rows(o) %in% thr_rows(k)), TRUE)]

  for (l in seq_along(spec$latent)) {
    check_latent_scale(l, spec, plan, free, sets_scale)
    check_latent_intercept(l, spec, plan, free, thr_rows, utility_terms)
  }
  for (k in k_index[ordered]) {
    name <- spec$indicators[[k]]
    thresholds_free <- all(free(thr_rows(k)))
    if (free(plan$ind_intercept[[k]]) && thresholds_free && spec$scheme[[k]] == "free" &&
        all(free(plan$ind_intercept[sharing(k)]))) {
      stop(sprintf("the intercept of indicator '%s' is not identified: it is free and so are all its thresholds; fix %s's intercept (remove '%s ~ 1') or fix one of its thresholds (e.g. '%s | 0*t1 + t2 + ...').",
                   name, name, name, name), call. = FALSE)
    }
    scale_set <- sets_scale(c(thr_rows(k), load_rows(k), plan$ind_intercept[[k]]))
    if (free(plan$ind_scale[[k]]) && !scale_set && all(free(plan$ind_scale[sharing(k)]))) {
      stop(sprintf("the scale of indicator '%s' is not identified: '%s ~~ %s' is free and none of its thresholds and loadings is fixed at a non-zero value; fix one loading (e.g. '%s =~ 1*%s') or a threshold, or remove '%s ~~ %s'.",
                   name, name, name, spec$loadings[[name]][[1]], name, name, name), call. = FALSE)
    }
  }
}

seq_csr <- function(ptr, i) {
  seq_len(ptr[[i + 1L]] - ptr[[i]]) + ptr[[i]]
}

# A free latent error scale needs a loading fixed at a non-zero value (or one
# shared with another latent variable, whose scale may be set there).
check_latent_scale <- function(l, spec, plan, free, sets_scale) {
  if (!free(plan$lv_sigma[[l]])) return(invisible())
  on_l <- plan$ind_load_lv == l - 1L
  shared <- plan$ind_load_par[on_l] %in% plan$ind_load_par[!on_l]
  if (!sets_scale(plan$ind_load_par[on_l]) && !any(shared)) {
    name <- spec$latent[[l]]
    first <- names(Filter(function(x) name %in% x, spec$loadings))[[1]]
    stop(sprintf("the scale of latent variable '%s' is not identified: '%s ~~ %s' is free and no loading is fixed at a non-zero value; fix one loading, e.g. '%s =~ 1*%s', or remove '%s ~~ %s'.",
                 name, name, name, name, first, name, name), call. = FALSE)
  }
}

# A free latent intercept needs an indicator with a fixed location (fixed
# intercept, and a continuous, symmetric or partly fixed threshold scale),
# unless the latent variable enters the utilities.
check_latent_intercept <- function(l, spec, plan, free, thr_rows, utility_terms) {
  alpha <- plan$lv_alpha[[l]]
  name <- spec$latent[[l]]
  if (alpha < 0L || !free(alpha) || name %in% utility_terms$lv) return(invisible())
  measured_by <- which(vapply(spec$loadings, function(x) name %in% x, TRUE))
  pins_location <- vapply(measured_by, function(k) {
    !free(plan$ind_intercept[[k]]) &&
      (spec$family[[k]] == "continuous" || spec$scheme[[k]] == "symmetric" || !all(free(thr_rows(k))))
  }, TRUE)
  if (!any(pins_location)) {
    stop(sprintf("the intercept of latent variable '%s' ('%s ~ 1') is not identified: none of its indicators has a fixed location; remove '%s ~ 1', or fix an indicator's intercept and one of its thresholds.",
                 name, name, name), call. = FALSE)
  }
}
