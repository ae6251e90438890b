# Test helpers: two plain, slow, obviously-correct R versions of the
# simulated log-likelihood (vignette "likelihood", sections 1-3) to check the
# compiled engine against, and a builder of small model objects by hand
# (architecture.md sections 1-2) that does not go through iclv_model().
#
# by_hand_loglik() is the primary reference: it takes the model's structure
# from a description written by hand for each test model from its syntax
# (which items load on which latent variable, the paths, covariates, the
# threshold parameters of each item, the utilities as R functions of a data
# row), and reads everything from the raw data frame. Nothing comes from the
# package but the parameters' names, so a bug in the parser, the parameter
# table or the plan cannot be copied into it.
#
# reference_loglik() is the second check: the same sums with the structure
# taken from the package (the plan's pointers, the parsed utility terms and,
# with data = NULL, the prepared data).

# by_hand: list(
#   id, choice (column names),
#   latent = named list in the model's latent order, each list(scale,
#     intercept = NULL, covariates = c(column = parameter), paths = c(latent =
#     parameter)): LV = intercept + covariates + paths + scale * draw,
#   indicators = named list, each list(family, loadings = c(latent =
#     parameter), intercept, scale, thresholds = parameter names in order,
#     "-name" for a mirrored one, "0" for a threshold fixed at 0),
#   utility = named list of function(row, lv, theta) -> utility (NULL: no
#     choice part), availability = c(alternative = column),
#   random = named list of random coefficients (optional), each list(
#     distribution, location, spread, chol = c(earlier coefficient =
#     parameter)): their values join `lv` under their names).
# theta: named by the parameter table's names. draws: N x R x D, individuals
# in sorted id order, latent variables in by_hand$latent order, then the
# random coefficients in by_hand$random order.
by_hand_loglik <- function(by_hand, data, draws, theta, draw_weights = NULL, choice = TRUE) {
  stopifnot(!is.null(names(theta)))
  value <- function(name) {
    if (is.null(name)) return(NULL)
    if (!name %in% names(theta)) stop("no parameter `", name, "` in theta")
    theta[[name]]
  }
  ids <- sort(unique(data[[by_hand$id]]), method = "radix")
  n_indiv <- length(ids)
  latent <- names(by_hand$latent)
  stopifnot(dim(draws)[1] == n_indiv, dim(draws)[3] == length(latent) + length(by_hand$random))
  alternatives <- names(by_hand$utility)
  has_choice <- isTRUE(choice) && length(alternatives) > 0L
  rows_of <- lapply(ids, function(i) which(data[[by_hand$id]] == i))
  row_list <- lapply(seq_len(nrow(data)), function(i) as.list(data[i, , drop = FALSE]))
  # A person's answer: the first non-missing value on their rows.
  answer_of <- function(n, column) {
    answers <- data[[column]][rows_of[[n]]]
    answers <- answers[!is.na(answers)]
    if (length(answers)) as.numeric(answers[[1L]]) else NA
  }
  threshold_values <- function(names) vapply(names, function(name) {
    if (name == "0") 0 else if (startsWith(name, "-")) -value(substring(name, 2L)) else value(name)
  }, 0)

  loglik_draw <- function(n, eta) {
    lv <- stats::setNames(numeric(length(latent)), latent)
    for (l in seq_along(latent)) {
      spec <- by_hand$latent[[l]]
      total <- if (is.null(spec$intercept)) 0 else value(spec$intercept)
      for (x in names(spec$covariates))
        total <- total + value(spec$covariates[[x]]) * as.numeric(data[[x]][rows_of[[n]][[1L]]])
      for (from in names(spec$paths)) total <- total + value(spec$paths[[from]]) * lv[[from]]
      lv[[l]] <- total + value(spec$scale) * eta[[l]]
    }
    lv <- c(lv, by_hand_random_values(by_hand$random, eta[length(latent) + seq_along(by_hand$random)], value))
    total <- 0
    for (q in names(by_hand$indicators)) {
      item <- by_hand$indicators[[q]]
      answer <- answer_of(n, q)
      if (is.na(answer)) next
      mu <- value(item$intercept)
      for (l in names(item$loadings)) mu <- mu + value(item$loadings[[l]]) * lv[[l]]
      scale <- value(item$scale)
      if (item$family == "continuous") {
        total <- total + stats::dnorm(answer, mu, scale, log = TRUE)
        next
      }
      tau <- c(-Inf, threshold_values(item$thresholds), Inf)
      cdf <- if (item$family == "ordered_logit") stats::plogis else stats::pnorm
      lower <- (tau[[answer]] - mu) / scale
      upper <- (tau[[answer + 1L]] - mu) / scale
      prob <- if (lower > 0) cdf(-lower) - cdf(-upper) else cdf(upper) - cdf(lower)
      total <- total + log(prob)
    }
    if (has_choice) {
      for (row in rows_of[[n]]) {
        x <- row_list[[row]]
        available <- rep(TRUE, length(alternatives))
        for (a in names(by_hand$availability))
          available[match(a, alternatives)] <- as.logical(x[[by_hand$availability[[a]]]])
        utility <- vapply(alternatives, function(a) by_hand$utility[[a]](x, lv, theta), 0)
        v <- utility[available]
        chosen <- match(as.character(x[[by_hand$choice]]), alternatives)
        total <- total + utility[[chosen]] - (max(v) + log(sum(exp(v - max(v)))))
      }
    }
    total
  }

  average_over_draws(draws, draw_weights, loglik_draw)
}

