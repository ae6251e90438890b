# Reading what the user wrote in the lavaan-style latent syntax: statements,
# then latent variables, indicators and paths, sorted topologically. The
# utility formulas are read in R/utility_syntax.R; R/model.R turns both into
# the parameter table and the plan.

# Reads the latent syntax into one row per right-hand-side term:
#   line, text (the statement), lhs, op, rhs, position (term number within the
#   statement), modifier ("none", "fixed", "label", "free"), label, value.
parse_latent_syntax <- function(syntax) {
  if (!is.character(syntax) || length(syntax) < 1L || anyNA(syntax)) {
    stop("`latent` must be the latent model syntax as a character string.", call. = FALSE)
  }
  lines <- join_continued_lines(strsplit(paste(syntax, collapse = "\n"), "\n", fixed = TRUE)[[1]])
  rows <- list()
  for (i in seq_along(lines$code)) {
    for (statement in strsplit(lines$code[[i]], ";", fixed = TRUE)[[1]]) {
      statement <- trimws(statement)
      if (nzchar(statement)) {
        rows[[length(rows) + 1L]] <- parse_statement(statement, lines$line[[i]])
      }
    }
  }
  if (length(rows) == 0L) {
    stop("the latent model syntax has no statements.", call. = FALSE)
  }
  do.call(rbind, rows)
}

# Drops comments and joins a line ending in '+' with the next one (as lavaan
# does); each joined line keeps the number of its first line.
join_continued_lines <- function(lines) {
  code <- character(0)
  first_line <- integer(0)
  pending <- ""
  for (line_no in seq_along(lines)) {
    text <- trimws(sub("#.*$", "", lines[[line_no]]))
    if (!nzchar(pending)) start <- line_no
    text <- trimws(paste(pending, text))
    if (grepl("[+]$", text) && line_no < length(lines)) {
      pending <- text
      next
    }
    pending <- ""
    code <- c(code, text)
    first_line <- c(first_line, start)
  }
  list(code = code, line = first_line)
}

syntax_error <- function(line_no, text, problem) {
  stop(sprintf("line %d of the model syntax: '%s' %s", line_no, text, problem),
       call. = FALSE)
}

known_operators <- c("=~", "~~", "~", "|")

# Splits one statement "lhs op term + term + ..." into its terms.
parse_statement <- function(text, line_no) {
  op <- find_operator(text, line_no)
  at <- regexpr(op, text, fixed = TRUE)
  lhs <- trimws(substr(text, 1L, at - 1L))
  rhs <- trimws(substr(text, at + nchar(op), nchar(text)))
  if (!nzchar(lhs)) syntax_error(line_no, text, sprintf("has nothing before '%s'", op))
  if (!is_syntax_name(lhs)) {
    syntax_error(line_no, text, sprintf("has '%s' before '%s', which is not a variable name", lhs, op))
  }
  if (!nzchar(rhs)) {
    what <- if (op == "=~") "indicators" else if (op == "|") "thresholds" else "terms"
    syntax_error(line_no, text, sprintf("has no %s after '%s'", what, op))
  }
  terms <- trimws(strsplit(rhs, "+", fixed = TRUE)[[1]])
  if (grepl("\\+\\s*$", rhs) || any(!nzchar(terms))) {
    syntax_error(line_no, text, "has an empty term (two '+' in a row, or a '+' at an end)")
  }
  parsed <- lapply(terms, parse_term, op = op, text = text, line_no = line_no)
  data.frame(
    line = line_no, text = text, lhs = lhs, op = op,
    rhs = vapply(parsed, `[[`, "", "name"),
    position = seq_along(parsed),
    modifier = vapply(parsed, `[[`, "", "modifier"),
    label = vapply(parsed, `[[`, "", "label"),
    value = vapply(parsed, `[[`, 0, "value"),
    stringsAsFactors = FALSE
  )
}

