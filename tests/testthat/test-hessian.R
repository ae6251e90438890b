# The analytic Hessian (src/engine_hessian.c; vignette "likelihood", section
# 7) against central differences of the analytic gradient, numDeriv's second
# differences of the engine's log-likelihood and of the plain-R reference
# (helper-reference.R), on the engine test models (ordered probit and logit
# and continuous indicators, free and symmetric thresholds, shared
# thresholds, structural covariates and paths, free scales, latent variables
# in utilities, availability, missing answers) and on random models
# (helper-fuzz.R, signed weights too); on random coefficients of every
# distribution, correlated and not, with and without latent variables
# (helper-random.R); its mapping to the optimizer's working scale; and what
# iclv() does with it.

# Central differences of the analytic gradient (natural scale) in the free
# parameters, symmetrised.
gradient_differences <- function(engine, theta_full, free, step = 1e-5, choice = TRUE) {
  idx <- which(free)
  out <- vapply(idx, function(i) {
    h <- step * max(1, abs(theta_full[i]))
    up <- theta_full
    down <- theta_full
    up[i] <- up[i] + h
    down[i] <- down[i] - h
    (iclv:::engine_eval(engine, up, choice = choice)$gradient[idx] -
       iclv:::engine_eval(engine, down, choice = choice)$gradient[idx]) / (2 * h)
  }, numeric(length(idx)))
  (out + t(out)) / 2
}

# The largest difference relative to the largest entry of the reference.
relative_difference <- function(x, reference) {
  max(abs(unname(x) - unname(reference))) / max(abs(reference))
}

# The analytic Hessian of the parameters `pick` of a case (build_case(),
# random_case()) against numDeriv's second differences of its plain-R
# reference likelihood (helper-reference.R) on the same draws.
expect_reference_hessian <- function(case, draws, pick, label) {
  model <- case$model
  free <- model$params$free
  res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = draws, threads = 1,
                           hessian = TRUE)
  expect_true(all(pick %in% names(res$gradient)), label = label)
  by_hand_at <- function(values) {
    theta <- case$theta
    theta[pick] <- values
    by_hand_loglik(case$by_hand, case$data, draws, theta)$loglik
  }
  difference <- relative_difference(res$hessian[pick, pick],
                                    numDeriv::hessian(by_hand_at, case$theta[pick]))
  expect(difference < 1e-4,
         sprintf("%s: the Hessian differs from the reference's by %.3g", label, difference))
}

for (name in names(engine_models)) {
  test_that(paste("the analytic Hessian equals differences of the gradient and numDeriv:", name), {
    case <- build_case(engine_models[[name]], seed = 2, availability = name == "probit_paths")
    model <- case$model
    free <- model$params$free
    draws <- iclv_draws(length(unique(case$data$id)), 15, length(model$latent), seed = 7)
    res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = draws, threads = 1,
                             hessian = TRUE)
    expect_identical(dimnames(res$hessian), list(names(res$gradient), names(res$gradient)))
    expect_identical(res$hessian, t(res$hessian))
    expect_lt(relative_difference(res$hessian,
                                  gradient_differences(res$engine, unname(case$theta), free)),
              1e-6)
    skip_if_not_installed("numDeriv")
    loglik <- function(th) iclv_engine_eval(res$engine, model, th, gradient = FALSE)$loglik
    expect_lt(relative_difference(res$hessian, numDeriv::hessian(loglik, case$theta[free])), 1e-4)
  })
}

test_that("the analytic Hessian equals numDeriv's Hessian of the plain-R reference likelihood", {
  skip_if_not_installed("numDeriv")
  # A few parameters of every kind per model, so that the plain-R second
  # differences stay quick: loadings (one item on two latent variables),
  # thresholds (free, shared, symmetric, a binary item's), structural
  # covariates, paths, intercepts and scales, a continuous item's intercept
  # and scale, constants and coefficients of attributes and of latent
  # variables (one in an interaction with a data column).
  picks <- list(
    probit_paths = c("att=~q3", "soc=~q3", "q3|t2", "att~age", "att~soc", "att~1", "b_soc",
                     "b_price"),
    logit_continuous = c("att=~q1", "q1|t2", "att=~y1", "y1~1", "y1~~y1", "b_att", "asc_A"),
    shared_symmetric = c("a", "b", "q3|t3", "q4|t3", "att=~q3", "b_att_c"),
    biogeme_scale = c("att~~att", "env~att", "env~female", "env=~q5", "q5|t1", "b_env"))
  for (name in names(picks)) {
    case <- build_case(engine_models[[name]], n_indiv = 6, n_tasks = 2, seed = 3,
                       availability = name == "probit_paths")
    draws <- iclv_draws(6, 4, length(case$model$latent), seed = 5)
    expect_reference_hessian(case, draws, picks[[name]], name)
  }
})

