# The model: syntax and utilities in, parameter table and plan out.
# notes/architecture.md (sections 1-2) fixes the shape of what is built here.

#' Specify an integrated choice and latent variable model
#'
#' Reads the latent part (lavaan-style syntax) and the utilities (one formula
#' per alternative) into a model object holding the parameter table and the
#' index plan the compiled engine reads. Nothing is estimated here; pass the
#' model to [iclv()].
#'
#' @param latent The latent part as lavaan model syntax, one string (several
#'   lines, or statements separated by `;`; `#` starts a comment; a line
#'   ending in `+` continues on the next):
#'   * `LV =~ q1 + q2 + q3` measures `LV` by indicators (data columns); an
#'     indicator may load on several latent variables.
#'   * `LV ~ age + female + LV2` explains `LV` by covariates (data columns) and
#'     other latent variables (recursive models only).
#'   * `LV ~ 1` frees the latent intercept, `q1 ~ 1` an indicator intercept.
#'   * `LV ~~ LV` frees the structural error scale, `q1 ~~ q1` an indicator's
#'     residual scale.
#'   * `q1 | t1 + t2 + t3 + t4` declares the thresholds of an ordered
#'     indicator (here 5 categories).
#'   * Modifiers: `a*x` labels a parameter (the same label in several places
#'     is one parameter, named `a`); `0.5*x` fixes it at 0.5; `NA*x` frees it.
#' @param utility `NULL` (no choice part) or a named list of one-sided
#'   formulas, one per alternative, e.g.
#'   `list(A = ~ asc_A + b_price * price_A + lambda * LV, B = ~ b_price * price_B, none = ~ 0)`.
#' @param choice Name of the column with the chosen alternative (needed with
#'   `utility`).
#' @param id Name of the column identifying individuals.
#' @param availability `NULL` (all alternatives always available) or a named
#'   list mapping alternatives to availability columns (1 = available).
#' @param indicators Family of the indicators: `"ordered_probit"`,
#'   `"ordered_logit"` or `"continuous"`; one value for all, or a named vector
#'   with an optional `.default`, e.g.
#'   `c(.default = "ordered_probit", q7 = "continuous")`.
#' @param thresholds Threshold scheme of ordered indicators: `"free"` or
#'   `"symmetric"`; one value or a named vector with `.default`.
#' @param categories Number of categories of ordered indicators (at least 2);
#'   one value or a named vector with `.default`. A `q | t1 + ...` statement
#'   sets it to the number of thresholds plus one.
#' @param fixed Named numeric vector fixing parameters by their name in the
#'   parameter table, e.g. `c("attitude=~q1" = 1, b_price = -0.5)`.
#'
#' @details
#' **Parameters and their names.** Each distinct parameter is one row of the
#' table [iclv_parameters()] returns, named as lavaan names it (`LV=~q1`,
#' `LV~age`, `LV~LV2`, `LV~1`, `LV~~LV`, `q1~1`, `q1~~q1`, `q1|t1`), by its
#' label when it has one, or by the coefficient name in the utilities.
#' Scale parameters (`LV~~LV`, `q1~~q1`) are **standard deviations**, not
#' variances as in lavaan.
#'
#' **Default normalisation.** Structural error scales `LV~~LV` are fixed at 1
#' and latent intercepts are 0 (absent) unless written. Ordered indicators
#' have their residual scale fixed at 1 and their intercept fixed at 0 (the
#' thresholds carry the location). Continuous indicators have a free intercept
#' (start 0) and a free scale (start 1). Loadings start at 1, structural paths
#' and choice coefficients at 0; thresholds start evenly spaced on the normal
#' scale ([iclv()] refines the starts from the data). The normalisation of
#' Biogeme's examples is the alternative: fix a loading (`LV =~ 1*q1 + q2`)
#' and free the error scale (`LV ~~ LV`).
#'
#' **Thresholds.** With `"free"` thresholds an ordered indicator with J
#' categories has J - 1 free thresholds. With `"symmetric"` thresholds the
#' lower half mirrors the upper half around 0 and only the upper thresholds
#' are parameters (named `q|t3`, `q|t4` for J = 5); an odd middle threshold
#' is 0, and a binary indicator has its single threshold `q|t1` fixed at 0.
#' Indicators whose thresholds carry the same labels
#' (`q1 | a*t1 + b*t2 + c*t3 + d*t4`, the same on `q2`) share one set.
#'
#' **Utilities** are linear in the parameters. Each term (split at `+`) is a
#' product whose *first* factor is the name of its coefficient; the other
#' factors are data columns, R expressions of data columns such as
#' `(brand == "Artemis")` or `log(income)`, and at most one latent variable.
#' A term that is only a coefficient is an alternative-specific constant. A
#' coefficient used in several terms or alternatives is one parameter. `~ 0`
#' gives an alternative no terms (utility 0).
#'
#' **Refused models.** Clearly unidentified specifications stop with a message
#' that says what to fix: a latent variable without indicators; a free
#' latent error scale with all its loadings free; a free intercept on an
#' ordered indicator whose thresholds are all free; a free residual scale on
#' an ordered indicator whose thresholds and loadings are all free; a free
#' latent intercept none of whose indicators has a fixed location (when the
#' latent variable does not enter the utilities).
#'
#' @return An object of class `iclv_model`: a list with `latent`,
#'   `indicators`, `family`, `categories`, `covariates`, `alternatives`,
#'   `utility_terms`, `choice`, `id`, `availability`, `params` (the parameter
#'   table), `plan` (0-based index arrays for the engine), `threshold_sets` and
#'   `syntax`.
#' @seealso [iclv_parameters()] for the parameter table.
#' @export
#' @examples
#' model <- iclv_model(
#'   latent = "
#'     attitude =~ q1 + q2 + q3
#'     attitude ~ age + female",
#'   utility = list(
#'     car  = ~ asc_car + b_cost * cost_car + lambda * attitude,
#'     bus  = ~ b_cost * cost_bus,
#'     walk = ~ 0),
#'   choice = "mode")
#' model
#' iclv_parameters(model)
iclv_model <- function(latent, utility = NULL, choice = NULL, id = "id",
                       availability = NULL, indicators = "ordered_probit",
                       thresholds = "free", categories = 5L, fixed = NULL) {
  statements <- parse_latent_syntax(latent)
  spec <- read_latent_structure(statements)
  spec <- c(spec, read_indicator_settings(spec, statements, indicators, categories, thresholds))
  choice_part <- read_choice_part(utility, choice, id, availability, spec$latent)

  slots <- rbind(structural_slots(spec, statements),
                 measurement_slots(spec, statements),
                 threshold_slots(spec, statements),
                 choice_slots(choice_part$utility_terms))
  check_coefficient_names(choice_part, slots, spec$latent)
  table <- params_from_slots(slots)
  check_mirrored_labels(spec, statements, table$params)
  params <- apply_fixed(table$params, fixed)
  check_fixed_scales(params)

  index <- function(name) table$slot_param[match(name, slots$name)] - 1L
  covariates <- unique(unlist(spec$covariate_paths[spec$latent], use.names = FALSE))
  if (is.null(covariates)) covariates <- character(0)
  plan <- build_plan(spec, covariates, choice_part, index)
  threshold_sets <- build_threshold_sets(spec, plan)
  check_identification(spec, params, plan, choice_part$utility_terms)

  structure(list(
    latent = spec$latent,
    indicators = spec$indicators,
    family = spec$family,
    categories = spec$categories,
    covariates = covariates,
    alternatives = choice_part$alternatives,
    utility_terms = choice_part$utility_terms,
    choice = choice_part$choice,
    id = choice_part$id,
    availability = choice_part$availability,
    params = params,
    plan = plan,
    threshold_sets = threshold_sets,
    syntax = paste(latent, collapse = "\n")
  ), class = "iclv_model")
}