# The random coefficients at one point (xi: their standard normal draws, in
# order): beta = g(location + spread h(xi) + sum_j L_j xi_j), with h from
# the uniform or triangular quantile of pnorm(xi), g = exp for lognormals.
by_hand_random_values <- function(random, xi, value) {
  names(xi) <- names(random)
  vapply(names(random), function(coef) {
    spec <- random[[coef]]
    u <- stats::pnorm(xi[[coef]])
    mapped <- switch(spec$distribution,
                     uniform = 2 * u - 1,
                     triangular = if (u < 0.5) sqrt(2 * u) - 1 else 1 - sqrt(2 * (1 - u)),
                     xi[[coef]])
    z <- value(spec$location) + value(spec$spread) * mapped
    for (other in names(spec$chol)) z <- z + value(spec$chol[[other]]) * xi[[other]]
    switch(spec$distribution, lognormal = exp(z), neg_lognormal = -exp(z), z)
  }, 0)
}

# LL_n = log(sum_r w_r exp(l_nr)) from loglik_draw(n, draw) = l_nr, with
# equal weights by default; weights are one per draw or individuals x draws.
average_over_draws <- function(draws, draw_weights, loglik_draw) {
  n_indiv <- dim(draws)[1]
  n_draws <- dim(draws)[2]
  if (is.null(draw_weights)) draw_weights <- rep(1 / n_draws, n_draws)
  if (is.null(dim(draw_weights))) {
    draw_weights <- matrix(draw_weights, n_indiv, n_draws, byrow = TRUE)
  }
  loglik_indiv <- vapply(seq_len(n_indiv), function(n) {
    l_nr <- vapply(seq_len(n_draws), function(r) loglik_draw(n, draws[n, r, ]), 0)
    a <- l_nr + log(draw_weights[n, ])
    max(a) + log(sum(exp(a - max(a))))
  }, 0)
  list(loglik = sum(loglik_indiv), loglik_indiv = loglik_indiv)
}

