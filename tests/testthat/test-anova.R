# anova(): the likelihood-ratio test of nested fits against the two
# log-likelihoods, and its refusal of fits that are not comparable; AIC() and
# BIC() against their formulas.

anova_data <- iclv_simulate(attitude_price_model(), n_indiv = 150, n_tasks = 3, seed = 8)
fit_with <- function(fixed = NULL, data = anova_data, draws = 40)
  iclv(attitude_price_model(fixed), data, draws = draws, control = iclv_control(threads = 1))
anova_full <- fit_with()
anova_nested <- fit_with(fixed = c(b_att = 0))

test_that("the LR statistic is twice the difference of the two log-likelihoods", {
  out <- anova(anova_nested, anova_full)
  expect_s3_class(out, "anova")
  expect_identical(rownames(out), c("anova_nested", "anova_full"))
  expect_identical(out$Npar, c(anova_full$n_par - 1L, anova_full$n_par))
  expect_equal(out$logLik, c(anova_nested$loglik, anova_full$loglik))
  lr <- 2 * (anova_full$loglik - anova_nested$loglik)
  expect_gt(lr, 0)
  expect_equal(out$LR[2], lr)
  expect_identical(out$Df[2], 1L)
  expect_equal(out[["Pr(>Chisq)"]][2], pchisq(lr, 1, lower.tail = FALSE))
  expect_true(is.na(out$LR[1]) && is.na(out$Df[1]))
  # The order of the arguments does not matter: fits are sorted by size.
  expect_equal(anova(anova_full, anova_nested)$LR, out$LR)
  expect_output(print(out), "Likelihood-ratio tests")
})

test_that("AIC() and BIC() follow their formulas and agree with summary()", {
  k <- anova_full$n_par
  expect_equal(AIC(anova_full), -2 * anova_full$loglik + 2 * k)
  expect_equal(BIC(anova_full), -2 * anova_full$loglik + log(150) * k)
  expect_equal(AIC(anova_full), summary(anova_full)$aic)
  expect_equal(BIC(anova_full), summary(anova_full)$bic)
  both <- AIC(anova_nested, anova_full)
  expect_equal(both$df, c(k - 1L, k))
  expect_equal(both$AIC, c(AIC(anova_nested), AIC(anova_full)))
  expect_equal(anova(anova_nested, anova_full)$BIC, c(BIC(anova_nested), BIC(anova_full)))
})

test_that("anova() refuses fits on other data, other points, or no fits", {
  fewer <- fit_with(data = anova_data[anova_data$id <= 140, ])
  expect_error(anova(anova_nested, fewer), "`anova_nested` and `fewer` were fitted to different data")
  other_draws <- fit_with(fixed = c(b_att = 0), draws = 30)
  expect_error(anova(other_draws, anova_full),
               "integrate differently \\(30 adaptive halton draws with seed .*, against 40")
  expect_error(anova(anova_full), "two or more")
  expect_error(anova(anova_full, 3), "every argument must be an iclv_fit; not `3`")
})
