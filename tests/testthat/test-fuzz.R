# Fuzzing the engine with random small models: random latent structures
# (1-3 latent variables, 2-6 indicators of random families, categories and
# threshold schemes, covariates, paths, normalisations), an optional choice
# part (2-3 alternatives, latent terms, interactions, availability), random
# data with missing answers, random draws and random parameters. For each
# model the engine must return a finite log-likelihood and gradient, the
# gradient must match central finite differences, and the log-likelihood must
# match the plain R references (helper-reference.R) to 1e-9 relative: first
# by_hand_loglik() on the structure the generator itself decided (not read
# back from the package), then reference_loglik() on the package's plan.

# The generators are in helper-fuzz.R.

test_that("200 random small models: finite, exact against the reference, gradient = finite differences", {
  worst_reference <- 0
  worst_gradient <- 0
  for (seed in seq_len(200L)) {
    set.seed(seed)
    generated <- fuzz_model()
    model <- generated$model
    data <- fuzz_data(model)
    theta_full <- fuzz_theta(model)
    free <- model$params$free
    n_indiv <- length(unique(data$id))
    n_draws <- sample(3:10, 1L)
    draws <- array(stats::rnorm(n_indiv * n_draws * length(model$latent)),
                   c(n_indiv, n_draws, length(model$latent)))
    what <- sprintf("fuzz case %d (%s; %d free parameters)", seed,
                    gsub("\n", "; ", model$syntax), sum(free))

    res <- iclv_loglik_plain(model, data, theta_full[free], draws = draws, threads = 1)
    expect(is.finite(res$loglik) && all(is.finite(res$gradient)),
           paste(what, ": non-finite log-likelihood or gradient"))

    expect(identical(names(generated$by_hand$latent), model$latent),
           paste(what, ": latent variables not in the order written"))
    hand <- by_hand_loglik(generated$by_hand, data, draws,
                           stats::setNames(theta_full, model$params$name))
    prepared <- iclv:::prepare_data(model, data)
    ref <- reference_loglik(model, prepared, draws, theta_full, data = data)
    for (other in list(hand, ref)) {
      rel <- abs(res$loglik - other$loglik) / max(1, abs(other$loglik))
      worst_reference <- max(worst_reference, rel)
      expect(rel < 1e-9, sprintf("%s: engine %.15g vs reference %.15g (%s)", what, res$loglik,
                                 other$loglik, if (identical(other, hand)) "by hand" else "plan"))
    }

    # Central differences on every free parameter (natural scale).
    loglik_at <- function(theta) iclv:::engine_eval(res$engine, theta, gradient = FALSE)$loglik
    rows <- which(free)
    numeric_grad <- vapply(rows, function(i) {
      h <- 1e-5 * max(1, abs(theta_full[[i]]))
      up <- down <- theta_full
      up[[i]] <- up[[i]] + h
      down[[i]] <- down[[i]] - h
      (loglik_at(up) - loglik_at(down)) / (2 * h)
    }, 0)
    err <- abs(unname(res$gradient) - numeric_grad) / (1 + abs(numeric_grad))
    worst_gradient <- max(worst_gradient, err)
    expect(all(err < 1e-5), sprintf("%s: gradient of %s differs from finite differences by %.3g",
                                     what, model$params$name[rows][which.max(err)], max(err)))
  }
  expect_lt(worst_reference, 1e-9)
  expect_lt(worst_gradient, 1e-5)
})
