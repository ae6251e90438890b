# Starting values: loadings from the data, the latent stage with
# standardised latent variables mapped to the user's normalisation, the MNL
# stage, and the model that used to collapse from its default start.

test_that("a reference-loading model reaches the maximum from the default start", {
  model <- reference_model()
  one_thread <- iclv_control(threads = 1)
  for (seed in 1:2) {
    data <- iclv_simulate(model, theta = reference_truth, n_indiv = 150, n_tasks = 1,
                          seed = seed)
    fit <- iclv(model, data, draws = 50, control = one_thread)
    expect_identical(fit$convergence$code, 0L)
    # Not collapsed: the latent scale is near its true value, and so is the
    # start the estimation began from (iteration 0 of the trace).
    expect_gt(coef(fit)[["att~~att"]], 1)
    expect_lt(max(abs(coef(fit)[grep("=~", names(coef(fit)))])), 3)
    # The maximum: starting at the simulation's truth gives the same one.
    truth_start <- attr(data, "theta")[model$params$free]
    from_truth <- iclv(model, data, draws = 50, start = truth_start, control = one_thread)
    expect_equal(fit$loglik, from_truth$loglik, tolerance = 1e-6)
    expect_lt(fit$trace$loglik[1] - fit$loglik, 0)
    expect_lt(fit$loglik - fit$trace$loglik[1], 20)
  }
})

test_that("the standardised form maps to the user's normalisation with the same likelihood", {
  model <- iclv_model("
      att =~ 1*q1 + q2 + q3
      att ~~ att
      att ~ age
      env =~ -1*q4 + q5 + q6
      env ~~ env
      env ~ att + female",
    utility = list(A = ~ asc_A + b_price * price_A + b_env * env,
                   B = ~ b_price * price_B),
    choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = 60, n_tasks = 2, seed = 3)
  standardised <- iclv:::standardised_model(model)
  expect_length(standardised$rescaled, 2L)
  params <- standardised$model$params
  expect_false(any(params$free[params$name %in% c("att~~att", "env~~env")]))
  expect_equal(params$start[params$name %in% c("att~~att", "env~~env")], c(1, 1))
  expect_true(all(params$free[params$name %in% c("att=~q1", "env=~q4")]))
  # Any standardised parameters, mapped: the same model, so the same
  # log-likelihood on the same draws.
  theta_std <- params$start
  set.seed(1)
  moving <- params$free & params$block != "thresholds"
  theta_std[moving] <- theta_std[moving] + stats::runif(sum(moving), -0.5, 0.5)
  theta_std[params$name == "env=~q4"] <- -1.7
  theta_std[params$name == "att=~q1"] <- 0.8
  theta_user <- iclv:::to_user_normalisation(standardised, model, theta_std)
  expect_equal(theta_user[model$params$name == "att=~q1"], 1)
  expect_equal(theta_user[model$params$name == "env=~q4"], -1)
  expect_equal(theta_user[model$params$name == "att~~att"], 0.8)
  expect_equal(theta_user[model$params$name == "env~~env"], 1.7)
  # A product quadrature rule is symmetric in each latent variable, so that
  # flipping one (below) integrates over the same points.
  loglik <- function(m, theta) {
    iclv_loglik(m, data, theta[m$params$free], integration = "quadrature", nodes = 6,
                threads = 1)$loglik
  }
  expect_equal(loglik(model, theta_user), loglik(standardised$model, theta_std),
               tolerance = 1e-10)
  # A reference loading of the wrong sign flips the latent variable: still
  # the same likelihood, now with a positive scale.
  theta_std[params$name == "att=~q1"] <- -0.8
  flipped <- iclv:::to_user_normalisation(standardised, model, theta_std)
  expect_equal(flipped[model$params$name == "att~~att"], 0.8)
  expect_equal(loglik(model, flipped), loglik(standardised$model, theta_std),
               tolerance = 1e-10)
  # A reference loading near zero would put the scale at its boundary: it
  # is kept at a quarter of the reference item's error scale or more.
  theta_std[params$name == "att=~q1"] <- 1e-6
  floored <- iclv:::to_user_normalisation(standardised, model, theta_std)
  expect_equal(floored[model$params$name == "att~~att"], 0.25)
})

test_that("latent variables keep the user's normalisation where they cannot be rescaled", {
  model <- iclv_model("
      att =~ 1*q1 + 1*q2 + q3
      att ~~ att
      env =~ q4 + q5",
    utility = list(A = ~ asc_A + b_env * env + b_att * att, B = ~ 0),
    choice = "choice", id = "id")
  # att has two fixed loadings, env the default normalisation (scale fixed).
  expect_length(iclv:::standardised_model(model)$rescaled, 0L)
  # A starting value for one of att's parameters keeps att as written.
  single <- iclv_model("att =~ 1*q1 + q2 + q3\natt ~~ att")
  rows <- match("att=~q2", single$params$name)
  expect_length(iclv:::standardised_model(single)$rescaled, 1L)
  expect_length(iclv:::standardised_model(single, keep = rows)$rescaled, 0L)
})

# The data-driven start of the reference model on simulated data: in the
# standardised form and mapped to the model's normalisation, by name.
reference_data_start <- function(n_indiv, seed) {
  model <- reference_model()
  data <- iclv_simulate(model, theta = reference_truth, n_indiv = n_indiv, n_tasks = 1,
                        seed = seed)
  standardised <- iclv:::standardised_model(model)
  theta_std <- iclv:::data_start(standardised$model, iclv:::prepare_data(model, data),
                                 standardised$model$params$start,
                                 references = iclv:::reference_rows(standardised))
  list(standardised = stats::setNames(theta_std, model$params$name),
       user = stats::setNames(iclv:::to_user_normalisation(standardised, model, theta_std),
                              model$params$name))
}

