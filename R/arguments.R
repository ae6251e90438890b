# Arguments a function does not use are refused, by name.
#
# S3 methods take `...` because their generics do, so R would drop a
# misspelt or unsupported argument without a word: predict(fit, newdata = d)
# would return the estimation data's probabilities, which read as d's. Each
# method of the package passes its `...` here (as base R's chkDots() does,
# but with an error rather than a warning). `.fun` names the function in the
# message, `.hint` says what to do instead; their dots keep them apart from
# any argument a user might pass.
refuse_unused_arguments <- function(..., .fun, .hint = NULL) {
  if (...length() == 0L) return(invisible())
  given <- as.list(substitute(list(...)))[-1L]
  names <- names(given)
  if (is.null(names)) names <- rep("", length(given))
  shown <- vapply(given, function(expr) substr(deparse1(expr), 1L, 40L), "")
  labels <- ifelse(nzchar(names), paste0("`", names, "`"), paste0("`", shown, "` (unnamed)"))
  stop(sprintf("%s does not use the argument%s %s%s", .fun, if (length(labels) > 1L) "s" else "",
               paste(labels, collapse = ", "), if (is.null(.hint)) "" else paste0("; ", .hint)),
       call. = FALSE)
}

# The one check of a whole-number argument: a single finite whole number from
# `min` to `max`, returned as an integer. `name` is shown as given (with its
# backticks when it is an argument's name). Without `min` the number must be
# positive, and the message says so; with it, the message gives the bound.
check_whole <- function(x, name, min = NULL, max = .Machine$integer.max) {
  lowest <- if (is.null(min)) 1 else min
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) && x == round(x) &&
    x >= lowest && x <= max
  if (!ok)
    stop(name, " must be ",
         if (is.null(min)) "a positive whole number" else paste("a whole number >=", format(min)),
         if (is.finite(max) && max < .Machine$integer.max) paste(" and <=", format(max)),
         ", got ", format_value(x), call. = FALSE)
  as.integer(x)
}

# A single TRUE or FALSE; `name` is the argument's name (shown in backticks).
check_flag <- function(x, name) {
  if (!is.logical(x) || length(x) != 1L || is.na(x))
    stop("`", name, "` must be TRUE or FALSE, got ", format_value(x), call. = FALSE)
  x
}

# A value as an error message shows it: numbers as they print, text quoted,
# anything longer than one value by its class and length.
format_value <- function(x) {
  if (is.null(x)) return("NULL")
  if (length(x) != 1L) return(paste0("a ", class(x)[1L], " of length ", length(x)))
  if (is.character(x)) return(paste0('"', x, '"'))
  format(x)
}