#' The parameter table of a model
#'
#' @param model An `iclv_model` from [iclv_model()].
#' @return A data frame with one row per distinct parameter and columns
#'   `name`, `block` (`"structural"`, `"measurement"`, `"thresholds"`,
#'   `"choice"`), `free`, `start` (the value of a fixed parameter), `label`
#'   (`""` when none) and `type` (`"loading"`, `"intercept"`, `"scale"`,
#'   `"threshold"`, `"lv_intercept"`, `"lv_scale"`, `"covariate_path"`,
#'   `"lv_path"`, `"choice"`). Scales are standard deviations.
#' @export
#' @examples
#' model <- iclv_model("LV =~ q1 + q2 + q3; LV ~ age")
#' iclv_parameters(model)
iclv_parameters <- function(model) {
  if (!inherits(model, "iclv_model")) {
    stop("`model` must be an iclv_model from iclv_model().", call. = FALSE)
  }
  model$params
}

#' @export
print.iclv_model <- function(x, ...) {
  cat("ICLV model\n")
  cat("  latent variables: ", paste(x$latent, collapse = ", "), "\n", sep = "")
  for (family in unique(x$family)) {
    cat(sprintf("  %s indicators: %s\n", family,
                paste(x$indicators[x$family == family], collapse = ", ")))
  }
  if (length(x$covariates)) {
    cat("  covariates: ", paste(x$covariates, collapse = ", "), "\n", sep = "")
  }
  if (length(x$alternatives)) {
    cat(sprintf("  alternatives: %s (choice '%s', id '%s')\n",
                paste(x$alternatives, collapse = ", "), x$choice, x$id))
  } else {
    cat("  no choice part\n")
  }
  cat(sprintf("  parameters: %d free, %d fixed\n", sum(x$params$free), sum(!x$params$free)))
  invisible(x)
}