# The first operator of the statement; lavaan operators we do not support
# (":=", "<~", "==", "<", ">") are refused by name.
find_operator <- function(text, line_no) {
  m <- regexpr("=~|~~|<~|:=|==|~|\\||<|>|=", text)
  if (m < 0L) {
    syntax_error(line_no, text, "has no operator (expected '=~', '~', '~~' or '|')")
  }
  op <- regmatches(text, m)
  if (!op %in% known_operators) {
    syntax_error(line_no, text, sprintf(
      "uses the operator '%s', which iclv does not support (use '=~', '~', '~~' or '|')", op))
  }
  op
}

# One term "name", "modifier*name" or, after '~', "1" / "modifier*1".
parse_term <- function(term, op, text, line_no) {
  parts <- trimws(strsplit(term, "*", fixed = TRUE)[[1]])
  if (length(parts) > 2L || any(!nzchar(parts))) {
    syntax_error(line_no, text, sprintf("has the term '%s'; a term is 'name' or 'modifier*name'", term))
  }
  name <- parts[[length(parts)]]
  name_ok <- is_syntax_name(name) || (op == "~" && name == "1")
  if (!name_ok) {
    syntax_error(line_no, text, sprintf("has '%s' after '%s', which is not a variable name", name, op))
  }
  modifier <- if (length(parts) == 2L) parse_modifier(parts[[1]], text, line_no) else
    list(modifier = "none", label = "", value = NA_real_)
  c(list(name = name), modifier)
}

# "0.5" or "-1" fix a parameter, "NA" frees it, a name labels it.
parse_modifier <- function(modifier, text, line_no) {
  if (modifier == "NA") return(list(modifier = "free", label = "", value = NA_real_))
  value <- suppressWarnings(as.numeric(modifier))
  if (!is.na(value)) {
    if (!is.finite(value)) syntax_error(line_no, text, sprintf("fixes a parameter at '%s'", modifier))
    return(list(modifier = "fixed", label = "", value = value))
  }
  if (!is_syntax_name(modifier)) {
    syntax_error(line_no, text, sprintf(
      "has the modifier '%s', which is neither a number nor a label", modifier))
  }
  list(modifier = "label", label = modifier, value = NA_real_)
}

is_syntax_name <- function(x) {
  grepl("^([A-Za-z]|[.][A-Za-z._]|[.]$)[A-Za-z0-9._]*$", x) && x != "NA"
}

# ---------------------------------------------------------------------------
# The structure of the latent part
# ---------------------------------------------------------------------------

# Latent variables (topologically sorted), indicators and who depends on whom.
read_latent_structure <- function(statements) {
  check_duplicate_statements(statements)
  measurement <- statements[statements$op == "=~", ]
  latent <- unique(measurement$lhs)
  indicators <- unique(measurement$rhs)
  check_statement_targets(statements, latent, indicators)

  regressions <- statements[statements$op == "~" & statements$lhs %in% latent, ]
  is_path <- regressions$rhs %in% latent
  is_covariate <- !is_path & regressions$rhs != "1"
  paths <- split_by(regressions$rhs[is_path], regressions$lhs[is_path], latent)
  latent <- sort_latent(latent, paths, regressions[is_path, ])
  list(
    latent = latent,
    indicators = indicators,
    lv_paths = paths[latent],
    covariate_paths = split_by(regressions$rhs[is_covariate], regressions$lhs[is_covariate], latent)[latent],
    loadings = split_by(measurement$lhs, measurement$rhs, indicators)
  )
}

# values grouped by key, one (possibly empty) element per level, in order.
split_by <- function(values, keys, levels) {
  out <- lapply(levels, function(level) values[keys == level])
  names(out) <- levels
  out
}

statement_place <- function(statements) {
  lavaan_name(statements$lhs, statements$op, statements$rhs)
}

# Parameter names as lavaan writes them ("LV=~q1", "q1|t2"); empty when any
# part is empty.
lavaan_name <- function(...) paste0(..., recycle0 = TRUE)

check_duplicate_statements <- function(statements) {
  place <- statement_place(statements)
  repeated <- which(duplicated(place))
  if (length(repeated)) {
    i <- repeated[[1]]
    first <- match(place[[i]], place)
    syntax_error(statements$line[[i]], statements$text[[i]], sprintf(
      "repeats '%s', already given on line %d", place[[i]], statements$line[[first]]))
  }
}

