# Turning the user's wide data set into the arrays the engine reads
# (notes/architecture.md, section 3). Everything is checked before anything
# is built (R/data_checks.R).

# prepare_data(model, data) -> list of class "iclv_data":
#   ids         vector N       id values, sorted (see sorted_ids())
#   ind_cat     int  N x K     ordered answers 1..J, 0 = missing (0 for continuous)
#   ind_value   dbl  N x K     continuous answers, NaN = missing (0 for ordered)
#   covariates  dbl  N x C     structural covariates
#   task_ptr    int  N + 1     0-based: tasks of n are task_ptr[n] .. task_ptr[n+1]-1
#   rows        int  T         data row of each task (1-based)
#   choice      int  T         chosen alternative, 0-based
#   avail       int  T x J     1 available, 0 not
#   term_value  dbl  T x M     data value of each utility term (1 for a constant)
# Rows of one individual need not be contiguous. Individuals are sorted by id
# and each one's tasks by their content, so that the same data in any row
# order give the same arrays: the same draws for each person and the same
# order of every sum, hence bitwise the same log-likelihood.
# Indicators and covariates describe the person: they must not vary within an
# id (for indicators, rows holding NA are ignored, so a value given on one row
# only is fine).
prepare_data <- function(model, data, min_indiv = 2L) {
  check_data_frame(data)
  has_choice <- model_has_choice(model)
  check_columns_exist(model, data, has_choice)
  check_no_missing(model, data, has_choice)

  n_rows <- nrow(data)
  if (has_choice) {
    avail <- availability_matrix(model, data)
    term_value <- utility_term_values(model, data, avail)
    choice <- choice_index(model, data, avail)
  }
  ordered_codes <- check_indicators(model, data)
  check_covariates(model, data)

  ids <- sorted_ids(data[[model$id]])
  group <- match(data[[model$id]], ids)
  n_indiv <- length(ids)
  if (has_choice) check_one_row_per_task(model, data, group, ids, choice)
  check_constant_within(model, data, group, ids, ordered_codes)
  check_enough_individuals(model, ids, min_indiv)

  first_row <- first_nonmissing_rows(data, model, group, n_indiv)
  n_ind <- length(model$indicators)
  ind_cat <- matrix(0L, n_indiv, n_ind, dimnames = list(NULL, model$indicators))
  ind_value <- matrix(0, n_indiv, n_ind, dimnames = list(NULL, model$indicators))
  for (k in seq_len(n_ind)) {
    rows_k <- first_row[[k]]
    if (model$family[[k]] == "continuous") {
      value <- rep(NaN, n_indiv)
      present <- !is.na(rows_k)
      value[present] <- as.double(data[[model$indicators[[k]]]][rows_k[present]])
      ind_value[, k] <- value
    } else {
      code <- rep(0L, n_indiv)
      present <- !is.na(rows_k)
      code[present] <- ordered_codes[[k]][rows_k[present]]
      ind_cat[, k] <- code
    }
  }

  person_row <- match(seq_len(n_indiv), group)
  covariates <- matrix(0, n_indiv, length(model$covariates),
                       dimnames = list(NULL, model$covariates))
  for (c in seq_along(model$covariates)) {
    covariates[, c] <- as.double(data[[model$covariates[[c]]]][person_row])
  }

  n_alt <- length(model$alternatives)
  n_terms <- if (is.null(model$utility_terms)) 0L else nrow(model$utility_terms)
  if (has_choice) {
    task_order <- stable_task_order(group, choice, avail, term_value)
    rows <- as.integer(task_order)
    task_ptr <- as.integer(c(0L, cumsum(tabulate(group, n_indiv))))
    choice <- as.integer(choice[task_order] - 1L)
    avail <- avail[task_order, , drop = FALSE]
    term_value <- term_value[task_order, , drop = FALSE]
  } else {
    rows <- integer(0)
    task_ptr <- integer(n_indiv + 1L)
    choice <- integer(0)
    avail <- matrix(0L, 0L, n_alt, dimnames = list(NULL, model$alternatives))
    term_value <- matrix(0, 0L, n_terms)
  }

  structure(
    list(ids = ids, ind_cat = ind_cat, ind_value = ind_value,
         covariates = covariates, task_ptr = task_ptr, rows = rows,
         choice = choice, avail = avail, term_value = term_value),
    class = "iclv_data"
  )
}

