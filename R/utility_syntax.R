# Reading the utility formulas: one row per term (alternative, coefficient,
# latent variable, data factors). R/model_syntax.R reads the latent syntax;
# R/model.R turns both into the parameter table and the plan.

# Reads the utility list into one row per term: alt (1-based), coef, lv (NA
# when none) and value (list column: the product of the data factors as an R
# language object, or NULL for a constant).
parse_utilities <- function(utility, latent) {
  check_utility_list(utility)
  alts <- names(utility)
  rows <- lapply(seq_along(utility), function(j) {
    parse_utility(utility[[j]], alts[[j]], j, latent)
  })
  terms <- do.call(rbind, c(list(empty_utility_terms()), lapply(rows, `[[`, "table")))
  terms$value <- do.call(c, c(list(list()), lapply(rows, `[[`, "value")))
  rownames(terms) <- NULL
  terms
}

empty_utility_terms <- function() {
  data.frame(alt = integer(0), coef = character(0), lv = character(0),
             stringsAsFactors = FALSE)
}

check_utility_list <- function(utility) {
  alts <- names(utility)
  if (!is.list(utility) || length(utility) == 0L || is.null(alts) ||
      anyNA(alts) || any(!nzchar(alts))) {
    stop("`utility` must be a named list of one-sided formulas, one per alternative, ",
         "e.g. list(A = ~ asc_A + b_price * price_A, B = ~ b_price * price_B).", call. = FALSE)
  }
  if (anyDuplicated(alts)) {
    stop(sprintf("`utility` names alternative '%s' twice.", alts[anyDuplicated(alts)]),
         call. = FALSE)
  }
  for (alt in alts) {
    f <- utility[[alt]]
    if (!inherits(f, "formula") || length(f) != 2L) {
      stop(sprintf("the utility of alternative '%s' must be a one-sided formula such as ~ asc + b * x.",
                   alt), call. = FALSE)
    }
  }
}

parse_utility <- function(formula, alt, alt_index, latent) {
  rhs <- formula[[2]]
  if (is_empty_utility(rhs)) {
    return(list(table = empty_utility_terms(), value = list()))
  }
  terms <- split_call(rhs, "+")
  parsed <- lapply(terms, parse_utility_term, alt = alt, latent = latent)
  list(
    table = data.frame(alt = rep(alt_index, length(parsed)),
                       coef = vapply(parsed, `[[`, "", "coef"),
                       lv = vapply(parsed, `[[`, "", "lv"),
                       stringsAsFactors = FALSE),
    value = lapply(parsed, `[[`, "value")
  )
}

is_empty_utility <- function(rhs) {
  identical(rhs, 0) || identical(rhs, 0L) || identical(rhs, quote(-1))
}

# Flattens a left-nested chain a op b op c into list(a, b, c); parentheses
# stop the split, so (x + y) stays one piece.
split_call <- function(expr, op) {
  if (is.call(expr) && identical(expr[[1]], as.name(op)) && length(expr) == 3L) {
    return(c(split_call(expr[[2]], op), split_call(expr[[3]], op)))
  }
  list(expr)
}

# A term is coefficient * factor * factor ...: the first factor is the
# coefficient's bare name; the others are data (names, calls, parenthesised
# expressions) and at most one latent variable.
parse_utility_term <- function(term, alt, latent) {
  term_text <- paste(deparse(term, width.cutoff = 500L), collapse = " ")
  fail <- function(problem) {
    stop(sprintf("utility of alternative '%s', term '%s': %s", alt, term_text, problem),
         call. = FALSE)
  }
  if (is.call(term) && identical(term[[1]], as.name("-"))) {
    fail("subtraction is not supported; write the term with its own coefficient, which can be negative")
  }
  factors <- split_call(term, "*")
  coef <- factors[[1]]
  if (!is.name(coef)) {
    fail("the first factor must be the coefficient's name (e.g. b_price * price)")
  }
  data_factors <- factors[-1]
  is_lv <- vapply(data_factors, function(f) is.name(f) && as.character(f) %in% latent, TRUE)
  if (sum(is_lv) > 1L) {
    fail("a term may contain at most one latent variable")
  }
  list(coef = as.character(coef),
       lv = if (any(is_lv)) as.character(data_factors[[which(is_lv)]]) else NA_character_,
       value = multiply_factors(data_factors[!is_lv]))
}

multiply_factors <- function(factors) {
  if (length(factors) == 0L) return(NULL)
  Reduce(function(a, b) call("*", a, b), factors)
}
