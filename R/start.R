# Starting values (documented in ?iclv), in stages:
#   defaults  the table's defaults refined from the data: loadings from the
#             indicators' correlations, thresholds from answer shares,
#             continuous indicators' intercepts and scales from their moments;
#   latent    the latent part alone (the engine with the choice part off),
#             with standardised latent variables (R/normalisation.R), then
#             mapped to the user's normalisation;
#   mnl       the choice coefficients from a plain MNL in which each latent
#             variable is replaced by its posterior mean (a random
#             coefficient by its location: the MNL coefficient, or the log of
#             its size for a lognormal; spreads keep their small start).

# The user's starting values, checked, without the values of fixed parameters
# (accepted when they equal the fixed value).
check_start <- function(model, start) {
  if (is.null(start)) return(NULL)
  if (!is.numeric(start) || is.null(names(start)))
    stop("`start` must be a named numeric vector (names as in iclv_parameters(model))",
         call. = FALSE)
  start <- drop_fixed_values(model, start, "start")
  check_parameter_names(model, names(start), "start")
  bad <- !is.finite(start)
  if (any(bad))
    stop("`start` has non-finite values: ", paste0("`", names(start)[bad], "`", collapse = ", "),
         call. = FALSE)
  start
}

# theta_full to start from, with attribute "stages" (the stages run). Values
# in `start` (named, natural scale) are kept in every stage. With
# `standardise = FALSE` the latent stage runs in the user's normalisation
# (an alternative start for the multi-start).
starting_values <- function(model, prepared, engine, start, control, standardise = TRUE) {
  params <- model$params
  user_rows <- match(names(start), params$name)
  standardised <- if (standardise) standardised_model(model, keep = user_rows) else
    list(model = model, rescaled = list())
  theta_std <- data_start(standardised$model, prepared, standardised$model$params$start,
                          references = reference_rows(standardised))
  # Its correlations and factor scores leave some 20 MB of garbage at 3,260
  # people, resident next to a large engine unless handed back.
  release_for_engine(engine)
  theta_std[user_rows] <- start
  stages <- "defaults"
  run_stages <- control$start_stages && length(user_rows) < sum(params$free)
  moving <- setdiff(which(standardised$model$params$free & params$block != "choice"), user_rows)
  if (run_stages && length(moving)) {
    theta_std <- latent_stage(standardised$model, engine, theta_std, moving, control)
    stages <- c(stages, "latent")
  }
  theta_full <- to_user_normalisation(standardised, model, theta_std)
  if (run_stages && length(prepared$choice)) {
    theta_full <- mnl_start(model, prepared, theta_full,
                            posterior_lv_means(engine, theta_full, prepared$ids),
                            keep = user_rows)
    theta_full <- random_location_starts(model, theta_full, keep = user_rows)
    stages <- c(stages, "mnl")
  }
  structure(theta_full, stages = stages)
}

# Each person's posterior means of the latent variables (N x L) for the MNL
# stage. A person whose integral is not positive (a plain sparse grid's
# negative weights) has none: the prior mean, 0, stands in, with a warning.
posterior_lv_means <- function(engine, theta_full, ids) {
  lv_mean <- t(engine_predict(engine, theta_full, "lv")$mean)
  no_posterior <- which(!is.finite(rowSums(lv_mean)))
  if (length(no_posterior)) {
    warn_nonpositive(no_posterior, ids, "at the starting values")
    lv_mean[no_posterior, ] <- 0
  }
  lv_mean
}

# The parameter table's defaults refined from the data (stage 1), with the
# user's starting values in place: where adaptive points are first centred.
default_theta <- function(model, prepared, start) {
  params <- model$params
  theta_full <- data_start(model, prepared, params$start)
  theta_full[match(names(start), params$name)] <- start
  check_theta_domain(model, theta_full)
  theta_full
}

