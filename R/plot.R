# Pictures of a fit in base graphics: the latent variables' posteriors
# against their prior, and predicted against observed shares.

# One panel per latent variable: a histogram of the posterior means with the
# prior density, a mixture over the individuals of the normal distributions
# their structural equations give.
plot_latent <- function(fit) {
  latent <- fit$model$latent
  if (!length(latent)) stop("plot(type = \"lv\"): the model has no latent variables", call. = FALSE)
  posterior <- predict(fit, type = "lv")
  prior <- prior_moments(fit)
  old <- graphics::par(mfrow = panel_grid(length(latent)))
  on.exit(graphics::par(old))
  for (l in seq_along(latent)) {
    means <- posterior[[latent[l]]]
    spread <- range(means, prior$mean[, l] + 3 * prior$sd[, l], prior$mean[, l] - 3 * prior$sd[, l])
    grid <- seq(spread[1L], spread[2L], length.out = 200L)
    density <- rowMeans(vapply(seq_along(means), function(n)
      stats::dnorm(grid, prior$mean[n, l], prior$sd[n, l]), grid))
    histogram <- graphics::hist(means, breaks = "FD", plot = FALSE)
    graphics::plot(histogram, freq = FALSE, xlim = spread, border = "grey40", col = "grey85",
                   ylim = c(0, max(histogram$density, density)), main = latent[l],
                   xlab = "posterior mean")
    graphics::lines(grid, density, lwd = 2)
    graphics::legend("topright", c("posterior means", "prior"), fill = c("grey85", NA),
                     border = c("grey40", NA), lty = c(NA, 1), lwd = c(NA, 2), bty = "n",
                     cex = 0.8)
  }
  list(posterior = posterior, prior_mean = prior$mean, prior_sd = prior$sd)
}

# Each person's prior moments of the latent variables (individuals x latent
# variables).
prior_moments <- function(fit) {
  engine <- prior_engine(fit, fit$prepared, fit_points(fit))
  on.exit(engine_release(engine))
  moments <- engine_predict(engine, fit$theta_full, "lv")
  latent <- seq_along(fit$model$latent)
  named <- function(m) {
    m <- t(m)[, latent, drop = FALSE]
    colnames(m) <- fit$model$latent
    m
  }
  list(mean = named(moments$mean), sd = named(moments$sd))
}

# Rows and columns of panels for n plots, at most three in a row.
panel_grid <- function(n) c(ceiling(n / min(n, 3L)), min(n, 3L))

# Predicted against observed shares, with delta-method intervals.
plot_shares <- function(fit, newdata, level) {
  shares <- predict(fit, newdata, type = "share", interval = "delta", level = level)
  if (is.null(shares$observed))
    stop("plot(type = \"shares\"): `newdata` holds no choices (column `", fit$model$choice,
         "`) to compare the predicted shares with", call. = FALSE)
  limits <- range(0, shares$observed, shares$conf.low, shares$conf.high)
  graphics::plot(shares$observed, shares$share, xlim = limits, ylim = limits, pch = 16,
                 xlab = "observed share", ylab = "predicted share",
                 main = sprintf("Shares with %g%% intervals", 100 * level))
  graphics::abline(0, 1, lty = 2)
  graphics::arrows(shares$observed, shares$conf.low, shares$observed, shares$conf.high,
                   angle = 90, code = 3, length = 0.04)
  graphics::text(shares$observed, shares$share, shares$alternative, pos = 4, cex = 0.8)
  shares
}
