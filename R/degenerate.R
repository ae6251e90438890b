# Degenerate solutions: points where the optimizer stops with a small
# gradient that are not a usable maximum. A latent variable whose scale has
# collapsed (its reference indicator no longer measures it, the free
# loadings explode), an indicator explained without error, thresholds or
# choice coefficients running off to infinity, or a Hessian that is not
# negative definite. Such a fit gets its own convergence code; iclv() first
# tries the alternative starts (R/multistart.R).

degenerate_code <- 3L

# The limits, as ratios that do not depend on the units of the data.
degenerate_limits <- list(
  reference_signal = 0.01, # reference indicator: latent signal sd / error sd, below
  error_signal = 100,      # any indicator: latent signal sd / error sd, above (R^2 > 0.9999)
  threshold_sd = 30,       # |threshold - intercept| / latent response sd, above
  utility_span = 50,       # |coefficient| x spread of its term, in utility units
  random_spread = 1e-3     # random coefficient's spread x size of its terms (utility units), below
)

# What is degenerate at theta_full (natural scale), given the Hessian's
# problems from standard_errors(): NULL, or a data frame with one row per
# finding (`problem`, `advice`).
degenerate_findings <- function(model, prepared, theta_full, hessian_problems = NULL) {
  params <- model$params
  if (!all(is.finite(theta_full))) {
    bad <- params$name[!is.finite(theta_full)]
    return(finding(paste0("estimates are not finite: ", quote_names(bad)),
                   "check the data for extreme values and the model for redundant parameters"))
  }
  moments <- latent_moments(model, prepared, theta_full)
  found <- rbind(collapsed_latents(model, theta_full),
                 indicators_without_error(model, theta_full),
                 runaway_thresholds(model, theta_full, moments),
                 exploding_coefficients(model, prepared, theta_full, moments$sd),
                 collapsed_spreads(model, prepared, theta_full))
  if (!is.null(hessian_problems))
    found <- rbind(found, finding(
      paste0("the Hessian is not negative definite (weakest direction: ",
             quote_names(hessian_problems$names), ")"),
      "the model is weakly identified there: fix or drop one of these parameters, add draws, or check the normalisation"))
  found
}

finding <- function(problem, advice) {
  data.frame(problem = problem, advice = advice, stringsAsFactors = FALSE)
}

quote_names <- function(names) paste0("`", names, "`", collapse = ", ")

# Latent signal over error, per loading: |loading| x (error scale of the
# latent variable) / (error sd of the indicator), with the loadings' rows,
# latent variables and indicators.
loading_signals <- function(model, theta_full) {
  plan <- model$plan
  entry <- seq_along(plan$ind_load_par)
  item <- findInterval(entry - 1L, plan$ind_load_ptr)
  latent <- plan$ind_load_lv + 1L
  rows <- plan$ind_load_par + 1L
  error_sd <- vapply(item, function(k) indicator_error_sd(model, theta_full, k), numeric(1))
  data.frame(row = rows, latent = latent, item = item,
             signal = abs(theta_full[rows]) * theta_full[plan$lv_sigma[latent] + 1L] / error_sd)
}

# A reference loading (fixed, non-zero) whose indicator keeps almost none of
# the latent variable: its scale has collapsed toward zero.
collapsed_latents <- function(model, theta_full) {
  params <- model$params
  signals <- loading_signals(model, theta_full)
  reference <- !params$free[signals$row] & params$start[signals$row] != 0
  collapsed <- signals[reference & signals$signal < degenerate_limits$reference_signal, ]
  collapsed <- collapsed[!duplicated(collapsed$latent), , drop = FALSE]
  if (!nrow(collapsed)) return(NULL)
  do.call(rbind, lapply(seq_len(nrow(collapsed)), function(i) {
    l <- collapsed$latent[[i]]
    name <- model$latent[[l]]
    sigma_row <- model$plan$lv_sigma[[l]] + 1L
    free_loadings <- signals$row[signals$latent == l & params$free[signals$row]]
    largest <- if (length(free_loadings)) max(abs(theta_full[free_loadings])) else NA_real_
    finding(
      sprintf(paste0("latent variable `%s` has collapsed: its scale `%s` = %.3g leaves its ",
                     "reference indicator `%s` (loading fixed at %g) almost unexplained ",
                     "(latent signal %.2g of its error), while the largest free loading is %.3g"),
              name, params$name[[sigma_row]], theta_full[[sigma_row]],
              model$indicators[[collapsed$item[[i]]]], params$start[[collapsed$row[[i]]]],
              collapsed$signal[[i]], largest),
      sprintf(paste0("normalise `%s` by its variance instead (`%s ~~ 1*%s`, every loading free) ",
                     "or take an indicator that measures it well as the reference; check the ",
                     "signs of the loadings; try iclv_control(starts = 10)"), name, name, name))
  }))
}

