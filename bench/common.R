# The seed-scale model shared by the benchmarks: 326 individuals, five latent
# variables (four exogenous; the fifth explained by the other four and three
# covariates), 38 five-point ordered-probit indicators with free thresholds
# (8, 8, 8, 7, 7), six tasks of three alternatives (two products and none):
# a constant, three attributes and the fifth latent variable on both
# products. 202 parameters (two more per coefficient made random with
# `random`, see ?iclv_model).
seed_scale_model <- function(random = NULL) {
  sizes <- c(health = 8, benefit = 8, price = 8, knowledge = 7, intention = 7)
  first <- cumsum(c(1, sizes))[seq_along(sizes)]
  measurement <- vapply(seq_along(sizes), function(l) {
    items <- paste0("q", seq(first[l], length.out = sizes[l]))
    paste(names(sizes)[l], "=~", paste(items, collapse = " + "))
  }, character(1))
  syntax <- paste(c(measurement,
                    "intention ~ health + benefit + price + knowledge + age + female + income"),
                  collapse = "\n")
  iclv::iclv_model(syntax,
    utility = list(
      A = ~ asc + b_price * price_A + b_quality * quality_A + b_organic * organic_A +
        lambda * intention,
      B = ~ asc + b_price * price_B + b_quality * quality_B + b_organic * organic_B +
        lambda * intention,
      none = ~ 0),
    choice = "choice", id = "id", random = random)
}

seed_scale_data <- function(model, n_indiv = 326, seed = 42, ...) {
  iclv::iclv_simulate(model, n_indiv = n_indiv, n_tasks = 6, seed = seed, ...)
}

median_ms <- function(f, reps = 30) {
  f()
  times <- vapply(seq_len(reps), function(i) system.time(f())[["elapsed"]], numeric(1))
  1000 * stats::median(times)
}

peak_rss_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE))) / 1024
}

current_rss_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmRSS", status, value = TRUE))) / 1024
}
