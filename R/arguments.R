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