# ---------------------------------------------------------------------------
# Indicator families, categories and threshold schemes
# ---------------------------------------------------------------------------

indicator_families <- c("ordered_probit", "ordered_logit", "continuous")
family_codes <- c(ordered_probit = 0L, ordered_logit = 1L, continuous = 2L)

read_indicator_settings <- function(spec, statements, indicators, categories, thresholds) {
  k_names <- spec$indicators
  family <- per_indicator(indicators, k_names, "indicators", "ordered_probit")
  bad <- setdiff(unique(family$value), indicator_families)
  if (length(bad)) {
    stop(sprintf("`indicators`: unknown indicator family '%s' (use %s).", bad[[1]],
                 paste0("'", indicator_families, "'", collapse = ", ")), call. = FALSE)
  }
  scheme <- per_indicator(thresholds, k_names, "thresholds", "free")
  bad <- setdiff(unique(scheme$value), c("free", "symmetric"))
  if (length(bad)) {
    stop(sprintf("`thresholds`: unknown threshold scheme '%s' (use 'free' or 'symmetric').", bad[[1]]),
         call. = FALSE)
  }
  ordered <- family$value != "continuous"
  n_cat <- resolve_categories(statements, k_names, ordered,
                              per_indicator(categories, k_names, "categories", 5L))
  refuse_continuous_settings(k_names[!ordered & scheme$explicit], "thresholds")
  scheme$value[!ordered] <- NA_character_
  list(family = family$value, categories = n_cat, scheme = scheme$value)
}

# A scalar, or a named vector whose names are indicators or ".default".
per_indicator <- function(setting, indicators, arg, fallback) {
  if (is.list(setting)) setting <- unlist(setting)
  if (length(setting) == 0L || anyNA(setting)) {
    stop(sprintf("`%s` must be one value or a named vector with '.default'.", arg), call. = FALSE)
  }
  keys <- names(setting)
  if (is.null(keys)) {
    if (length(setting) != 1L) {
      stop(sprintf("`%s` must be one value or a named vector (names: indicators or '.default').", arg),
           call. = FALSE)
    }
    keys <- ".default"
  }
  unknown <- setdiff(keys, c(".default", indicators))
  if (length(unknown)) {
    stop(sprintf("`%s` names '%s', which is not an indicator of the model (indicators: %s).",
                 arg, unknown[[1]], paste(indicators, collapse = ", ")), call. = FALSE)
  }
  default <- if (".default" %in% keys) setting[[match(".default", keys)]] else fallback
  value <- rep(default, length(indicators))
  explicit <- indicators %in% keys
  value[explicit] <- setting[match(indicators[explicit], keys)]
  names(value) <- indicators
  list(value = value, explicit = stats::setNames(explicit, indicators))
}

refuse_continuous_settings <- function(named, arg) {
  if (length(named)) {
    stop(sprintf("`%s` names '%s', which is a continuous indicator.", arg, named[[1]]), call. = FALSE)
  }
}