# reference_loglik(): LL_n = log(sum_r w_r exp(l_nr)) with
#   l_nr = sum_k log P(I_nk | LV_nr) + sum_t log P(y_nt | LV_nr).
# draws: N x R x D array of standard normals (D = latent variables, in
# model$latent order). theta_full: one value per row of model$params.
# Parameters are looked up by their lavaan names ("att=~q1", "att~age", ...)
# where the table has them, and through the plan only where a label replaced
# the name, and for thresholds. With `data` (the user's raw data set), the
# indicators, covariates, availability, choices and utility-term values are
# read from it directly, independently of prepare_data(); only the ids and
# the task rows come from `prepared`.
reference_loglik <- function(model, prepared, draws, theta_full,
                             draw_weights = NULL, choice = TRUE, data = NULL) {
  params <- model$params
  names(theta_full) <- params$name
  plan <- model$plan
  n_indiv <- length(prepared$ids)
  n_latent <- length(model$latent)
  stopifnot(dim(draws)[1] == n_indiv, dim(draws)[3] == n_latent)

  # the value of the parameter named `name`, or of plan index `index` (0-based)
  value_of <- function(name, index) {
    if (name %in% params$name) return(theta_full[[name]])
    if (index < 0L) return(NA_real_)
    theta_full[[index + 1L]]
  }
  ptr_range <- function(ptr, i) seq_len(ptr[[i + 1L]] - ptr[[i]]) + ptr[[i]]

  # ---- person-level data: from the raw data when given -------------------
  person_rows <- lapply(seq_len(n_indiv), function(n) {
    if (is.null(data)) NULL else which(data[[model$id]] == prepared$ids[[n]])
  })
  indicator_answer <- function(n, k) {
    q <- model$indicators[[k]]
    if (is.null(data)) {
      if (model$family[[k]] == "continuous") {
        value <- prepared$ind_value[n, k]
        return(if (is.nan(value)) NA else value)
      }
      code <- prepared$ind_cat[n, k]
      return(if (code == 0L) NA else code)
    }
    answers <- data[[q]][person_rows[[n]]]
    answers <- answers[!is.na(answers)]
    if (length(answers) == 0L) NA else as.numeric(answers[[1L]])
  }
  covariate_value <- function(n, x) {
    if (is.null(data)) prepared$covariates[n, match(x, model$covariates)]
    else as.numeric(data[[x]][person_rows[[n]][[1L]]])
  }

  # ---- task-level data ----------------------------------------------------
  terms <- model$utility_terms
  alternatives <- model$alternatives
  has_choice <- isTRUE(choice) && length(alternatives) > 0L
  if (has_choice && !is.null(data)) {
    term_columns <- lapply(seq_len(nrow(terms)), function(m) {
      expr <- terms$value[[m]]
      if (is.null(expr)) rep(1, nrow(data)) else as.numeric(eval(expr, data, globalenv()))
    })
    chosen_raw <- data[[model$choice]]
    chosen_column <- if (is.numeric(chosen_raw)) as.integer(chosen_raw)
                     else match(as.character(chosen_raw), alternatives)
  }
  task_data <- function(t) {
    if (is.null(data)) {
      return(list(value = prepared$term_value[t, ],
                  available = prepared$avail[t, ] == 1L,
                  chosen = prepared$choice[[t]] + 1L))
    }
    row <- prepared$rows[[t]]
    available <- rep(TRUE, length(alternatives))
    for (a in names(model$availability)) {
      available[match(a, alternatives)] <- as.logical(data[[model$availability[[a]]]][[row]])
    }
    list(value = vapply(term_columns, function(column) column[[row]], 0),
         available = available, chosen = chosen_column[[row]])
  }

  # ---- one individual, one draw ---------------------------------------------
  loglik_draw <- function(n, eta) {
    lv <- stats::setNames(numeric(n_latent), model$latent)
    for (l in seq_len(n_latent)) {
      name <- model$latent[[l]]
      alpha <- value_of(paste0(name, "~1"), plan$lv_alpha[[l]])
      sigma <- value_of(paste0(name, "~~", name), plan$lv_sigma[[l]])
      value <- (if (is.na(alpha)) 0 else alpha) + (if (is.na(sigma)) 1 else sigma) * eta[[l]]
      for (i in ptr_range(plan$lv_cov_ptr, l)) {
        x <- model$covariates[[plan$lv_cov_col[[i]] + 1L]]
        value <- value + value_of(paste0(name, "~", x), plan$lv_cov_par[[i]]) *
          covariate_value(n, x)
      }
      for (i in ptr_range(plan$lv_path_ptr, l)) {
        from <- model$latent[[plan$lv_path_from[[i]] + 1L]]
        stopifnot(match(from, model$latent) < l)
        value <- value + value_of(paste0(name, "~", from), plan$lv_path_par[[i]]) * lv[[from]]
      }
      lv[[l]] <- value
    }

    total <- 0
    for (k in seq_along(model$indicators)) {
      answer <- indicator_answer(n, k)
      if (is.na(answer)) next
      q <- model$indicators[[k]]
      intercept <- value_of(paste0(q, "~1"), plan$ind_intercept[[k]])
      scale <- value_of(paste0(q, "~~", q), plan$ind_scale[[k]])
      mu <- if (is.na(intercept)) 0 else intercept
      scale <- if (is.na(scale)) 1 else scale
      for (i in ptr_range(plan$ind_load_ptr, k)) {
        from <- model$latent[[plan$ind_load_lv[[i]] + 1L]]
        mu <- mu + value_of(paste0(from, "=~", q), plan$ind_load_par[[i]]) * lv[[from]]
      }
      family <- model$family[[k]]
      if (family == "continuous") {
        total <- total + stats::dnorm(answer, mu, scale, log = TRUE)
        next
      }
      thr <- ptr_range(plan$ind_thr_ptr, k)
      tau <- c(-Inf, plan$ind_thr_sign[thr] * theta_full[plan$ind_thr_par[thr] + 1L], Inf)
      cdf <- if (family == "ordered_logit") stats::plogis else stats::pnorm
      lower <- (tau[[answer]] - mu) / scale
      upper <- (tau[[answer + 1L]] - mu) / scale
      # both bounds in the upper half: difference of upper tails (no 1 - 1)
      prob <- if (lower > 0) cdf(-lower) - cdf(-upper) else cdf(upper) - cdf(lower)
      total <- total + log(prob)
    }

    if (has_choice) {
      for (t in ptr_range(prepared$task_ptr, n)) {
        task <- task_data(t)
        utility <- rep(0, length(alternatives))
        for (m in seq_len(nrow(terms))) {
          term <- theta_full[[terms$coef[[m]]]] * task$value[[m]]
          if (!is.na(terms$lv[[m]])) term <- term * lv[[terms$lv[[m]]]]
          utility[[terms$alt[[m]]]] <- utility[[terms$alt[[m]]]] + term
        }
        v <- utility[task$available]
        total <- total + utility[[task$chosen]] - (max(v) + log(sum(exp(v - max(v)))))
      }
    }
    total
  }

  average_over_draws(draws, draw_weights, loglik_draw)
}