# ---- helpers -----------------------------------------------------------

# The distinct ids in sorted order (radix order: the same in every locale),
# the stable key by which individuals get their draws.
sorted_ids <- function(id) {
  ids <- unique(id)
  ids[order(ids, method = "radix")]
}

# Tasks grouped by individual and, within one, ordered by their content
# (choice, availability, term values): a key that does not depend on where
# the rows stand in the data. Tasks with equal content are interchangeable.
stable_task_order <- function(group, choice, avail, term_value) {
  keys <- c(list(group, choice), lapply(seq_len(ncol(avail)), function(j) avail[, j]),
            lapply(seq_len(ncol(term_value)), function(m) term_value[, m]))
  do.call(order, c(unname(keys), list(method = "radix")))
}

availability_columns <- function(model) {
  if (is.null(model$availability) || length(model$availability) == 0L) {
    return(character(0))
  }
  columns <- unlist(model$availability)
  stats::setNames(as.character(columns), names(model$availability))
}

# Human-readable description of a utility term: "`b_price * price_A` of alternative `A`".
describe_term <- function(model, m) {
  terms <- model$utility_terms
  pieces <- terms$coef[[m]]
  if (!is.na(terms$lv[[m]])) pieces <- c(pieces, terms$lv[[m]])
  value <- terms$value[[m]]
  if (!is.null(value)) pieces <- c(pieces, paste(deparse(value), collapse = " "))
  paste0("term `", paste(pieces, collapse = " * "), "` of alternative `",
         model$alternatives[[terms$alt[[m]]]], "`")
}

# Where a term's expression finds what is not a data column: the environment
# of its utility formula when the model keeps the formulas, else model$env.
term_environment <- function(model, m) {
  alt <- model$alternatives[[model$utility_terms$alt[[m]]]]
  formula <- if (is.list(model$utility)) model$utility[[alt]] else NULL
  if (inherits(formula, "formula") && is.environment(environment(formula))) {
    return(environment(formula))
  }
  if (is.environment(model$env)) model$env else globalenv()
}

# The data columns each utility term reads (variables of its expression that
# are columns, or that are not found in the model's environment).
term_variables <- function(model, m) {
  value <- model$utility_terms$value[[m]]
  if (is.null(value)) character(0) else all.vars(value)
}

# A variable of a term expression that is not a data column may be a
# constant defined where the model was written (not a function of that name).
is_model_constant <- function(name, env) {
  exists(name, envir = env) && !is.function(get(name, envir = env))
}

availability_matrix <- function(model, data) {
  n_alt <- length(model$alternatives)
  avail <- matrix(1L, nrow(data), n_alt, dimnames = list(NULL, model$alternatives))
  avail_cols <- availability_columns(model)
  for (a in names(avail_cols)) {
    j <- match(a, model$alternatives)
    if (is.na(j)) {
      stop("availability given for `", a, "`, which is not an alternative (",
           paste(model$alternatives, collapse = ", "), ")", call. = FALSE)
    }
    column <- avail_cols[[a]]
    value <- data[[column]]
    if (is.logical(value)) {
      avail[, j] <- as.integer(value)
    } else if (is.numeric(value) && all(value[!is.na(value)] %in% c(0, 1))) {
      avail[, j] <- as.integer(value)
    } else {
      bad <- if (is.numeric(value)) which(!(value %in% c(0, 1)) & !is.na(value)) else seq_along(value)
      stop("availability column `", column, "` must hold 0/1 or TRUE/FALSE; it has ",
           if (is.numeric(value)) paste0("values ", format_values(value[bad]), " ", format_rows(bad))
           else paste0("type ", class(value)[1L]),
           call. = FALSE)
    }
  }
  avail
}