# Categories: the threshold count of a `q | t1 + ...` statement wins over the
# argument; an explicit per-indicator value must agree with it.
resolve_categories <- function(statements, indicators, ordered, categories) {
  refuse_continuous_settings(indicators[!ordered & categories$explicit], "categories")
  declared <- statements[statements$op == "|", ]
  value <- suppressWarnings(as.numeric(categories$value))
  whole <- !is.na(value) & value == round(value) & value >= 2
  bad <- ordered & !whole & !indicators %in% declared$lhs
  if (any(bad)) {
    k <- indicators[bad][[1]]
    stop(sprintf("ordered indicator '%s' needs a whole number of categories of at least 2 (got %s).",
                 k, categories$value[[k]]), call. = FALSE)
  }
  n_cat <- as.integer(ifelse(whole, value, NA))
  names(n_cat) <- indicators
  for (k in unique(declared$lhs)) {
    rows <- declared[declared$lhs == k, ]
    if (!ordered[[k]]) {
      syntax_error(rows$line[[1]], rows$text[[1]],
                   sprintf("gives thresholds to '%s', which is a continuous indicator", k))
    }
    from_syntax <- nrow(rows) + 1L
    if (categories$explicit[[k]] && !identical(n_cat[[k]], from_syntax)) {
      stop(sprintf("indicator '%s' has %d thresholds in the syntax (line %d), so %d categories, but `categories` says %s.",
                   k, nrow(rows), rows$line[[1]], from_syntax, categories$value[[k]]), call. = FALSE)
    }
    n_cat[[k]] <- from_syntax
  }
  n_cat[!ordered] <- NA_integer_
  n_cat
}

# ---------------------------------------------------------------------------
# Parameter slots: one per place a parameter appears, in table order
# ---------------------------------------------------------------------------

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
  bad <- !params$free & ((params$type == "scale" & params$start <= 0) |
                           (params$type == "lv_scale" & params$start < 0))
  if (any(bad)) {
    stop(sprintf("scale '%s' is fixed at %s; scales are standard deviations and must be positive.",
                 params$name[bad][[1]], format(params$start[bad][[1]])), call. = FALSE)
  }
}

# ---------------------------------------------------------------------------
# The choice part
# ---------------------------------------------------------------------------

read_choice_part <- function(utility, choice, id, availability, latent) {
  check_column_name(id, "id")
  if (is.null(utility)) {
    if (!is.null(choice) || !is.null(availability)) {
      stop("`choice` and `availability` need `utility` (the choice part of the model).", call. = FALSE)
    }
    terms <- empty_utility_terms()
    terms$value <- list()
    return(list(alternatives = character(0), utility_terms = terms,
                choice = NULL, id = id, availability = NULL))
  }
  check_column_name(choice, "choice")
  alternatives <- names(utility)
  list(alternatives = alternatives,
       utility_terms = parse_utilities(utility, latent),
       choice = choice, id = id,
       availability = read_availability(availability, alternatives))
}

check_column_name <- function(x, arg) {
  if (!is.character(x) || length(x) != 1L || is.na(x) || !nzchar(x)) {
    stop(sprintf("`%s` must be the name of a data column (one string).", arg), call. = FALSE)
  }
}

read_availability <- function(availability, alternatives) {
  if (is.null(availability)) return(NULL)
  availability <- as.list(availability)
  unknown <- setdiff(names(availability), alternatives)
  if (is.null(names(availability)) || any(!nzchar(names(availability)))) {
    stop("`availability` must be a named list: alternative = availability column.", call. = FALSE)
  }
  if (length(unknown)) {
    stop(sprintf("`availability` names '%s', which is not an alternative (alternatives: %s).",
                 unknown[[1]], paste(alternatives, collapse = ", ")), call. = FALSE)
  }
  for (alt in names(availability)) check_column_name(availability[[alt]], paste0("availability$", alt))
  availability
}

# ---------------------------------------------------------------------------
# The plan: 0-based index arrays for the engine (architecture.md section 2)
# ---------------------------------------------------------------------------

build_plan <- function(spec, covariates, choice_part, index) {
  c(structural_plan(spec, covariates, index),
    measurement_plan(spec, index),
    choice_plan(choice_part, spec$latent, index))
}

# CSR pointer from the lengths of consecutive groups.
csr_pointer <- function(groups) {
  as.integer(c(0L, cumsum(lengths(groups))))
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

# ---------------------------------------------------------------------------
# Identification: refuse the clear cases, saying what to fix
# ---------------------------------------------------------------------------

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