# The latent part alone: the rows `moving` (free in `model`) are estimated
# with the choice part switched off, to a looser tolerance than the final
# estimation (which continues from here).
latent_stage <- function(model, engine, theta_full, moving, control) {
  map <- working_map(model)
  u_full <- working_from_theta(model, map, theta_full)
  positions <- match(moving, map$free)
  objective <- sub_objective(make_objective(engine, model, map, choice = FALSE), u_full,
                             positions)
  opt <- run_optimizer(objective, u_full[positions], stage_control(control), max_restarts = 0L)
  if (isTRUE(opt$interrupted)) stop_interrupted("while finding starting values")
  u_full[positions] <- opt$u
  theta_from_working(model, map, u_full)
}

# Settings of the optimizer in the start stages: no trace, and tolerances
# and an iteration budget that stop once the stage has done its job (a
# start, not an estimate: the estimation continues from it, and each
# iteration costs about as much as one of the estimation).
stage_control <- function(control) {
  control$trace <- FALSE
  control$reltol <- max(control$reltol, 1e-6)
  control$gradtol <- max(control$gradtol, 1e-4)
  control$maxit <- min(control$maxit, stage_iterations)
  control
}

stage_iterations <- 25L

# Re-raises a user interrupt that a stage's optimizer caught, so that Ctrl-C
# stops iclv() and not only the stage (no iteration has run: nothing to save).
stop_interrupted <- function(where) {
  stop(structure(class = c("interrupt", "condition"),
                 list(message = paste("iclv() was interrupted", where), call = NULL)))
}

# Defaults from the data. Loadings: per latent variable, one principal-axis
# factor of the correlations of its indicators' answers, oriented so that a
# fixed loading, or a reference loading freed in the standardised form
# (`references`, rows; its start holds the fixed value), keeps its sign (else
# so that the loadings sum to a positive value), and put on each indicator's
# latent response scale. Thresholds and intercepts of ordered indicators:
# from their answer shares, scaled to the variance of y* = loadings * LV +
# error (threshold_starts()). Continuous indicators: intercept and error
# scale from their moments.
data_start <- function(model, prepared, theta_full, references = integer(0)) {
  params <- model$params
  plan <- model$plan
  answers <- indicator_answers(model, prepared)
  n_ind <- length(model$indicators)
  # Correlation of each (latent, indicator) loading with its factor, and the
  # share of each indicator's variance the latent variables explain.
  factors <- lapply(seq_along(model$latent), function(l) {
    rows <- latent_rows(plan, l)
    r <- factor_loadings(answers[, rows$items, drop = FALSE])
    reference <- (!params$free[rows$loadings] | rows$loadings %in% references) &
      params$start[rows$loadings] != 0
    direction <- if (any(reference)) sum(sign(params$start[rows$loadings][reference]) * r[reference])
                 else sum(r)
    list(latent = l, rows = rows, r = if (direction < 0) -r else r)
  })
  theta_full <- structural_starts(model, prepared, answers, factors, theta_full)
  moments <- latent_moments(model, prepared, theta_full)
  explained <- numeric(n_ind)
  for (f in factors) explained[f$rows$items] <- explained[f$rows$items] + f$r^2
  explained <- pmin(explained, 0.9)
  total_sd <- numeric(n_ind)
  for (k in which(model$family != "continuous"))
    total_sd[k] <- indicator_error_sd(model, theta_full, k) / sqrt(1 - explained[[k]])
  for (k in which(model$family == "continuous")) {
    y <- answers[!is.na(answers[, k]), k]
    total_sd[k] <- if (length(y) >= 2L && stats::sd(y) > 0) stats::sd(y) else 1
    scale_row <- plan$ind_scale[[k]] + 1L
    if (params$free[scale_row]) theta_full[scale_row] <- total_sd[k] * sqrt(1 - explained[[k]])
  }
  for (f in factors) {
    free <- params$free[f$rows$loadings]
    lv_sd <- moments$sd[[f$latent]]
    if (lv_sd > 0 && any(free))
      theta_full[f$rows$loadings[free]] <- (f$r * total_sd[f$rows$items] / lv_sd)[free]
  }
  # Each indicator's latent response has mean intercept + loadings x means
  # of the latent variables: the intercepts and thresholds found from the
  # answers are shifted by the latter.
  item <- findInterval(seq_along(plan$ind_load_par) - 1L, plan$ind_load_ptr)
  shift <- tabulate_sum(item, theta_full[plan$ind_load_par + 1L] *
                          moments$mean[plan$ind_load_lv + 1L], n_ind)
  for (k in which(model$family == "continuous")) {
    y <- answers[!is.na(answers[, k]), k]
    intercept_row <- plan$ind_intercept[[k]] + 1L
    if (params$free[intercept_row] && length(y)) theta_full[intercept_row] <- mean(y) - shift[[k]]
  }
  threshold_starts(model, prepared, theta_full, total_sd, shift)
}

