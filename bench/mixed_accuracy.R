# Accuracy of the integration rules on random coefficients: a panel mixed
# logit (1,000 people x 8 tasks, two alternatives and an opt-out, one random
# time coefficient of each distribution; times standard normal), its
# log-likelihood at the 5,000-draw estimates under each rule, minus that of
# 5,000 plain Halton draws. With moved draws it was the measurement behind
# integrating a mixed logit with plain draws (moves_draws() in
# R/integration.R, which gives the figures); adaptive draws are plain here.
# Run from the package root after R CMD INSTALL .:  Rscript bench/mixed_accuracy.R
library(iclv)
options(width = 200)
rules <- list(
  "plain draws, 100" = list(draws = 100, adaptive = FALSE),
  "plain draws, 300" = list(draws = 300, adaptive = FALSE),
  "plain draws, 500" = list(draws = 500, adaptive = FALSE),
  "adaptive Gauss-Hermite" = list(integration = "quadrature", adaptive = TRUE),
  "plain Gauss-Hermite, 40" = list(integration = "quadrature", adaptive = FALSE, nodes = 40))
rows <- list()
for (dist in c("normal", "uniform", "triangular", "neg_lognormal")) {
  model <- iclv_model(utility = list(A = ~ asc_A + b_price * price_A + b_time * time_A,
                                     B = ~ b_price * price_B + b_time * time_B, C = ~ 0),
                      choice = "choice", random = list(b_time = dist))
  truth <- c(asc_A = 0.4, b_price = -0.3, b_time = if (dist == "neg_lognormal") 0 else 1,
             "b_time~~b_time" = 1.2)
  normal <- function(n) stats::rnorm(n)
  data <- iclv_simulate(model, theta = truth, n_indiv = 1000, n_tasks = 8, seed = 3,
                        attributes = list(time_A = normal, time_B = normal))
  fit <- suppressWarnings(iclv(model, data, draws = 5000, adaptive = FALSE,
                               control = iclv_control(threads = 2, se = "bhhh")))
  for (rule in names(rules)) {
    loglik <- suppressWarnings(do.call(iclv_loglik, c(list(model, data, coef(fit),
                                                           gradient = FALSE, threads = 2),
                                                      rules[[rule]])))$loglik
    rows[[length(rows) + 1L]] <- data.frame(distribution = dist, rule = rule,
                                            minus_reference = round(loglik - fit$loglik, 3))
  }
}
table <- do.call(rbind, rows)
print(stats::reshape(table, idvar = "rule", timevar = "distribution", direction = "wide"),
      row.names = FALSE)