# Indicators whose error has vanished next to their latent signal (a Heywood
# case): the simulated likelihood then spikes at the draws.
indicators_without_error <- function(model, theta_full) {
  signals <- loading_signals(model, theta_full)
  per_item <- sqrt(tapply(signals$signal^2, signals$item, sum))
  bad <- as.integer(names(per_item)[per_item > degenerate_limits$error_signal])
  if (!length(bad)) return(NULL)
  do.call(rbind, lapply(bad, function(k) {
    scale_row <- model$plan$ind_scale[[k]] + 1L
    finding(sprintf(paste0("indicator `%s` is explained almost without error: its latent ",
                           "signal is %.3g times its error scale (`%s` = %.3g)"),
                    model$indicators[[k]], per_item[[as.character(k)]],
                    model$params$name[[scale_row]], theta_full[[scale_row]]),
            sprintf(paste0("fix the scale of `%s` (e.g. `%s ~~ 1*%s`) or drop the indicator; ",
                           "use more draws"), model$indicators[[k]], model$indicators[[k]],
                    model$indicators[[k]]))
  }))
}

# Thresholds far out in the tails of their indicator's latent response: a
# category that is (almost) never or always answered.
runaway_thresholds <- function(model, theta_full, moments) {
  plan <- model$plan
  out <- NULL
  for (k in which(model$family != "continuous")) {
    idx <- seq_csr(plan$ind_thr_ptr, k)
    if (!length(idx)) next
    tau <- plan$ind_thr_sign[idx] * theta_full[plan$ind_thr_par[idx] + 1L]
    loads <- seq_csr(plan$ind_load_ptr, k)
    loading <- theta_full[plan$ind_load_par[loads] + 1L]
    latent <- plan$ind_load_lv[loads] + 1L
    response_mean <- theta_full[[plan$ind_intercept[[k]] + 1L]] + sum(loading * moments$mean[latent])
    response_sd <- sqrt(sum((loading * moments$sd[latent])^2) +
                          indicator_error_sd(model, theta_full, k)^2)
    centred <- (tau - response_mean) / response_sd
    if (max(abs(centred)) <= degenerate_limits$threshold_sd) next
    out <- rbind(out, finding(
      sprintf(paste0("the thresholds of `%s` run off to %.3g (%.0f standard deviations of ",
                     "its latent response)"), model$indicators[[k]],
              tau[which.max(abs(centred))], max(abs(centred))),
      sprintf(paste0("a category of `%s` is (almost) never or always chosen: merge it with ",
                     "its neighbour"), model$indicators[[k]])))
  }
  out
}

# Random coefficients whose free spread has gone to 0: the data show no
# variation in them, the log-likelihood is flat in the spread's log (the
# optimizer's scale) and its standard error is undefined. The spread is
# measured in utility: times the root mean square of the coefficient's
# terms (a lognormal's spread is relative already).
collapsed_spreads <- function(model, prepared, theta_full) {
  random <- model_random(model)
  rows <- match(random_spread_name(random$coef), model$params$name)
  size <- vapply(random$coef, function(coef) {
    if (random$distribution[match(coef, random$coef)] %in% c("lognormal", "neg_lognormal"))
      return(1)
    values <- prepared$term_value[, model$utility_terms$coef == coef, drop = FALSE]
    if (length(values)) sqrt(mean(values^2)) else 0
  }, numeric(1))
  bad <- which(model$params$free[rows] & theta_full[rows] * size < degenerate_limits$random_spread)
  if (!length(bad)) return(NULL)
  do.call(rbind, lapply(bad, function(i) finding(
    sprintf("the spread of random coefficient `%s` went to 0 (`%s` = %.3g)", random$coef[[i]],
            model$params$name[[rows[[i]]]], theta_full[[rows[[i]]]]),
    sprintf(paste0("the data show no variation in `%s` across individuals: make it a fixed ",
                   "coefficient (remove it from `random`)"), random$coef[[i]]))))
}