# Sums of `value` by `group` (1..n).
tabulate_sum <- function(group, value, n) {
  out <- numeric(n)
  sums <- rowsum(value, group, reorder = TRUE)
  out[as.integer(rownames(sums))] <- sums[, 1L]
  out
}

# Structural paths from factor scores: each latent variable's score (its
# indicators' standardised answers weighted by r / (1 - r^2), standardised)
# regressed on the covariates and the scores of the latent variables it
# depends on, the coefficients taken from score units to the latent
# variables' own (error scale sigma, the share of variance the regression
# leaves). Free covariate paths and paths are set; the rest stays.
structural_starts <- function(model, prepared, answers, factors, theta_full) {
  params <- model$params
  plan <- model$plan
  scores <- vapply(factors, function(f) factor_score(answers[, f$rows$items, drop = FALSE], f$r),
                   numeric(nrow(answers)))
  scores <- matrix(scores, nrow(answers))
  for (l in seq_along(model$latent)) {
    cov_idx <- seq_csr(plan$lv_cov_ptr, l)
    path_idx <- seq_csr(plan$lv_path_ptr, l)
    rows <- c(plan$lv_cov_par[cov_idx], plan$lv_path_par[path_idx]) + 1L
    if (!any(params$free[rows])) next
    from <- plan$lv_path_from[path_idx] + 1L
    regressors <- cbind(1, prepared$covariates[, plan$lv_cov_col[cov_idx] + 1L, drop = FALSE],
                        scores[, from, drop = FALSE])
    fit <- stats::lm.fit(regressors, scores[, l])
    slopes <- fit$coefficients[-1L]
    if (anyNA(slopes)) next
    r2 <- min(max(1 - stats::var(fit$residuals) / stats::var(scores[, l]), 0), 0.9)
    lv_sd <- latent_moments(model, prepared, theta_full)$sd
    own_sd <- theta_full[[plan$lv_sigma[[l]] + 1L]] / sqrt(1 - r2)
    per_unit <- own_sd / c(rep(1, length(cov_idx)), lv_sd[from])
    free <- params$free[rows]
    theta_full[rows[free]] <- (slopes * per_unit)[free]
  }
  theta_full
}

# A factor score per individual: standardised answers (missing ones at the
# mean) weighted by r / (1 - r^2), then standardised.
factor_score <- function(y, r) {
  z <- scale(y)
  z[!is.finite(z)] <- 0
  score <- as.vector(z %*% (r / (1 - r^2)))
  spread <- stats::sd(score)
  if (!is.finite(spread) || spread == 0) return(numeric(length(score)))
  (score - mean(score)) / spread
}

# The answers of every indicator (individuals x indicators), NA = missing.
indicator_answers <- function(model, prepared) {
  answers <- prepared$ind_cat
  storage.mode(answers) <- "double"
  answers[answers == 0] <- NA
  continuous <- model$family == "continuous"
  answers[, continuous] <- prepared$ind_value[, continuous]
  answers[is.nan(answers)] <- NA
  answers
}