test_that("the analytic Hessian equals differences of the gradient on random models", {
  for (seed in seq_len(25L)) {
    case <- fuzz_draws_case(seed)
    model <- case$model
    data <- case$data
    theta_full <- case$theta_full
    draws <- case$draws
    # Signed weights (as sparse grids have) for every third model.
    weights <- NULL
    if (seed %% 3L == 0L) {
      weights <- stats::runif(dim(draws)[2L], 0.2, 1)
      weights[1L] <- -0.3
    }
    engine <- iclv:::engine_build(model, iclv:::prepare_data(model, data), draws,
                                  draw_weights = weights, threads = 2)
    free <- model$params$free
    analytic <- iclv:::engine_eval(engine, theta_full, hessian = free)$hessian
    difference <- relative_difference(analytic, gradient_differences(engine, theta_full, free))
    expect(difference < 1e-6, sprintf("fuzz case %d: relative difference %.3g", seed, difference))
  }
})

test_that("people whose signed weights sum to <= 0 add nothing to the Hessian", {
  case <- build_case(engine_models$biogeme_scale, n_indiv = 20, seed = 5)
  set.seed(11)
  weights <- matrix(stats::runif(20 * 16, 0.2, 1), 20, 16)
  weights[, 1:3] <- -weights[, 1:3]
  weights[5, ] <- -abs(weights[5, ])
  draws <- iclv_draws(20, 16, 2, seed = 9)
  prepared <- iclv:::prepare_data(case$model, case$data)
  engine <- iclv:::engine_build(case$model, prepared, draws, draw_weights = weights, threads = 1)
  free <- case$model$params$free
  theta_full <- unname(case$theta)
  res <- iclv:::engine_eval(engine, theta_full, hessian = free)
  expect_true(5L %in% res$nonpositive)
  expect_lt(relative_difference(res$hessian, gradient_differences(engine, theta_full, free)), 1e-6)
  # Without them the rest is the same Hessian (up to the order of the sums).
  keep <- setdiff(seq_len(20), res$nonpositive)
  rest <- case$data[case$data$id %in% sort(unique(case$data$id))[keep], ]
  engine_rest <- iclv:::engine_build(case$model, iclv:::prepare_data(case$model, rest),
                                     draws[keep, , , drop = FALSE],
                                     draw_weights = weights[keep, ], threads = 1)
  expect_equal(iclv:::engine_eval(engine_rest, theta_full, hessian = free)$hessian, res$hessian,
               tolerance = 1e-12)
})

test_that("the Hessian leaves the evaluation alone and is the same bits for any thread count", {
  case <- build_case(engine_models$shared_symmetric, n_indiv = 60, seed = 4)
  model <- case$model
  free <- model$params$free
  one <- iclv_loglik_plain(model, case$data, case$theta[free], draws = 37, scores = TRUE,
                           threads = 1, hessian = TRUE)
  two <- iclv_loglik_plain(model, case$data, case$theta[free], draws = 37, scores = TRUE,
                           threads = 2, hessian = TRUE)
  expect_identical(one$hessian, two$hessian)
  plain <- iclv_engine_eval(two$engine, model, case$theta[free], scores = TRUE)
  expect_null(plain$hessian)
  for (element in c("loglik", "gradient", "scores", "loglik_indiv")) {
    expect_identical(one[[element]], plain[[element]], label = element)
    expect_identical(two[[element]], plain[[element]], label = element)
  }
  # Evaluating again gives the same (the workspaces are reused).
  expect_identical(iclv_engine_eval(two$engine, model, case$theta[free], hessian = TRUE)$hessian,
                   two$hessian)
})

test_that("the Hessian without the choice part is that of the latent part alone", {
  # Latent variables with paths, and a hybrid model with correlated random
  # coefficients (whose parameters, in the choice block, then drop out).
  paths <- build_case(engine_models$probit_paths, seed = 7, availability = TRUE)
  random <- build_random_case("hybrid_correlated", n_indiv = 30, seed = 6)
  for (case in list(c(paths, list(draws = iclv_draws(25, 12, 2, seed = 4))),
                    c(random, list(draws = random_case_draws(random, 12, seed = 3))))) {
    model <- case$model
    free <- model$params$free
    engine <- iclv:::engine_build(model, iclv:::prepare_data(model, case$data), case$draws,
                                  threads = 1)
    theta_full <- unname(case$theta)
    latent <- iclv:::engine_eval(engine, theta_full, choice = FALSE, hessian = free)$hessian
    expect_lt(relative_difference(latent, gradient_differences(engine, theta_full, free,
                                                               choice = FALSE)), 1e-6)
    choice_rows <- model$params$block[free] == "choice"
    expect_true(all(latent[choice_rows, ] == 0))
  }
  expect_true(any(random$model$params$type == "random_chol"))
})

