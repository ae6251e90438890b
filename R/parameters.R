# The parameter table of a model: one slot per place a parameter appears,
# merged by label into rows, with `fixed =` applied.

new_slots <- function(name, block, type, free, start, label = "") {
  n <- length(name)
  data.frame(name = name, block = rep(block, length.out = n), type = rep(type, length.out = n),
             free = rep(free, length.out = n), start = rep(as.numeric(start), length.out = n),
             label = rep(label, length.out = n), stringsAsFactors = FALSE)
}

# Slots for places written in the syntax: a number fixes, a label shares,
# otherwise the parameter is free at its default start.
written_slots <- function(rows, name, block, type, start) {
  fixed <- rows$modifier == "fixed"
  new_slots(rep_len(name, nrow(rows)), block, type, free = !fixed,
            start = ifelse(fixed, rows$value, start), label = rows$label)
}

# The slot of a place: as written in the syntax, or its default.
place_slot <- function(statements, op, lhs, rhs, name, block, type, start, default_free) {
  rows <- statements[statements$op == op & statements$lhs == lhs & statements$rhs == rhs, ]
  if (nrow(rows)) return(written_slots(rows, name, block, type, start))
  new_slots(name, block, type, default_free, start)
}

structural_slots <- function(spec, statements) {
  per_latent <- lapply(spec$latent, function(l) {
    regressions <- statements[statements$op == "~" & statements$lhs == l, ]
    paths <- regressions[regressions$rhs %in% spec$latent, ]
    covs <- regressions[regressions$rhs %in% spec$covariate_paths[[l]], ]
    intercept <- regressions[regressions$rhs == "1", ]
    rbind(
      written_slots(paths, lavaan_name(l, "~", paths$rhs), "structural", "lv_path", 0),
      written_slots(covs, lavaan_name(l, "~", covs$rhs), "structural", "covariate_path", 0),
      written_slots(intercept, lavaan_name(l, "~1"), "structural", "lv_intercept", 0),
      place_slot(statements, "~~", l, l, lavaan_name(l, "~~", l), "structural", "lv_scale", 1, FALSE)
    )
  })
  do.call(rbind, per_latent)
}

measurement_slots <- function(spec, statements) {
  per_indicator <- lapply(spec$indicators, function(k) {
    continuous <- spec$family[[k]] == "continuous"
    loadings <- statements[statements$op == "=~" & statements$rhs == k, ]
    rbind(
      written_slots(loadings, lavaan_name(loadings$lhs, "=~", k), "measurement", "loading", 1),
      place_slot(statements, "~", k, "1", lavaan_name(k, "~1"), "measurement", "intercept", 0, continuous),
      place_slot(statements, "~~", k, k, lavaan_name(k, "~~", k), "measurement", "scale", 1, continuous)
    )
  })
  do.call(rbind, per_indicator)
}

# Where each threshold tau_1..tau_{J-1} of an indicator takes its value: the
# parameter (by name) and the sign. Free: tau_j = +q|tj. Symmetric: the upper
# half are parameters, the lower half their negatives, an odd middle is 0;
# binary: tau_1 = q|t1, fixed at 0.
threshold_layout <- function(k, n_cat, scheme) {
  n <- n_cat - 1L
  j <- seq_len(n)
  if (scheme == "free" || n == 1L) {
    return(data.frame(param = lavaan_name(k, "|t", j), sign = 1, stringsAsFactors = FALSE))
  }
  mirror <- n + 1L - j
  source <- ifelse(j > mirror, j, ifelse(j == mirror, j + 1L, mirror))
  sign <- ifelse(j > mirror, 1, ifelse(j == mirror, 0, -1))
  data.frame(param = lavaan_name(k, "|t", source), sign = sign, stringsAsFactors = FALSE)
}

threshold_slots <- function(spec, statements) {
  ordered <- spec$indicators[spec$family != "continuous"]
  empty <- new_slots(character(0), "thresholds", "threshold", TRUE, numeric(0))
  do.call(rbind, c(list(empty), lapply(ordered, indicator_threshold_slots,
                                       spec = spec, statements = statements)))
}

# The threshold parameters of one ordered indicator (sign +1 in its layout),
# as written in its `|` statement or free at evenly spaced starts.
indicator_threshold_slots <- function(k, spec, statements) {
  n_cat <- spec$categories[[k]]
  layout <- threshold_layout(k, n_cat, spec$scheme[[k]])
  declared <- statements[statements$op == "|" & statements$lhs == k, ]
  binary_symmetric <- spec$scheme[[k]] == "symmetric" && n_cat == 2L
  if (binary_symmetric) {
    check_mirrored_thresholds(declared, k)
    return(new_slots(layout$param, "thresholds", "threshold", free = FALSE, start = 0))
  }
  j <- which(layout$sign == 1)
  check_mirrored_thresholds(declared[!declared$position %in% j, ], k)
  start <- stats::qnorm(j / n_cat) * threshold_spread(spec, k)
  per_threshold <- lapply(seq_along(j), function(i) {
    written <- declared[declared$position == j[[i]], ]
    if (nrow(written)) return(written_slots(written, layout$param[[j[[i]]]], "thresholds", "threshold", start[[i]]))
    new_slots(layout$param[[j[[i]]]], "thresholds", "threshold", TRUE, start[[i]])
  })
  do.call(rbind, per_threshold)
}