# The size of each parameter as a utility coefficient: |theta|, or for a
# lognormal random coefficient exp(location), its median's size.
coefficient_sizes <- function(model, theta_full) {
  size <- abs(theta_full)
  random <- model_random(model)
  lognormal <- random$coef[random$distribution %in% c("lognormal", "neg_lognormal")]
  rows <- match(lognormal, model$params$name)
  size[rows] <- exp(theta_full[rows])
  size
}

# Choice coefficients whose term spans more utility than any choice needs:
# the choices are perfectly predicted (separation) and the coefficient has no
# finite maximum.
exploding_coefficients <- function(model, prepared, theta_full, lv_sd) {
  if (!length(prepared$choice)) return(NULL)
  terms <- model$utility_terms
  rows <- match(terms$coef, model$params$name)
  # Constants are left out: an alternative-specific constant may balance the
  # mean of a latent variable's term.
  spread <- vapply(seq_len(nrow(terms)), function(m) {
    value <- prepared$term_value[prepared$avail[, terms$alt[[m]]] == 1L, m]
    if (length(value) < 2L) return(0)
    if (!is.na(terms$lv[[m]])) return(sqrt(mean(value^2)) * lv_sd[match(terms$lv[[m]], model$latent)])
    stats::sd(value)
  }, numeric(1))
  span <- coefficient_sizes(model, theta_full)[rows] * ifelse(is.finite(spread), spread, 0)
  bad <- which(span > degenerate_limits$utility_span & model$params$free[rows])
  bad <- bad[!duplicated(rows[bad])]
  if (!length(bad)) return(NULL)
  do.call(rbind, lapply(bad, function(m) finding(
    sprintf("choice coefficient `%s` = %.3g spans %.0f units of utility", terms$coef[[m]],
            theta_full[[rows[[m]]]], span[[m]]),
    sprintf(paste0("the choices are (almost) perfectly predicted by `%s`'s term ",
                   "(separation): drop or fix the coefficient, or recode its variable"),
            terms$coef[[m]]))))
}

# A fit's convergence after the check: a solution the optimizer calls
# converged (code 0) but that is degenerate gets degenerate_code.
degenerate_convergence <- function(opt, findings) {
  if (is.null(findings) || opt$code != 0L) return(opt)
  opt$code <- degenerate_code
  opt$message <- "degenerate solution"
  opt
}

# A log-likelihood whose estimated integration error (integration_error())
# is more than this share of its value is no maximum of the model's
# likelihood but of the approximation: plain nodes or few draws let an
# optimizer pin the latent variables onto the points of a nearly error-free
# indicator, where the approximation spikes. Found on the Optima model with
# continuous items and 20 plain nodes: -9173 with an error of 14600, against
# the regular maximum -11152.3 (error below 1).
unintegrated_share <- 0.1

# The finding for a log-likelihood that is not integrated (its estimated
# integration error, list(error, kind) as integration_error() gives it, above
# unintegrated_share of its value), or NULL.
unintegrated_finding <- function(loglik, integration) {
  error <- integration$error
  if (!isTRUE(error > unintegrated_share * abs(loglik))) return(NULL)
  finding(
    sprintf(paste0("the log-likelihood %.4f is not integrated: its estimated integration ",
                   "error (%s) is %.3g, %.0f%% of its value; the estimates sit on a spike of ",
                   "the approximation, not at a maximum of the model's likelihood"),
            loglik, integration$kind, error, 100 * error / abs(loglik)),
    paste0("use adaptive = TRUE (the default for models with indicators) or many more draws ",
           "or nodes; check_integration(fit) compares rules"))
}

# Lines for print() and summary(): what was found and what to do.
degenerate_lines <- function(findings) {
  if (is.null(findings) || !nrow(findings)) return(character())
  c(sprintf("Degenerate solution (convergence code %d): not a usable maximum.", degenerate_code),
    paste0("  * ", findings$problem, ".\n    What to do: ", findings$advice, "."))
}

# The warning iclv() gives for a degenerate solution.
warn_degenerate <- function(findings) {
  if (is.null(findings)) return(invisible())
  warning(paste(c(degenerate_lines(findings), "See summary(fit) and fit$starts."),
                collapse = "\n"), call. = FALSE)
}

# What print() and summary() add under the convergence line: a degenerate
# solution's findings and advice, and a note when the starts disagreed.
fit_notes <- function(fit) c(degenerate_lines(fit$degenerate), starts_note(fit$starts))