test_that("the Hessian of some of the parameters is that block of the whole", {
  case <- build_case(engine_models$probit_paths, seed = 6, availability = TRUE)
  model <- case$model
  free <- model$params$free
  draws <- iclv_draws(25, 12, 2, seed = 3)
  engine <- iclv:::engine_build(model, iclv:::prepare_data(model, case$data), draws, threads = 1)
  theta_full <- unname(case$theta)
  whole <- iclv:::engine_eval(engine, theta_full, hessian = free)$hessian
  some <- free & model$params$type %in% c("loading", "lv_path", "choice")
  block <- iclv:::engine_eval(engine, theta_full, hessian = some)$hessian
  expect_equal(dim(block), rep(sum(some), 2L))
  expect_equal(block, whole[some[free], some[free]], tolerance = 1e-12)
})

test_that("bad `hessian` arguments raise clear errors", {
  case <- build_case(engine_models$latent_only, seed = 9)
  model <- case$model
  free <- model$params$free
  expect_error(iclv_loglik_plain(model, case$data, case$theta[free], draws = 5, hessian = "yes"),
               "`hessian` must be TRUE or FALSE")
  res <- iclv_loglik_plain(model, case$data, case$theta[free], draws = 5, threads = 1)
  expect_error(iclv_engine_eval(res$engine, model, case$theta[free], hessian = NA),
               "`hessian` must be TRUE or FALSE")
  expect_error(iclv:::engine_eval(res$engine, unname(case$theta), hessian = free[-1]),
               "logical vector of length")
  expect_error(iclv:::engine_eval(res$engine, unname(case$theta), hessian = which(free)),
               "logical vector of length")
})

test_that("the working-scale Hessian is J'HJ plus the curvature of the transforms", {
  # Log scales (a continuous item's, a latent variable's), free monotone
  # threshold sets and symmetric ones, against central differences of the
  # working gradient (the former standard errors' Hessian).
  for (name in c("logit_continuous", "shared_symmetric", "biogeme_scale")) {
    case <- build_case(engine_models[[name]], seed = 8)
    model <- case$model
    map <- iclv:::working_map(model)
    draws <- iclv_draws(25, 15, length(model$latent), seed = 2)
    engine <- iclv:::engine_build(model, iclv:::prepare_data(model, case$data), draws,
                                  threads = 1)
    u <- iclv:::working_from_theta(model, map, unname(case$theta))
    optimum <- iclv:::evaluate_at(engine, model, map, u)
    analytic <- iclv:::working_hessian(engine, model, map, optimum)
    differences <- iclv:::differences_hessian(engine, model, map, u,
                                              optimum$scores %*% optimum$jacobian, 1e-5)
    expect(relative_difference(analytic, differences) < 1e-6,
           sprintf("%s: %.3g", name, relative_difference(analytic, differences)))
    expect_true(any(map$is_log) || length(map$sets) > 0L)
    # Away from the maximum the curvature of the transforms matters.
    plain <- crossprod(optimum$jacobian,
                       iclv:::engine_eval(engine, optimum$theta_full,
                                          hessian = model$params$free)$hessian %*%
                         optimum$jacobian)
    expect_gt(relative_difference(plain, differences), 1e-6)
  }
})

test_that("the analytic Hessian handles free scales and intercepts of ordered items", {
  # Ordered logit items with free scales and intercepts, thresholds shared
  # across items in symmetric sets, a latent intercept, covariates and a free
  # latent scale, a reference loading fixed at -1; on its working scale too.
  model <- reference_model()
  data <- iclv_simulate(model, theta = reference_truth, n_indiv = 40, n_tasks = 2, seed = 4)
  theta_full <- attr(data, "theta")
  free <- model$params$free
  expect_true(any(free & model$params$type == "scale" & model$params$name != "att~~att"))
  draws <- iclv_draws(40, 12, 1, seed = 6)
  engine <- iclv:::engine_build(model, iclv:::prepare_data(model, data), draws, threads = 2)
  analytic <- iclv:::engine_eval(engine, theta_full, hessian = free)$hessian
  expect_lt(relative_difference(analytic, gradient_differences(engine, theta_full, free)), 1e-6)
  map <- iclv:::working_map(model)
  optimum <- iclv:::evaluate_at(engine, model, map, iclv:::working_from_theta(model, map,
                                                                            theta_full))
  expect_lt(relative_difference(iclv:::working_hessian(engine, model, map, optimum),
                                iclv:::differences_hessian(engine, model, map, optimum$u,
                                                           optimum$scores %*% optimum$jacobian,
                                                           1e-5)),
            1e-6)
})