test_that("loadings start from the indicators' correlations, oriented by a fixed loading", {
  theta <- reference_data_start(2000, 7)$standardised
  # The reference is fixed at -1: the latent variable points the same way, so
  # items loading like it (q2 .. q5) start negative and q6 positive.
  expect_true(all(theta[c("att=~q1", "att=~q2", "att=~q3", "att=~q5")] < 0))
  expect_gt(theta[["att=~q6"]], 0)
  # The correlations with the factor follow the simulated loadings' order.
  truth <- c(-1, reference_truth[c("att=~q2", "att=~q3", "att=~q4", "att=~q5", "att=~q6")])
  start <- theta[paste0("att=~q", 1:6)]
  expect_gt(cor(start, truth), 0.9)
  # One factor of six continuous indicators: correlations recovered.
  set.seed(2)
  factor <- rnorm(5000)
  r <- c(0.8, 0.7, -0.6, 0.5, 0.4, -0.3)
  y <- sapply(r, function(ri) ri * factor + sqrt(1 - ri^2) * rnorm(5000))
  y[sample(length(y), 500)] <- NA
  expect_equal(abs(iclv:::factor_loadings(y)), abs(r), tolerance = 0.05)
  est <- iclv:::factor_loadings(y)
  expect_identical(sign(est) * sign(est[1]), sign(r))
})

test_that("shared thresholds, intercepts and structural paths start from the data", {
  theta <- reference_data_start(3000, 8)$user
  # The shared symmetric thresholds and the free intercepts: least squares
  # over the items' own cut points, close to the truth.
  expect_equal(theta[c("th3", "th4")], reference_truth[c("th3", "th4")], tolerance = 0.3)
  intercepts <- paste0("q", 2:6, "~1")
  expect_gt(cor(theta[intercepts], reference_truth[intercepts]), 0.95)
  # Covariate paths from the factor scores: right signs and sizes.
  paths <- c("att~x1", "att~x2")
  expect_identical(sign(theta[paths]), sign(reference_truth[paths]))
  expect_equal(theta[paths], reference_truth[paths], tolerance = 0.5)
  # A path between latent variables.
  two <- iclv_model("att =~ q1 + q2 + q3\nenv =~ q4 + q5 + q6\nenv ~ att + female")
  truth <- c("env~att" = 0.8, "env~female" = -0.6)
  sim <- iclv_simulate(two, theta = truth, n_indiv = 3000, seed = 3)
  start <- stats::setNames(iclv:::data_start(two, iclv:::prepare_data(two, sim), two$params$start),
                           two$params$name)
  expect_equal(start[names(truth)], truth, tolerance = 0.35)
  # Without those starts (all paths 0) the log-likelihood at the start is lower.
  draws <- iclv_draws(3000, 20, 2, seed = 1)
  loglik <- function(theta) iclv_loglik(two, sim, theta[two$params$free], draws = draws,
                                        threads = 1)$loglik
  expect_gt(loglik(start), loglik(replace(start, names(truth), 0)))
})

test_that("the MNL stage maximises the multinomial logit likelihood", {
  model <- iclv_model("attitude =~ q1 + q2 + q3",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * attitude,
                   B = ~ asc_B + b_price * price_B, C = ~ 0),
    choice = "choice", id = "id", availability = list(B = "avail_B"))
  data <- iclv_simulate(model, n_indiv = 300, n_tasks = 4, seed = 6)
  set.seed(3)
  data$avail_B <- as.integer(runif(nrow(data)) > 0.2 | data$choice == "B")
  prepared <- iclv:::prepare_data(model, data)
  lv_mean <- matrix(rnorm(300), 300, 1)
  theta <- iclv:::mnl_start(model, prepared, model$params$start, lv_mean)
  coefs <- c("asc_A", "b_price", "b_att", "asc_B")
  rows <- match(coefs, model$params$name)
  # The same likelihood written out directly, maximised by optim.
  task_lv <- lv_mean[rep(1:300, diff(prepared$task_ptr)), 1]
  x <- prepared$term_value
  neg_loglik <- function(b) {
    v <- cbind(b[1] + b[2] * x[, 2] + b[3] * x[, 3] * task_lv, b[4] * x[, 4] + b[2] * x[, 5], 0)
    v[prepared$avail == 0L] <- -Inf
    -sum(v[cbind(seq_len(nrow(v)), prepared$choice + 1L)] - log(rowSums(exp(v))))
  }
  expect_identical(model$utility_terms$coef, c("asc_A", "b_price", "b_att", "asc_B", "b_price"))
  reference <- stats::optim(rep(0, 4), neg_loglik, method = "BFGS",
                            control = list(reltol = 1e-14, maxit = 1000))
  expect_equal(unname(theta[rows]), reference$par, tolerance = 1e-5)
  expect_lte(neg_loglik(theta[rows]), reference$value + 1e-8)
  # A coefficient given by the user stays where it is.
  kept <- iclv:::mnl_start(model, prepared, replace(model$params$start, rows[2], -0.3),
                           lv_mean, keep = rows[2])
  expect_identical(kept[rows[2]], -0.3)
  expect_false(isTRUE(all.equal(kept[rows[-2]], theta[rows[-2]])))
})
