# Checks of the user's data set before prepare_data() builds anything
# (R/data_prep.R), and the formatting of their errors: each problem is
# reported with the column and the rows.

# Whether the model has a choice part; utilities without a choice column are
# an error.
model_has_choice <- function(model) {
  has_utility <- length(model$alternatives) > 0L
  if (has_utility && is.null(model$choice)) {
    stop("the model has utilities but no choice column", call. = FALSE)
  }
  has_utility
}

# "(rows 17, 18, 212)" with at most 5 rows shown.
format_rows <- function(rows) {
  rows <- sort(unique(rows))
  shown <- paste(utils::head(rows, 5L), collapse = ", ")
  if (length(rows) > 5L) shown <- paste0(shown, ", ...")
  paste0("(row", if (length(rows) > 1L) "s" else "", " ", shown, ")")
}

format_values <- function(values, quote = FALSE) {
  values <- unique(values)
  shown <- if (quote) paste0("'", utils::head(values, 5L), "'") else utils::head(values, 5L)
  out <- paste(shown, collapse = ", ")
  if (length(values) > 5L) out <- paste0(out, ", ...")
  out
}

check_data_frame <- function(data) {
  if (!is.data.frame(data)) {
    stop("`data` must be a data frame, not ", class(data)[1L], call. = FALSE)
  }
  if (nrow(data) == 0L) stop("`data` has no rows", call. = FALSE)
}

check_columns_exist <- function(model, data, has_choice) {
  needed <- list()
  add <- function(column, use) needed[[length(needed) + 1L]] <<- c(column, use)
  if (is.null(model$id) || !nzchar(model$id)) {
    stop("the model names no id column", call. = FALSE)
  }
  add(model$id, "the id")
  for (q in model$indicators) add(q, "an indicator")
  for (x in model$covariates) add(x, "a covariate")
  if (has_choice) {
    add(model$choice, "the choice")
    if (!is.null(model$task)) add(model$task, "the task number")
    avail_cols <- availability_columns(model)
    for (a in names(avail_cols)) {
      add(avail_cols[[a]], paste0("the availability of alternative `", a, "`"))
    }
    for (m in seq_len(nrow(model$utility_terms))) {
      for (v in term_variables(model, m)) {
        if (!(v %in% names(data)) && !is_model_constant(v, term_environment(model, m))) {
          add(v, paste("utility", describe_term(model, m)))
        }
      }
    }
  }
  problems <- character(0)
  for (item in needed) {
    if (!(item[[1L]] %in% names(data))) {
      problems <- c(problems, paste0("column `", item[[1L]], "` (used as ", item[[2L]],
                                     ") is not in the data"))
    }
  }
  if (length(problems)) {
    stop(paste(unique(problems), collapse = "; "), call. = FALSE)
  }
}

missing_message <- function(column, rows) {
  paste0("column `", column, "` has ", length(rows), " missing value",
         if (length(rows) > 1L) "s" else "", " ", format_rows(rows))
}

# NA is an error in every used column except indicators (where NA is a
# missing answer). Utility-term columns only matter where an alternative
# using them is available, so NA there is allowed (a common way to code
# attributes of unavailable alternatives).
check_no_missing <- function(model, data, has_choice) {
  problems <- character(0)
  plain <- c(model$id, model$covariates)
  if (has_choice) {
    plain <- c(plain, model$choice, task_column(model, data), availability_columns(model))
  }
  for (column in unique(plain)) {
    rows <- which(is.na(data[[column]]))
    if (length(rows)) problems <- c(problems, missing_message(column, rows))
  }
  if (length(problems)) stop(paste(problems, collapse = "; "), call. = FALSE)

  if (!has_choice) return(invisible())
  avail <- availability_matrix(model, data)
  used_where <- list()
  for (m in seq_len(nrow(model$utility_terms))) {
    alt <- model$utility_terms$alt[[m]]
    for (v in intersect(term_variables(model, m), names(data))) {
      mask <- avail[, alt] == 1L
      used_where[[v]] <- if (is.null(used_where[[v]])) mask else used_where[[v]] | mask
    }
  }
  for (v in names(used_where)) {
    rows <- which(is.na(data[[v]]) & used_where[[v]])
    if (length(rows)) problems <- c(problems, missing_message(v, rows))
  }
  if (length(problems)) stop(paste(problems, collapse = "; "), call. = FALSE)
  invisible()
}