for (name in names(random_cases)) {
  test_that(paste("random coefficients: the analytic Hessian equals differences of the gradient:",
                  name), {
    case <- build_random_case(name, n_indiv = 40, seed = 3)
    model <- case$model
    free <- model$params$free
    draws <- random_case_draws(case, 20, seed = 5)
    prepared <- iclv:::prepare_data(model, case$data)
    theta_full <- unname(case$theta)
    hessian_on <- function(threads) {
      engine <- iclv:::engine_build(model, prepared, draws, threads = threads)
      list(engine = engine, hessian = iclv:::engine_eval(engine, theta_full, hessian = free)$hessian)
    }
    one <- hessian_on(1L)
    two <- hessian_on(2L)
    expect_identical(one$hessian, two$hessian)
    expect_lt(relative_difference(two$hessian, gradient_differences(two$engine, theta_full, free)),
              1e-6)
    # The random coefficients' own parameters alone: that block of the whole.
    own <- free & (model$params$name %in% model$random$coef |
                     model$params$type %in% c("random_spread", "random_chol"))
    block <- iclv:::engine_eval(two$engine, theta_full, hessian = own)$hessian
    expect_equal(block, two$hessian[own[free], own[free]], tolerance = 1e-12)
  })
}

test_that("random coefficients: the analytic Hessian equals numDeriv's of the plain-R reference", {
  skip_if_not_installed("numDeriv")
  # Locations, spreads and Cholesky entries of lognormal, neg_lognormal,
  # normal, uniform and triangular coefficients, with a latent variable's
  # parameters and a coefficient of its own.
  picks <- list(
    correlated = c("asc_A", "b_time", "b_time~~b_time", "b_time~~asc_A",
                   "b_time~~b_price", "b_price~~b_price"),
    correlated_lognormal_last = c("b_price", "b_price~~b_price", "asc_A", "asc_A~~b_time",
                                  "b_time~~b_time"),
    hybrid_lognormal = c("b_price", "b_price~~b_price", "b_time", "b_time~~b_time", "g",
                         "att~age"),
    hybrid_correlated = c("b_price", "b_time~~b_price", "b_price~~b_price", "att=~q2", "b_att"))
  for (name in names(picks)) {
    case <- build_random_case(name, n_indiv = 6, n_tasks = 2, seed = 4)
    expect_reference_hessian(case, random_case_draws(case, 4, seed = 2), picks[[name]], name)
  }
})

test_that("random coefficients: fits' standard errors from the analytic Hessian equal differences'", {
  mixed <- mixed_logit_case(list(b_price = "neg_lognormal", b_time = "normal"), correlated = TRUE,
                            n_indiv = 300, n_tasks = 8, seed = 5,
                            truth = c(asc_A = 0.4, b_price = -0.3, "b_price~~b_price" = 0.5,
                                      b_time = 1, "b_time~~b_time" = 1.2,
                                      "b_time~~b_price" = 0.5))
  hybrid <- hybrid_random_case(list(b_price = "triangular", b_time = "lognormal"))
  hybrid$data <- iclv_simulate(hybrid$model, n_indiv = 300, n_tasks = 8, seed = 6,
                               theta = c(b_price = -1, "b_price~~b_price" = 1, b_time = 0,
                                         "b_time~~b_time" = 0.6, g = 0.3, b_att = 0.7))
  for (case in list(mixed, hybrid)) {
    fit_with <- function(hessian, se = "robust") {
      suppressWarnings(iclv(case$model, case$data, draws = 40, adaptive = FALSE,
                            control = iclv_control(threads = 2, reltol = 1e-12, gradtol = 1e-9,
                                                   hessian = hessian, se = se)))
    }
    analytic <- fit_with("analytic")
    differences <- fit_with("differences")
    expect_identical(analytic$convergence$code, 0L)
    expect_identical(coef(analytic), coef(differences))
    expect_lt(relative_difference(analytic$hessian, differences$hessian), 1e-6)
    for (type in c("classical", "robust")) {
      ratio <- sqrt(diag(vcov(analytic, type))) / sqrt(diag(vcov(differences, type)))
      expect_lt(max(abs(ratio - 1)), 1e-5)
    }
    # A fit without a Hessian (se = "bhhh") computes the analytic one on demand.
    bhhh <- fit_with("analytic", se = "bhhh")
    expect_equal(suppressMessages(vcov(bhhh, "robust")), vcov(analytic, "robust"),
                 tolerance = 1e-10)
  }
})
