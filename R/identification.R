# Identification: the clearly unidentified models are refused with a message
# that says what to fix.

check_identification <- function(spec, params, plan, utility_terms, alternatives) {
  free <- function(par) params$free[par + 1L]
  # a parameter fixed at a non-zero value sets a scale
  sets_scale <- function(par) any(!params$free[par + 1L] & params$start[par + 1L] != 0)
  load_rows <- function(k) plan$ind_load_par[seq_csr(plan$ind_load_ptr, k)]
  thr_rows <- function(k) plan$ind_thr_par[seq_csr(plan$ind_thr_ptr, k)]
  k_index <- seq_along(spec$indicators)
  ordered <- spec$family != "continuous"
  # indicators whose thresholds share a parameter with indicator k (k included)
  sharing <- function(k) k_index[ordered & vapply(k_index, function(o) any(thr_rows(o) %in% thr_rows(k)), TRUE)]

  check_utility_shifts(free, plan, utility_terms, alternatives)
  for (l in seq_along(spec$latent)) {
    check_latent_scale(l, spec, plan, free, sets_scale)
    check_latent_intercept(l, spec, plan, free, thr_rows, utility_terms, length(alternatives))
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
# or utilities that it moves in a way no other coefficient can.
check_latent_intercept <- function(l, spec, plan, free, thr_rows, utility_terms, n_alt) {
  alpha <- plan$lv_alpha[[l]]
  name <- spec$latent[[l]]
  if (alpha < 0L || !free(alpha)) return(invisible())
  measured_by <- which(vapply(spec$loadings, function(x) name %in% x, TRUE))
  pins_location <- vapply(measured_by, function(k) {
    !free(plan$ind_intercept[[k]]) &&
      (spec$family[[k]] == "continuous" || spec$scheme[[k]] == "symmetric" || !all(free(thr_rows(k))))
  }, TRUE)
  if (any(pins_location)) return(invisible())
  in_utilities <- name %in% utility_terms$lv
  if (in_utilities && utilities_pin_intercept(name, free, plan, utility_terms, n_alt)) {
    return(invisible())
  }
  absorbed <- if (in_utilities) {
    terms <- unique(utility_term_labels(utility_terms)[utility_terms$lv %in% name])
    sprintf(", and in the utilities the other terms absorb its effect (%s)",
            paste0("`", terms, "`", collapse = ", "))
  } else ""
  stop(sprintf("the intercept of latent variable '%s' ('%s ~ 1') is not identified: none of its indicators has a fixed location%s; remove '%s ~ 1', or fix an indicator's intercept and one of its thresholds.",
               name, name, absorbed, name), call. = FALSE)
}

# ---------------------------------------------------------------------------
# The utilities
# ---------------------------------------------------------------------------

# Only differences between utilities matter, so coefficients that together
# can add the same amount to every alternative's utility are not identified:
# a constant on every alternative, or a latent variable in every utility.
# Terms are grouped by what multiplies their coefficient (1, a latent
# variable, a data expression, or their product), which has one value across
# the utilities of a task: all read the same data row.
check_utility_shifts <- function(free, plan, utility_terms, alternatives) {
  if (!nrow(utility_terms)) return(invisible())
  n_alt <- length(alternatives)
  multiplier <- paste(utility_terms$lv, utility_data_keys(utility_terms))
  coef <- plan$util_par
  for (group in unique(multiplier)) {
    in_group <- multiplier == group
    # a coefficient that also appears elsewhere is not a pure shift
    own <- setdiff(coef[in_group & free(coef)], coef[!in_group])
    rows <- which(in_group & coef %in% own)
    if (!length(rows) || !spans_ones(term_patterns(utility_terms$alt[rows], coef[rows], n_alt))) next
    keep <- rows[[length(rows)]]
    for (m in rev(rows)) {
      others <- setdiff(rows, m)
      if (!spans_ones(term_patterns(utility_terms$alt[others], coef[others], n_alt))) {
        keep <- m
        break
      }
    }
    labels <- paste0("`", unique(utility_term_labels(utility_terms)[rows]), "`")
    stop(sprintf("the utilities are not identified: %s the same amount to the utility of every alternative, and only differences between utilities matter; remove one such term, e.g. `%s` from the utility of `%s`.",
                 if (length(labels) == 1L) paste(labels, "adds") else
                   paste(paste(labels, collapse = ", "), "together can add"),
                 utility_term_labels(utility_terms)[[keep]],
                 alternatives[[utility_terms$alt[[keep]]]]),
         call. = FALSE)
  }
  invisible()
}

# Whether a shift of latent variable `name` moves the utilities in a way no
# other coefficient can: for the terms holding it (grouped by their data),
# the moves it makes lie outside what the coefficients of the same data
# without the latent variable (constants for plain `lambda * LV`) and a
# common shift of all utilities can make.
utilities_pin_intercept <- function(name, free, plan, utility_terms, n_alt) {
  data_key <- utility_data_keys(utility_terms)
  coef <- plan$util_par
  plain <- is.na(utility_terms$lv)
  for (key in unique(data_key[utility_terms$lv %in% name])) {
    moved <- which(utility_terms$lv %in% name & data_key == key)
    in_group <- plain & data_key == key
    absorbing <- setdiff(coef[in_group & free(coef)], coef[!in_group])
    rows <- which(in_group & coef %in% absorbing)
    absorbed <- cbind(1, term_patterns(utility_terms$alt[rows], coef[rows], n_alt))
    moves <- term_patterns(utility_terms$alt[moved], coef[moved], n_alt)
    if (qr(cbind(absorbed, moves))$rank > qr(absorbed)$rank) return(TRUE)
  }
  FALSE
}

# The data part of each utility term as text ("1" for a constant).
utility_data_keys <- function(utility_terms) {
  vapply(utility_terms$value, function(v) if (is.null(v)) "1" else deparse1(v), "")
}

# Each term as written: coefficient * latent variable * data.
utility_term_labels <- function(utility_terms) {
  data <- utility_data_keys(utility_terms)
  vapply(seq_len(nrow(utility_terms)), function(m) {
    parts <- c(utility_terms$coef[[m]], utility_terms$lv[[m]], if (data[[m]] != "1") data[[m]])
    paste(parts[!is.na(parts)], collapse = " * ")
  }, "")
}

# Alternatives x coefficients: how many terms of each coefficient each
# alternative's utility holds.
term_patterns <- function(alt, coef, n_alt) {
  ids <- unique(coef)
  patterns <- matrix(0, n_alt, length(ids))
  for (i in seq_along(alt)) {
    j <- match(coef[[i]], ids)
    patterns[alt[[i]], j] <- patterns[alt[[i]], j] + 1
  }
  patterns
}

# Whether a combination of the columns adds 1 to every alternative.
spans_ones <- function(patterns) {
  if (!ncol(patterns)) return(FALSE)
  all(abs(qr.resid(qr(patterns), rep(1, nrow(patterns)))) < 1e-8)
}