# A model object built by hand, following architecture.md sections 1-2, for
# tests that must not depend on iclv_model().
#   loadings:   named list indicator -> latent variable(s) it loads on
#   families:   named character indicator -> "ordered_probit" / "ordered_logit" / "continuous"
#   categories: named integer indicator -> categories (ordered only)
#   covariates: named list latent -> covariate columns (LV ~ x)
#   lv_paths:   named list latent -> earlier latent variables (LV ~ LV2)
#   terms:      list of list(alt, coef, lv = NA, value = NULL (constant) or a language object)
handmade_model <- function(latent, loadings, families, categories = NULL,
                           covariates = list(), lv_paths = list(),
                           alternatives = character(0), terms = list(),
                           choice = if (length(alternatives)) "choice" else NULL,
                           id = "id", availability = NULL) {
  indicators <- names(loadings)
  rows <- list()
  add <- function(name, block, type, free, start) {
    rows[[length(rows) + 1L]] <<- data.frame(name = name, block = block, free = free,
                                             start = start, label = "", type = type,
                                             stringsAsFactors = FALSE)
  }
  for (q in indicators) for (l in loadings[[q]]) add(paste0(l, "=~", q), "measurement", "loading", TRUE, 1)
  for (l in names(covariates)) for (x in covariates[[l]]) add(paste0(l, "~", x), "structural", "covariate_path", TRUE, 0)
  for (l in names(lv_paths)) for (m in lv_paths[[l]]) add(paste0(l, "~", m), "structural", "lv_path", TRUE, 0)
  for (q in indicators) {
    if (families[[q]] != "continuous") {
      n_thr <- categories[[q]] - 1L
      for (j in seq_len(n_thr)) {
        add(paste0(q, "|t", j), "thresholds", "threshold", TRUE,
            if (n_thr == 1L) 0 else seq(-1, 1, length.out = n_thr)[[j]])
      }
    }
  }
  for (q in indicators) {
    continuous <- families[[q]] == "continuous"
    add(paste0(q, "~1"), "measurement", "intercept", continuous, 0)
  }
  for (q in indicators) {
    continuous <- families[[q]] == "continuous"
    add(paste0(q, "~~", q), "measurement", "scale", continuous, 1)
  }
  for (l in latent) add(paste0(l, "~~", l), "structural", "lv_scale", FALSE, 1)
  coefs <- unique(vapply(terms, function(term) term$coef, ""))
  for (b in coefs) add(b, "choice", "choice", TRUE, 0)
  params <- do.call(rbind, rows)
  rownames(params) <- NULL
  index <- function(name) match(name, params$name) - 1L

  all_covariates <- unique(unlist(covariates, use.names = FALSE))
  if (is.null(all_covariates)) all_covariates <- character(0)
  csr <- function(groups, each) {
    lengths <- vapply(groups, function(g) length(each(g)), 0L)
    as.integer(c(0L, cumsum(lengths)))
  }
  n_cat <- vapply(indicators, function(q) {
    if (families[[q]] == "continuous") 0L else as.integer(categories[[q]])
  }, 0L, USE.NAMES = FALSE)
  thr_names <- unlist(lapply(indicators, function(q) {
    if (families[[q]] == "continuous") character(0) else paste0(q, "|t", seq_len(categories[[q]] - 1L))
  }))
  plan <- list(
    lv_alpha = rep(-1L, length(latent)),
    lv_sigma = index(paste0(latent, "~~", latent)),
    lv_cov_ptr = csr(latent, function(l) covariates[[l]]),
    lv_cov_col = as.integer(match(unlist(lapply(latent, function(l) covariates[[l]])), all_covariates) - 1L),
    lv_cov_par = index(unlist(lapply(latent, function(l) if (length(covariates[[l]])) paste0(l, "~", covariates[[l]])))),
    lv_path_ptr = csr(latent, function(l) lv_paths[[l]]),
    lv_path_from = as.integer(match(unlist(lapply(latent, function(l) lv_paths[[l]])), latent) - 1L),
    lv_path_par = index(unlist(lapply(latent, function(l) if (length(lv_paths[[l]])) paste0(l, "~", lv_paths[[l]])))),
    ind_family = as.integer(match(unname(families[indicators]),
                                  c("ordered_probit", "ordered_logit", "continuous")) - 1L),
    ind_ncat = n_cat,
    ind_intercept = index(paste0(indicators, "~1")),
    ind_scale = index(paste0(indicators, "~~", indicators)),
    ind_load_ptr = csr(indicators, function(q) loadings[[q]]),
    ind_load_lv = as.integer(match(unlist(lapply(indicators, function(q) loadings[[q]])), latent) - 1L),
    ind_load_par = index(unlist(lapply(indicators, function(q) paste0(loadings[[q]], "=~", q)))),
    ind_thr_ptr = as.integer(c(0L, cumsum(pmax(n_cat - 1L, 0L)))),
    ind_thr_par = index(thr_names),
    ind_thr_sign = rep(1, length(thr_names)),
    util_alt = integer(0), util_par = integer(0), util_lv = integer(0)
  )
  for (name in names(plan)) if (length(plan[[name]]) == 0L) plan[[name]] <- vector(typeof(plan[[name]]), 0L)
  plan$ind_thr_sign <- as.double(plan$ind_thr_sign)

  utility_terms <- data.frame(
    alt = vapply(terms, function(term) match(term$alt, alternatives), 0L),
    coef = vapply(terms, function(term) term$coef, ""),
    lv = vapply(terms, function(term) if (is.null(term$lv)) NA_character_ else term$lv, ""),
    stringsAsFactors = FALSE
  )
  utility_terms$value <- lapply(terms, function(term) term$value)
  plan$util_alt <- as.integer(utility_terms$alt - 1L)
  plan$util_par <- index(utility_terms$coef)
  plan$util_lv <- as.integer(ifelse(is.na(utility_terms$lv), 0L, match(utility_terms$lv, latent)) - 1L)

  family_vec <- stats::setNames(unname(families[indicators]), indicators)
  structure(list(
    latent = latent, indicators = indicators, family = family_vec,
    categories = stats::setNames(ifelse(n_cat == 0L, NA_integer_, n_cat), indicators),
    covariates = all_covariates, alternatives = alternatives,
    utility_terms = utility_terms, choice = choice, id = id,
    availability = availability, params = params, plan = plan, syntax = ""
  ), class = "iclv_model")
}