# Correlations of indicators with their common factor: principal-axis
# factoring of their (pairwise) correlation matrix, kept within 0.05 and 0.9
# in absolute value. A single indicator gets 0.7 (half its variance).
factor_loadings <- function(y) {
  m <- ncol(y)
  if (m < 2L) return(rep(sqrt(0.5), m))
  corr <- suppressWarnings(stats::cor(y, use = "pairwise.complete.obs"))
  corr[!is.finite(corr)] <- 0
  diag(corr) <- 0
  communality <- pmax(apply(abs(corr), 2L, max), 0.01)
  for (iteration in 1:10) {
    diag(corr) <- communality
    first <- eigen(corr, symmetric = TRUE)
    r <- first$vectors[, 1L] * sqrt(max(first$values[[1L]], 0))
    communality <- pmin(pmax(r^2, 0.01), 0.9)
  }
  ifelse(r < 0, -1, 1) * pmin(pmax(abs(r), 0.05), 0.9)
}

# Thresholds and intercepts of ordered indicators from their answer shares.
# Indicator k's own cut points on its latent response scale, c_kj =
# quantile(share of answers <= j) x sd / (unit sd), stand for tau_j - nu_k -
# shift_k (threshold minus intercept minus loadings x latent means). Per threshold set, the free thresholds and the
# free intercepts of the set's indicators are the least-squares solution of
# these equations (for one indicator with its own thresholds, tau_j = c_kj +
# nu_k). Sets that overlap others, or whose solution is not identified or not
# increasing, keep their values.
threshold_starts <- function(model, prepared, theta_full, total_sd, shift) {
  params <- model$params
  plan <- model$plan
  set_rows <- unlist(lapply(model$threshold_sets, `[[`, "par"))
  overlapping <- set_rows[duplicated(set_rows)]
  for (set in model$threshold_sets) {
    if (any(set$par %in% overlapping)) next
    members <- match(set$indicators, model$indicators)
    intercepts <- plan$ind_intercept[members] + 1L
    unknown <- unique(c(set$par[params$free[set$par]], intercepts[params$free[intercepts]]))
    if (!length(unknown)) next
    equations <- lapply(seq_along(members), function(i) {
      cuts <- indicator_cuts(model, prepared, members[[i]], total_sd[[members[[i]]]])
      if (is.null(cuts)) return(NULL)
      cuts <- cuts + shift[[members[[i]]]]
      idx <- seq_csr(plan$ind_thr_ptr, members[[i]])
      design <- matrix(0, length(idx), length(unknown))
      known <- cuts
      for (j in seq_along(idx)) {
        row <- plan$ind_thr_par[[idx[[j]]]] + 1L
        sign <- plan$ind_thr_sign[[idx[[j]]]]
        if (row %in% unknown) design[j, match(row, unknown)] <- sign
        else known[j] <- known[j] - sign * theta_full[[row]]
      }
      if (intercepts[[i]] %in% unknown) design[, match(intercepts[[i]], unknown)] <- -1
      else known <- known + theta_full[[intercepts[[i]]]]
      list(design = design, known = known)
    })
    equations <- Filter(Negate(is.null), equations)
    if (!length(equations)) next
    design <- do.call(rbind, lapply(equations, `[[`, "design"))
    decomposition <- qr(design)
    if (decomposition$rank < length(unknown)) next
    proposal <- theta_full
    proposal[unknown] <- qr.coef(decomposition, unlist(lapply(equations, `[[`, "known")))
    increasing <- vapply(members, function(k) {
      idx <- seq_csr(plan$ind_thr_ptr, k)
      all(diff(plan$ind_thr_sign[idx] * proposal[plan$ind_thr_par[idx] + 1L]) > 0)
    }, logical(1))
    if (all(increasing)) theta_full <- proposal
  }
  theta_full
}

# Indicator k's cut points on a latent response scale with standard
# deviation `total_sd`, from its answer shares (half a count added to each
# category keeps every cut finite); NULL with fewer answers than categories.
indicator_cuts <- function(model, prepared, k, total_sd) {
  answers <- prepared$ind_cat[, k]
  answers <- answers[answers > 0L]
  n_cat <- model$categories[[k]]
  if (length(answers) < n_cat) return(NULL)
  counts <- tabulate(answers, n_cat) + 0.5
  cum <- cumsum(counts)[-n_cat] / sum(counts)
  logit <- model$family[[k]] == "ordered_logit"
  unit_sd <- if (logit) pi / sqrt(3) else 1
  (if (logit) stats::qlogis(cum) else stats::qnorm(cum)) * total_sd / unit_sd
}