# A numeric choice column without choice_codes: a 0/1 column marks the
# chosen row of long data; other numbers need their alternatives named.
stop_uncoded_numbers <- function(model, value) {
  column <- model$choice
  seen <- sort(unique(value))
  alts <- model$alternatives
  if (identical(as.double(seen), c(0, 1))) {
    as_codes <- if (length(alts) == 2L) {
      sprintf("; if 0 and 1 stand for two alternatives, say which with iclv_model(choice_codes = c(%s = 0, %s = 1))",
              alts[[1]], alts[[2]])
    } else ""
    stop("choice column `", column, "` holds only 0 and 1, as long data (one row per ",
         "alternative) mark the chosen alternative: ", long_data_advice(model), as_codes,
         call. = FALSE)
  }
  shown <- utils::head(seen, length(alts))
  named <- utils::head(alts, length(shown))
  stop("choice column `", column, "` holds numbers (", format_values(seen), ") but the model ",
       "does not say which alternative each number stands for, and iclv does not guess it ",
       "from the order of `utility`: give the codes in iclv_model(), e.g. choice_codes = c(",
       paste0(named, " = ", shown, collapse = ", "), ") if ",
       paste0(shown, " means ", named, collapse = ", "),
       ", or put the alternatives' names (", paste(alts, collapse = ", "),
       ") in the column", call. = FALSE)
}

long_data_advice <- function(model) {
  paste0("iclv wants one row per choice task, with each alternative's attributes in their own ",
         "columns and the chosen alternative in column `", model$choice, "`; reshape long data ",
         "(one row per alternative) first, as shown under 'Long data' in ?iclv_model")
}

# The column numbering the tasks: the model's `task`, else a column named
# "task" where the data have one, else NULL.
task_column <- function(model, data) {
  if (!is.null(model$task)) return(model$task)
  if ("task" %in% names(data)) "task" else NULL
}

# One row per choice task. Long data (one row per alternative) would
# otherwise be read as J times as many tasks, each with the chosen
# alternative repeated, and estimated without complaint.
check_one_row_per_task <- function(model, data, group, ids, choice) {
  task <- task_column(model, data)
  if (is.null(task)) {
    check_runs_of_alternatives(model, group, ids, choice)
    return(invisible())
  }
  task_value <- data[[task]]
  repeated <- which(duplicated(data.frame(group, task_value)))
  if (!length(repeated)) return(invisible())
  first <- repeated[[1L]]
  same <- which(group == group[[first]] & task_value == task_value[[first]])
  n_pairs <- nrow(data) - length(repeated)
  defaulted <- if (is.null(model$task)) {
    paste0("; if column `", task, "` does not number the choice tasks, name the column that ",
           "does with iclv_model(task = )")
  } else ""
  stop("column `", task, "` repeats within individuals: individual ", format(ids[[group[[first]]]]),
       " has ", length(same), " rows for task ", format(task_value[[first]]), " ",
       format_rows(same), ", and the ", nrow(data), " rows hold only ", n_pairs,
       " (id, task) pairs. ", long_data_advice(model), defaulted, call. = FALSE)
}

# Without a task column: long data show as every individual's rows coming in
# runs of J (one per alternative), each run carrying one choice.
check_runs_of_alternatives <- function(model, group, ids, choice) {
  n_alt <- length(model$alternatives)
  rows_per_person <- tabulate(group, length(ids))
  if (n_alt < 2L || any(rows_per_person %% n_alt != 0L)) return(invisible())
  by_person <- order(group, seq_along(group))
  chosen <- choice[by_person]
  run_start <- (sequence(rows_per_person) - 1L) %% n_alt == 0L
  run <- cumsum(run_start)
  if (any(chosen != chosen[run_start][run])) return(invisible())
  # Wide data give one choice per run by chance with probability
  # sum(share^J) per run (choices independent, at the observed shares); below
  # one in a million over all runs, the runs are taken for alternatives.
  share <- tabulate(chosen, n_alt) / length(chosen)
  if (sum(run_start) * log(sum(share^n_alt)) > log(1e-6)) return(invisible())
  stop("the data have no task column, and the rows of every individual come in runs of ",
       n_alt, " (as many as alternatives) with the same choice in each run, e.g. individual ",
       format(ids[[1L]]), " ", format_rows(by_person[run == 1L]), ", as in long data. ",
       long_data_advice(model), "; if each row is a choice task, number the tasks in a column ",
       "and name it with iclv_model(task = )", call. = FALSE)
}