# Standard deviation of the latent response at the default starts (loadings 1,
# latent scales 1, residual 1 or the logistic's pi / sqrt(3)).
threshold_spread <- function(spec, k) {
  residual_var <- if (spec$family[[k]] == "ordered_logit") pi^2 / 3 else 1
  sqrt(length(spec$loadings[[k]]) + residual_var)
}

# Under symmetric thresholds the lower half (and middle) mirror the upper
# half: a number there would contradict the mirror.
check_mirrored_thresholds <- function(mirrored, k) {
  mirrored <- mirrored[mirrored$modifier == "fixed", ]
  if (nrow(mirrored)) {
    syntax_error(mirrored$line[[1]], mirrored$text[[1]], sprintf(
      "fixes %s|%s, but '%s' has symmetric thresholds: the lower (and middle) thresholds mirror the upper ones, so fix an upper one instead",
      k, mirrored$rhs[[1]], k))
  }
}

# Labels written on mirrored symmetric thresholds name nothing; the same label
# used for a parameter elsewhere would be ambiguous.
check_mirrored_labels <- function(spec, statements, params) {
  declared <- statements[statements$op == "|" & nzchar(statements$label), ]
  for (i in seq_len(nrow(declared))) {
    k <- declared$lhs[[i]]
    if (spec$scheme[[k]] != "symmetric") next
    layout <- threshold_layout(k, spec$categories[[k]], "symmetric")
    is_parameter <- layout$sign[[declared$position[[i]]]] == 1 && nrow(layout) > 1L
    if (!is_parameter && declared$label[[i]] %in% params$name) {
      syntax_error(declared$line[[i]], declared$text[[i]], sprintf(
        "labels the mirrored threshold %s|%s '%s', which also names a parameter; with symmetric thresholds only the upper thresholds are parameters",
        k, declared$rhs[[i]], declared$label[[i]]))
    }
  }
}

choice_slots <- function(utility_terms) {
  coefs <- unique(utility_terms$coef)
  new_slots(coefs, "choice", "choice", TRUE, 0)
}

check_coefficient_names <- function(choice_part, slots, latent) {
  utility_terms <- choice_part$utility_terms
  syntax_keys <- c(slots$name[slots$block != "choice"], slots$label[nzchar(slots$label)])
  for (coef in unique(utility_terms$coef)) {
    clash <- if (coef %in% latent) "a latent variable" else if (coef %in% syntax_keys)
      "a parameter of the latent syntax" else ""
    if (nzchar(clash)) {
      alt <- choice_part$alternatives[[utility_terms$alt[match(coef, utility_terms$coef)]]]
      stop(sprintf("utility coefficient '%s' (alternative '%s') has the name of %s; rename the coefficient.",
                   coef, alt, clash), call. = FALSE)
    }
  }
}

# One row per distinct parameter (a label shared by several slots is one row,
# taking the first slot's block, type and start).
params_from_slots <- function(slots) {
  key <- ifelse(nzchar(slots$label), slots$label, slots$name)
  first <- !duplicated(key)
  for (label in unique(key[duplicated(key)])) {
    types <- unique(slots$type[key == label])
    if (length(types) > 1L) {
      stop(sprintf("label '%s' is shared by parameters of different kinds (%s); a label can only join parameters of one kind.",
                   label, paste(types, collapse = " and ")), call. = FALSE)
    }
  }
  params <- slots[first, c("name", "block", "free", "start", "label", "type")]
  params$name <- key[first]
  rownames(params) <- NULL
  list(params = params, slot_param = match(key, params$name))
}

apply_fixed <- function(params, fixed) {
  if (is.null(fixed) || length(fixed) == 0L) return(params)
  if (is.list(fixed)) fixed <- unlist(fixed)
  if (!is.numeric(fixed) || is.null(names(fixed)) || anyNA(fixed) || any(!nzchar(names(fixed)))) {
    stop("`fixed` must be a named numeric vector, e.g. c(\"LV=~q1\" = 1).", call. = FALSE)
  }
  repeated <- unique(names(fixed)[duplicated(names(fixed))])
  if (length(repeated)) {
    stop(sprintf("`fixed` names '%s' more than once; give each parameter one value.",
                 repeated[[1]]), call. = FALSE)
  }
  unknown <- setdiff(names(fixed), params$name)
  if (length(unknown)) {
    stop(sprintf("`fixed` names '%s', which is not a parameter of the model; close names: %s.",
                 unknown[[1]], paste0("'", close_names(unknown[[1]], params$name), "'", collapse = ", ")),
         call. = FALSE)
  }
  rows <- match(names(fixed), params$name)
  params$free[rows] <- FALSE
  params$start[rows] <- unname(fixed)
  params
}

close_names <- function(name, candidates, n = 5L) {
  distance <- utils::adist(name, candidates, ignore.case = TRUE)[1, ]
  candidates[order(distance)][seq_len(min(n, length(candidates)))]
}

check_fixed_scales <- function(params) {
  bad <- !params$free & ((params$type %in% c("scale", "random_spread") & params$start <= 0) |
                           (params$type == "lv_scale" & params$start < 0))
  if (any(bad)) {
    stop(sprintf("scale '%s' is fixed at %s; scales are standard deviations and must be positive.",
                 params$name[bad][[1]], format(params$start[bad][[1]])), call. = FALSE)
  }
}