# T x M matrix (one row per data row, before grouping) of the data value of
# each utility term; 0 where the term's alternative is unavailable.
utility_term_values <- function(model, data, avail) {
  terms <- model$utility_terms
  n_rows <- nrow(data)
  values <- matrix(1, n_rows, nrow(terms))
  for (m in seq_len(nrow(terms))) {
    expr <- terms$value[[m]]
    if (is.null(expr)) next
    what <- describe_term(model, m)
    value <- tryCatch(eval(expr, data, term_environment(model, m)), error = function(e) {
      stop("utility ", what, " cannot be evaluated in the data: ",
           conditionMessage(e), call. = FALSE)
    })
    if (is.factor(value) || !(is.numeric(value) || is.logical(value))) {
      if (is.name(expr)) {
        stop("column `", as.character(expr), "` (used by utility ", what,
             ") must be numeric or logical, not ", class(value)[1L], call. = FALSE)
      }
      stop("utility ", what, " must evaluate to numbers, not ", class(value)[1L],
           call. = FALSE)
    }
    if (length(value) == 1L) value <- rep(value, n_rows)
    if (length(value) != n_rows) {
      stop("utility ", what, " evaluates to ", length(value),
           " values but the data have ", n_rows, " rows", call. = FALSE)
    }
    value <- as.double(value)
    used <- avail[, terms$alt[[m]]] == 1L
    bad <- which(used & !is.finite(value))
    if (length(bad)) {
      stop("utility ", what, " is missing or not finite ", format_rows(bad),
           call. = FALSE)
    }
    value[!used] <- 0
    values[, m] <- value
  }
  values
}

# Chosen alternative as 1..J per data row. The choice column holds the
# alternatives' names (character or factor) or, with model$choice_codes,
# their numbers: numbers are never matched to the order of the utilities, a
# guess that is wrong whenever the codes come from elsewhere (e.g.
# as.integer(factor(mode)), whose levels are alphabetical).
choice_index <- function(model, data, avail) {
  column <- model$choice
  value <- data[[column]]
  alts <- model$alternatives
  if (is.factor(value)) value <- as.character(value)
  if (is.logical(value)) value <- as.integer(value)
  if (is.character(value)) {
    index <- match(value, alts)
    known <- paste(alts, collapse = ", ")
  } else if (is.numeric(value)) {
    codes <- model$choice_codes
    if (is.null(codes)) stop_uncoded_numbers(model, value)
    index <- match(value, codes)
    known <- paste("codes", paste(names(codes), "=", codes, collapse = ", "))
  } else {
    stop("choice column `", column, "` must hold the names of the alternatives (",
         paste(alts, collapse = ", "), "), not ", class(value)[1L], call. = FALSE)
  }
  bad <- which(is.na(index))
  if (length(bad)) {
    stop("choice column `", column, "` has values that are not alternatives (", known, "): ",
         format_values(value[bad], quote = is.character(value)), " ", format_rows(bad),
         call. = FALSE)
  }
  index <- as.integer(index)
  unavailable <- which(avail[cbind(seq_along(index), index)] == 0L)
  if (length(unavailable)) {
    bad_alts <- alts[sort(unique(index[unavailable]))]
    stop("the chosen alternative is unavailable ", format_rows(unavailable),
         ": choice column `", column, "` chooses ",
         paste0("`", bad_alts, "` where its availability column `",
                availability_columns(model)[bad_alts], "` is 0", collapse = ", "),
         call. = FALSE)
  }
  index
}

# For each indicator, the data row holding an individual's answer (the first
# non-missing row of that id), NA when all are missing.
first_nonmissing_rows <- function(data, model, group, n_indiv) {
  lapply(model$indicators, function(q) {
    present <- which(!is.na(data[[q]]))
    present[match(seq_len(n_indiv), group[present])]
  })
}