# Checks indicator columns; returns for each ordered indicator its integer
# codes 1..J per data row (NA = missing), NULL for continuous ones.
check_indicators <- function(model, data) {
  codes <- vector("list", length(model$indicators))
  for (k in seq_along(model$indicators)) {
    q <- model$indicators[[k]]
    value <- data[[q]]
    if (model$family[[k]] == "continuous") {
      if (!(is.numeric(value) || is.logical(value)) || is.factor(value)) {
        stop("indicator `", q, "` is continuous and must be numeric, not ",
             class(value)[1L], call. = FALSE)
      }
      bad <- which(is.infinite(value))
      if (length(bad)) {
        stop("indicator `", q, "` has infinite values ", format_rows(bad), call. = FALSE)
      }
      next
    }
    n_cat <- as.integer(model$categories[[k]])
    if (is.ordered(value)) {
      value <- as.integer(value)
    } else if (is.factor(value) || is.character(value)) {
      text <- as.character(value)
      number <- suppressWarnings(as.numeric(text))
      bad <- which(!is.na(text) & is.na(number))
      if (length(bad)) {
        stop("indicator `", q, "` must hold category numbers 1..", n_cat, "; it has ",
             format_values(text[bad], quote = TRUE), " ", format_rows(bad), call. = FALSE)
      }
      value <- number
    } else if (is.logical(value) || !is.numeric(value)) {
      stop("indicator `", q, "` must hold category numbers 1..", n_cat, ", not ",
           class(value)[1L], call. = FALSE)
    }
    bad <- which(!is.na(value) & (value != round(value) | value < 1 | value > n_cat))
    if (length(bad)) {
      bad_values <- unique(value[bad])
      stop("indicator `", q, "` has value", if (length(bad_values) > 1L) "s" else "", " ",
           format_values(bad_values), " but ", n_cat,
           " categories were declared (answers must be integers 1..", n_cat, "; ",
           sub("^\\(", "", format_rows(bad)), call. = FALSE)
    }
    codes[[k]] <- as.integer(value)
  }
  codes
}

check_covariates <- function(model, data) {
  for (x in model$covariates) {
    value <- data[[x]]
    if (is.factor(value) || !(is.numeric(value) || is.logical(value))) {
      stop("covariate `", x, "` must be numeric or logical, not ", class(value)[1L],
           " (code categories as 0/1 columns)", call. = FALSE)
    }
    bad <- which(!is.finite(as.double(value)))
    if (length(bad)) {
      stop("covariate `", x, "` has non-finite values ", format_rows(bad), call. = FALSE)
    }
  }
}

# Indicators and covariates must be the same on all rows of an individual
# (for indicators, NA rows are ignored).
check_constant_within <- function(model, data, group, ids, ordered_codes) {
  columns <- c(model$indicators, model$covariates)
  kinds <- c(rep("indicator", length(model$indicators)),
             rep("covariate", length(model$covariates)))
  for (i in seq_along(columns)) {
    value <- if (i <= length(model$indicators) && !is.null(ordered_codes[[i]])) {
      ordered_codes[[i]]
    } else {
      as.double(data[[columns[[i]]]])
    }
    present <- which(!is.na(value))
    reference_row <- present[match(group, group[present])]
    varies <- which(!is.na(value) & value != value[reference_row])
    if (length(varies)) {
      who <- unique(group[varies])
      person <- format(ids[who[1L]])
      stop(kinds[[i]], " `", columns[[i]], "` varies within individual ", person,
           if (length(who) > 1L) paste0(" (and ", length(who) - 1L, " more)") else "",
           ": each person answers once; put one value on all rows of an id ",
           format_rows(which(group == who[1L])), call. = FALSE)
    }
  }
}

check_enough_individuals <- function(model, ids, min_indiv) {
  if (length(ids) < min_indiv) {
    stop("at least ", min_indiv, " individuals are needed; the data hold only one (id `",
         format(ids[1L]), "` in column `", model$id, "`)", call. = FALSE)
  }
}
