# Starting values (documented in ?iclv): the table's defaults refined from the
# data, then the latent part alone, then a plain MNL for the choice
# coefficients with the latent variables' posterior means as regressors.

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

# Defaults from the data: thresholds of free ordered indicators from their
# answer shares (scaled for the variance of y* = loading * LV + error), and
# the intercept and scale of continuous indicators from their moments.
data_start <- function(model, prepared, theta_full) {
  params <- model$params
  plan <- model$plan
  for (k in seq_along(model$indicators)) {
    family <- model$family[[k]]
    load_rows <- plan$ind_load_par[seq_len(plan$ind_load_ptr[k + 1L] - plan$ind_load_ptr[k]) +
                                     plan$ind_load_ptr[k]] + 1L
    if (family == "continuous") {
      y <- prepared$ind_value[, k]
      y <- y[!is.nan(y)]
      if (length(y) < 2L) next
      intercept_row <- plan$ind_intercept[k] + 1L
      scale_row <- plan$ind_scale[k] + 1L
      if (params$free[intercept_row]) theta_full[intercept_row] <- mean(y)
      spread <- stats::sd(y) / sqrt(2)
      if (spread > 0) {
        if (params$free[scale_row]) theta_full[scale_row] <- spread
        for (r in load_rows) if (params$free[r]) theta_full[r] <- spread
      }
      next
    }
    idx <- seq_len(plan$ind_thr_ptr[k + 1L] - plan$ind_thr_ptr[k]) + plan$ind_thr_ptr[k]
    rows <- plan$ind_thr_par[idx] + 1L
    if (any(plan$ind_thr_sign[idx] != 1) || anyDuplicated(rows) || !all(params$free[rows]))
      next
    answers <- prepared$ind_cat[, k]
    answers <- answers[answers > 0L]
    n_cat <- model$categories[[k]]
    if (length(answers) < n_cat) next
    # Shares with half a count added to each category keep every cut finite.
    counts <- tabulate(answers, n_cat) + 0.5
    cum <- cumsum(counts)[-n_cat] / sum(counts)
    quantile_fn <- if (family == "ordered_logit") stats::qlogis else stats::qnorm
    unit_sd <- if (family == "ordered_logit") pi / sqrt(3) else 1
    sd_total <- sqrt(sum(theta_full[load_rows]^2) + unit_sd^2) / unit_sd
    tau <- quantile_fn(cum) * sd_total
    shared <- vapply(rows, function(r) sum(plan$ind_thr_par + 1L == r) > 1L, logical(1))
    if (!any(shared) && all(diff(tau) > 0)) theta_full[rows] <- tau
  }
  theta_full
}

# Choice coefficients from a plain MNL in which each latent variable is
# replaced by its posterior mean. Returns theta_full with those filled in.
mnl_start <- function(model, prepared, theta_full, lv_mean) {
  params <- model$params
  terms <- model$utility_terms
  coef_rows <- match(unique(terms$coef), params$name)
  coef_rows <- coef_rows[params$free[coef_rows]]
  if (!length(coef_rows) || !length(prepared$choice)) return(theta_full)
  n_task <- length(prepared$choice)
  n_alt <- length(model$alternatives)
  task_indiv <- rep.int(seq_len(nrow(prepared$ind_cat)), diff(prepared$task_ptr))
  # X[t, j, p]: the multiplier of coefficient p in the utility of j in task t.
  x <- array(0, c(n_task, n_alt, length(coef_rows)))
  offset <- matrix(0, n_task, n_alt) # terms of fixed coefficients
  for (m in seq_len(nrow(terms))) {
    value <- prepared$term_value[, m]
    if (!is.na(terms$lv[m])) value <- value * lv_mean[task_indiv, match(terms$lv[m], model$latent)]
    row <- match(terms$coef[m], params$name)
    p <- match(row, coef_rows)
    if (is.na(p)) offset[, terms$alt[m]] <- offset[, terms$alt[m]] + theta_full[row] * value
    else x[, terms$alt[m], p] <- x[, terms$alt[m], p] + value
  }
  avail <- prepared$avail == 1L
  chosen <- cbind(seq_len(n_task), prepared$choice + 1L)
  x_flat <- matrix(x, n_task * n_alt)
  utility <- function(beta) {
    v <- offset + matrix(x_flat %*% beta, n_task, n_alt)
    v[!avail] <- -Inf
    v - apply(v, 1L, max)
  }
  neg_loglik <- function(beta) {
    v <- utility(beta)
    -sum(v[chosen] - log(rowSums(exp(v))))
  }
  neg_gradient <- function(beta) {
    v <- utility(beta)
    prob <- exp(v) / rowSums(exp(v))
    resid <- -prob
    resid[chosen] <- resid[chosen] + 1
    -colSums(matrix(x_flat * as.vector(resid), n_task * n_alt))
  }
  fit <- stats::optim(theta_full[coef_rows], neg_loglik, neg_gradient, method = "BFGS",
                      control = list(maxit = 500L, reltol = 1e-10))
  if (all(is.finite(fit$par))) theta_full[coef_rows] <- fit$par
  theta_full
}