# Every statement must be about a latent variable or an indicator, in a way
# the model supports.
check_statement_targets <- function(statements, latent, indicators) {
  for (i in seq_len(nrow(statements))) {
    s <- statements[i, ]
    fail <- function(problem) syntax_error(s$line, s$text, problem)
    if (s$op == "=~" && s$rhs %in% latent) {
      fail(sprintf("uses latent variable '%s' as an indicator; higher-order factors are not supported", s$rhs))
    }
    is_latent <- s$lhs %in% latent
    is_indicator <- s$lhs %in% indicators
    if (s$op == "~" && !is_latent && !is_indicator) {
      fail(sprintf("explains '%s', which has no indicators; a latent variable needs a measurement statement '%s =~ ...'",
                   s$lhs, s$lhs))
    }
    if (s$op == "~" && is_indicator && s$rhs != "1") {
      fail(sprintf("regresses indicator '%s' on '%s'; only 'indicator ~ 1' (a free intercept) is supported",
                   s$lhs, s$rhs))
    }
    if (s$op == "~~" && s$lhs != s$rhs) {
      fail("relates two different variables; covariances are not supported, only scales such as 'x ~~ x'")
    }
    if (s$op == "~~" && !is_latent && !is_indicator) {
      fail(sprintf("gives a scale to '%s', which is neither a latent variable nor an indicator", s$lhs))
    }
    if (s$op == "|" && !is_indicator) {
      fail(sprintf("gives thresholds to '%s', which is not an indicator (not on the right of any '=~')", s$lhs))
    }
    if (s$op == "|" && s$rhs != paste0("t", s$position)) {
      fail(sprintf("names threshold %d '%s'; thresholds must be written t1 + t2 + ... in order",
                   s$position, s$rhs))
    }
  }
}

# Topological order of the latent variables (each after those it depends on),
# keeping the syntax order where the dependencies leave a choice. `path_rows`
# (the `LV ~ LV2` statements) locate a cycle in the syntax.
sort_latent <- function(latent, paths, path_rows = NULL) {
  sorted <- character(0)
  remaining <- latent
  while (length(remaining)) {
    ready <- vapply(remaining, function(l) all(paths[[l]] %in% sorted), TRUE)
    if (!any(ready)) stop_cycle(remaining, paths, path_rows)
    sorted <- c(sorted, remaining[which(ready)[1]])
    remaining <- remaining[-which(ready)[1]]
  }
  sorted
}

# Every remaining latent variable has a predecessor among the remaining ones:
# walk predecessors until one repeats, then report the cycle in causal order,
# with the lines of the statements that close it.
stop_cycle <- function(remaining, paths, path_rows = NULL) {
  walk <- remaining[[1]]
  repeat {
    predecessor <- intersect(paths[[walk[[length(walk)]]]], remaining)[[1]]
    walk <- c(walk, predecessor)
    if (predecessor %in% walk[-length(walk)]) break
  }
  cycle <- rev(walk[match(predecessor, walk):length(walk)])
  where <- ""
  if (!is.null(path_rows) && nrow(path_rows)) {
    edge <- paste(path_rows$rhs, path_rows$lhs)
    lines <- path_rows$line[match(paste(cycle[-length(cycle)], cycle[-1]), edge)]
    lines <- sort(unique(lines[!is.na(lines)]))
    if (length(lines)) {
      where <- sprintf(" (line%s %s of the model syntax)", if (length(lines) > 1L) "s" else "",
                       paste(lines, collapse = ", "))
    }
  }
  stop("latent variables form a cycle: ", paste(cycle, collapse = " -> "), where,
       "; the structural model must be recursive.", call. = FALSE)
}

# The statements of a model without latent variables (a mixed logit): none,
# in the shape parse_latent_syntax() gives.
no_latent_statements <- function() {
  parse_latent_syntax("lv =~ q")[0L, , drop = FALSE]
}
