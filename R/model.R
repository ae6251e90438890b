# The model: syntax and utilities in, parameter table and plan out.
# notes/architecture.md (sections 1-2) fixes the shape of what is built here.

#' Specify an integrated choice and latent variable model
#'
#' Reads the latent part (lavaan-style syntax) and the utilities (one formula
#' per alternative) into a model object holding the parameter table and the
#' index plan the compiled engine reads. Nothing is estimated here; pass the
#' model to [iclv()].
#'
#' @param latent The latent part as lavaan model syntax (`NULL` for a model
#'   without latent variables, which then needs `random`), one string (several
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
#'   `utility`): the alternatives' names (character or factor), or numbers
#'   when `choice_codes` says which number stands for which alternative.
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
#' @param choice_codes `NULL` (the choice column holds the alternatives'
#'   names) or a named numeric vector giving the code of every alternative in
#'   the choice column, e.g. `c(car = 1, train = 2, bus = 3)`. Numbers in the
#'   choice column are refused without it: iclv does not guess that 1 is the
#'   first alternative of `utility`.
#' @param random `NULL`, or a named list making utility coefficients random
#'   across individuals (constant over one individual's tasks),
#'   coefficient = distribution: `"normal"`, `"lognormal"` (positive),
#'   `"neg_lognormal"` (negative), `"uniform"` or `"triangular"`; e.g.
#'   `list(b_price = "neg_lognormal", b_organic = "normal")`. See **Random
#'   coefficients**.
#' @param correlated `FALSE` (independent random coefficients), `TRUE` (a
#'   full Cholesky factor between all normal-based ones: normal, lognormal
#'   and neg_lognormal) or the names of those that are correlated.
#' @param task Name of the column numbering the choice tasks of an
#'   individual. By default a column named `task`, where the data have one.
#'   It is used only to check that each (id, task) pair has one row (see
#'   **Long data**).
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
#' **Random coefficients** (mixed logit). With `random`, each named
#' coefficient varies across individuals: \eqn{\beta_n = g(z_n)}, with
#' \eqn{z_n = b + s\,h(\xi_n)}{z_n = b + s h(xi_n)} and
#' \eqn{\xi_n \sim N(0, 1)}{xi_n ~ N(0, 1)}, where the location `b` keeps
#' the coefficient's name (`b_price`) and the spread `s > 0` is named
#' `b_price~~b_price`:
#' * `normal`: \eqn{\beta = b + s\xi}{beta = b + s xi} (mean `b`, standard
#'   deviation `s`);
#' * `lognormal`: \eqn{\beta = \exp(b + s\xi)}{beta = exp(b + s xi)}, and
#'   `neg_lognormal`: \eqn{\beta = -\exp(b + s\xi)}{beta = -exp(b + s xi)}
#'   (`b` and `s` are the mean and standard deviation of the underlying
#'   normal);
#' * `uniform`: \eqn{\beta}{beta} uniform on `b - s` to `b + s`;
#' * `triangular`: \eqn{\beta}{beta} symmetric triangular on `b - s` to
#'   `b + s`, peaked at `b`.
#'
#' Each random coefficient is one more integration dimension, after the latent
#' variables: a user's draws array is individuals x draws x (latent
#' variables, then random coefficients in the order of `random`), and every
#' draw type, quadrature rule and adaptive rule covers them. With
#' `correlated`, the underlying normals of the named coefficients share a
#' lower-triangular Cholesky factor `L`: \eqn{z_a = b_a + \sum_{c \le a}
#' L_{ac}\xi_c}{z_a = b_a + sum_(c <= a) L[a, c] xi_c}, in the order of
#' `random`. Its diagonal entries are the spreads `a~~a`; the entry below the
#' diagonal in row `a` and column `c` is the parameter `a~~c` (free, start
#' 0). The covariance of the underlying normals is `L L'`. A random
#' coefficient's terms cannot hold a latent variable; to let the location
#' depend on a latent variable or a covariate, add a term with its own
#' coefficient (`b_price * price_A + g * price_A * attitude`). `latent` may
#' be `NULL` when `random` is given: a panel mixed logit. Standard errors
#' of the locations, spreads and Cholesky entries come from the analytic
#' Hessian, as every other parameter's (`vignette("likelihood")`, section
#' 7).
#'
#' **The choice column.** It holds the chosen alternative of each task as
#' its name (character or factor, e.g. `"car"`), or as a number when
#' `choice_codes` maps the alternatives to their numbers, e.g.
#' `choice_codes = c(car = 2, train = 3, bus = 1)` for a column coded as
#' `as.integer(factor(mode))` (levels in alphabetical order: bus, car,
#' train). Without `choice_codes`, numbers are refused.
#'
#' **Long data.** iclv reads wide data: one row per choice task, with the
#' attributes of each alternative in their own columns (`cost_car`,
#' `cost_bus`, ...) and the chosen alternative in the choice column;
#' indicators and covariates repeat on every row of an individual. Data with
#' one row per alternative (long data) are refused when the `task` column
#' repeats within an individual, when the choice column holds only 0 and 1
#' (or `TRUE` and `FALSE`), or, without a `task` column, when every
#' individual's rows come in runs of one row per alternative that all carry
#' the same choice. Long data `long` with columns `id`, `task`, `alt` (the
#' alternative's name), attributes `cost` and `time`, and `chosen` (1 on the
#' chosen alternative's row) become wide with [stats::reshape()]:
#' ```
#' chosen <- long[long$chosen == 1, c("id", "task", "alt")]
#' names(chosen)[3] <- "choice"
#' wide <- reshape(long[names(long) != "chosen"], direction = "wide",
#'                 idvar = c("id", "task"), timevar = "alt",
#'                 v.names = c("cost", "time"), sep = "_")
#' wide <- merge(wide, chosen, by = c("id", "task"))
#' ```
#' The attributes are then `cost_car`, `time_car`, `cost_bus`, ..., and the
#' other columns (indicators, covariates) are kept as they are.
#'
#' **Refused models.** Clearly unidentified specifications stop with a message
#' that says what to fix: a latent variable without indicators; a free
#' latent error scale with all its loadings free; a free intercept on an
#' ordered indicator whose thresholds are all free; a free residual scale on
#' an ordered indicator whose thresholds and loadings are all free; a free
#' latent intercept none of whose indicators has a fixed location, when the
#' utilities do not pin it either (alternative-specific constants absorb it
#' where the latent variable enters the utility of an alternative that has
#' one); and utility terms that can add the same amount to every
#' alternative's utility (only differences between utilities matter): a
#' constant on every alternative, or a latent variable (or a data column)
#' that enters every utility with one shared coefficient, or with its own
#' coefficient in every utility.
#'
#' @return An object of class `iclv_model`: a list with `latent`,
#'   `indicators`, `family`, `categories`, `covariates`, `alternatives`,
#'   `utility_terms`, `choice`, `choice_codes`, `id`, `task`, `availability`,
#'   `params` (the parameter table), `plan` (0-based index arrays for the
#'   engine), `threshold_sets`, `random` (a data frame of the random
#'   coefficients: `coef`, `distribution`, `correlated`) and `syntax`.
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
#'
#' # A choice column coded 1 = bus, 2 = car (e.g. as.integer(factor(mode))):
#' iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(car = ~ asc_car + b_cost * cost_car + lambda * attitude,
#'                  bus = ~ b_cost * cost_bus),
#'   choice = "mode", choice_codes = c(car = 2, bus = 1))
iclv_model <- function(latent = NULL, utility = NULL, choice = NULL, id = "id",
                       availability = NULL, indicators = "ordered_probit",
                       thresholds = "free", categories = 5L, fixed = NULL,
                       choice_codes = NULL, task = NULL, random = NULL, correlated = FALSE) {
  if (is.null(latent) && is.null(random)) {
    stop("`latent` (the latent model syntax) is missing; a model without latent variables needs `random` (a mixed logit).",
         call. = FALSE)
  }
  statements <- if (is.null(latent)) no_latent_statements() else parse_latent_syntax(latent)
  spec <- read_latent_structure(statements)
  spec <- c(spec, read_indicator_settings(spec, statements, indicators, categories, thresholds))
  choice_part <- read_choice_part(utility, choice, id, availability, spec$latent,
                                  choice_codes, task)
  if (!is.null(random) && is.null(utility)) {
    stop("`random` needs `utility` (the choice part of the model).", call. = FALSE)
  }
  random_table <- read_random(random, correlated, choice_part$utility_terms, fixed)

  slots <- rbind(structural_slots(spec, statements),
                 measurement_slots(spec, statements),
                 threshold_slots(spec, statements),
                 choice_slots(choice_part$utility_terms),
                 random_slots(random_table))
  check_coefficient_names(choice_part, slots, spec$latent)
  table <- params_from_slots(slots)
  check_mirrored_labels(spec, statements, table$params)
  params <- apply_fixed(table$params, fixed)
  check_fixed_scales(params)

  index <- function(name) table$slot_param[match(name, slots$name)] - 1L
  covariates <- unique(unlist(spec$covariate_paths[spec$latent], use.names = FALSE))
  if (is.null(covariates)) covariates <- character(0)
  plan <- build_plan(spec, covariates, choice_part, index, n_par = nrow(params), random_table)
  threshold_sets <- build_threshold_sets(spec, plan)
  # For identification a random coefficient's terms count as its location's.
  location_plan <- plan
  location_plan$util_par <- as.integer(index(choice_part$utility_terms$coef))
  check_identification(spec, params, location_plan, choice_part$utility_terms,
                       choice_part$alternatives)

  structure(list(
    latent = spec$latent,
    indicators = spec$indicators,
    family = spec$family,
    categories = spec$categories,
    covariates = covariates,
    alternatives = choice_part$alternatives,
    utility_terms = choice_part$utility_terms,
    choice = choice_part$choice,
    choice_codes = choice_part$choice_codes,
    id = choice_part$id,
    task = choice_part$task,
    availability = choice_part$availability,
    params = params,
    plan = plan,
    threshold_sets = threshold_sets,
    random = random_table,
    syntax = paste(latent, collapse = "\n"),
    arguments = model_arguments(as.list(environment())[names(formals(iclv_model))])
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
#'   `"lv_path"`, `"choice"`, and for random coefficients `"random_spread"`
#'   and `"random_chol"`; a random coefficient's location keeps the type
#'   `"choice"`). Scales and spreads are standard deviations.
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
  refuse_unused_arguments(..., .fun = "print()")
  cat("ICLV model\n")
  if (length(x$latent)) cat("  latent variables: ", paste(x$latent, collapse = ", "), "\n", sep = "")
  for (family in unique(x$family)) {
    cat(sprintf("  %s indicators: %s\n", family,
                paste(x$indicators[x$family == family], collapse = ", ")))
  }
  if (length(x$covariates)) {
    cat("  covariates: ", paste(x$covariates, collapse = ", "), "\n", sep = "")
  }
  if (length(x$alternatives)) {
    coded <- if (is.null(x$choice_codes)) "" else
      paste0(", coded ", paste(names(x$choice_codes), "=", x$choice_codes, collapse = ", "))
    cat(sprintf("  alternatives: %s (choice '%s'%s, id '%s')\n",
                paste(x$alternatives, collapse = ", "), x$choice, coded, x$id))
  } else {
    cat("  no choice part\n")
  }
  random <- model_random(x)
  if (nrow(random)) {
    cat("  random coefficients: ", paste0(random$coef, " (", random$distribution, ")",
                                          collapse = ", "),
        if (any(random$correlated)) paste0("; correlated: ", paste(random$coef[random$correlated], collapse = ", ")),
        "\n", sep = "")
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
# The choice part
# ---------------------------------------------------------------------------

read_choice_part <- function(utility, choice, id, availability, latent, choice_codes = NULL,
                             task = NULL) {
  check_column_name(id, "id")
  if (is.null(utility)) {
    given <- c(choice = !is.null(choice), availability = !is.null(availability),
               choice_codes = !is.null(choice_codes), task = !is.null(task))
    if (any(given)) {
      stop(sprintf("%s need%s `utility` (the choice part of the model).",
                   paste0("`", names(given)[given], "`", collapse = " and "),
                   if (sum(given) == 1L) "s" else ""), call. = FALSE)
    }
    terms <- empty_utility_terms()
    terms$value <- list()
    return(list(alternatives = character(0), utility_terms = terms,
                choice = NULL, id = id, availability = NULL))
  }
  check_column_name(choice, "choice")
  if (!is.null(task)) check_column_name(task, "task")
  alternatives <- names(utility)
  list(alternatives = alternatives,
       utility_terms = parse_utilities(utility, latent),
       choice = choice, id = id, task = task,
       choice_codes = read_choice_codes(choice_codes, alternatives),
       availability = read_availability(availability, alternatives))
}

# The code of every alternative in the choice column, in the order of the
# alternatives; NULL when the column holds the alternatives' names.
read_choice_codes <- function(choice_codes, alternatives) {
  if (is.null(choice_codes)) return(NULL)
  example <- paste0("c(", paste0(alternatives, " = ", seq_along(alternatives), collapse = ", "), ")")
  if (is.list(choice_codes)) choice_codes <- unlist(choice_codes)
  keys <- names(choice_codes)
  if (!is.numeric(choice_codes) || is.null(keys) || anyNA(keys) || any(!nzchar(keys)) ||
      any(!is.finite(choice_codes))) {
    stop(sprintf("`choice_codes` must be a named vector of numbers, alternative = code, e.g. choice_codes = %s.",
                 example), call. = FALSE)
  }
  unknown <- setdiff(keys, alternatives)
  if (length(unknown)) {
    stop(sprintf("`choice_codes` names '%s', which is not an alternative (alternatives: %s).",
                 unknown[[1]], paste(alternatives, collapse = ", ")), call. = FALSE)
  }
  if (anyDuplicated(keys)) {
    stop(sprintf("`choice_codes` names '%s' twice.", keys[anyDuplicated(keys)]), call. = FALSE)
  }
  uncoded <- setdiff(alternatives, keys)
  if (length(uncoded)) {
    stop(sprintf("`choice_codes` gives no code for alternative%s %s; give every alternative its code.",
                 if (length(uncoded) > 1L) "s" else "", paste0("'", uncoded, "'", collapse = ", ")),
         call. = FALSE)
  }
  shared <- anyDuplicated(choice_codes)
  if (shared) {
    same <- keys[choice_codes == choice_codes[[shared]]]
    stop(sprintf("`choice_codes` gives the code %s to %s; each alternative needs its own code.",
                 format(choice_codes[[shared]]), paste0("'", same, "'", collapse = " and ")),
         call. = FALSE)
  }
  stats::setNames(as.double(choice_codes[alternatives]), alternatives)
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