# Choice coefficients from a plain MNL in which each latent variable is
# replaced by its posterior mean; coefficients in `keep` (rows) stay as they
# are. Returns theta_full with the others filled in.
mnl_start <- function(model, prepared, theta_full, lv_mean, keep = integer(0)) {
  params <- model$params
  terms <- model$utility_terms
  coef_rows <- match(unique(terms$coef), params$name)
  coef_rows <- coef_rows[params$free[coef_rows] & !coef_rows %in% keep]
  if (!length(coef_rows) || !length(prepared$choice)) return(theta_full)
  n_task <- length(prepared$choice)
  n_alt <- length(model$alternatives)
  task_indiv <- rep.int(seq_len(nrow(prepared$ind_cat)), diff(prepared$task_ptr))
  # X[t, j, p]: the multiplier of coefficient p in the utility of j in task t.
  x <- array(0, c(n_task, n_alt, length(coef_rows)))
  offset <- matrix(0, n_task, n_alt) # terms of the other coefficients
  for (m in seq_len(nrow(terms))) {
    value <- prepared$term_value[, m]
    if (!is.na(terms$lv[m])) value <- value * lv_mean[task_indiv, match(terms$lv[m], model$latent)]
    row <- match(terms$coef[m], params$name)
    p <- match(row, coef_rows)
    if (is.na(p)) offset[, terms$alt[m]] <- offset[, terms$alt[m]] + theta_full[row] * value
    else x[, terms$alt[m], p] <- x[, terms$alt[m], p] + value
  }
  unavailable <- prepared$avail != 1L
  chosen <- cbind(seq_len(n_task), prepared$choice + 1L)
  x_flat <- matrix(x, n_task * n_alt)
  evaluate <- function(beta) {
    v <- offset + matrix(x_flat %*% beta, n_task, n_alt)
    v[unavailable] <- -Inf
    v_max <- v[, 1L]
    for (j in seq_len(n_alt)[-1L]) v_max <- pmax(v_max, v[, j])
    e <- exp(v - v_max)
    total <- rowSums(e)
    list(loglik = sum(v[chosen] - v_max - log(total)), prob = e / total)
  }
  beta <- newton_ascent(theta_full[coef_rows], evaluate, function(beta, at) {
    resid <- -at$prob
    resid[chosen] <- resid[chosen] + 1
    as.vector(crossprod(x_flat, as.vector(resid)))
  }, function(beta, at) {
    # Minus the Hessian: sum over tasks of X' (diag(p) - p p') X.
    prob <- as.vector(at$prob)
    mean_x <- rowsum(x_flat * prob, rep(seq_len(n_task), n_alt), reorder = FALSE)
    crossprod(x_flat, x_flat * prob) - crossprod(mean_x)
  })
  if (all(is.finite(beta))) theta_full[coef_rows] <- beta
  theta_full
}

# Newton's method for a concave log-likelihood. `evaluate(beta)` returns a
# list with `loglik` and what `gradient(beta, at)` and `information(beta, at)`
# (minus the Hessian) need. Steps are halved until the log-likelihood rises;
# a small ridge keeps the step defined where a coefficient is not identified.
newton_ascent <- function(beta, evaluate, gradient, information, maxit = 100L, tol = 1e-10) {
  at <- evaluate(beta)
  for (iteration in seq_len(maxit)) {
    g <- gradient(beta, at)
    info <- information(beta, at)
    ridge <- 1e-8 * max(1, abs(diag(info)))
    step <- tryCatch(solve(info + diag(ridge, length(beta)), g), error = function(e) g)
    improvement <- sum(g * step)
    if (!is.finite(improvement) || improvement < tol) break
    for (halving in 0:30) {
      trial <- evaluate(beta + step)
      if (is.finite(trial$loglik) && trial$loglik >= at$loglik) break
      step <- step / 2
    }
    if (!(is.finite(trial$loglik) && trial$loglik >= at$loglik)) break
    beta <- beta + step
    at <- trial
  }
  beta
}
