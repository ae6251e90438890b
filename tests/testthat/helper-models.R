# Small models shared by the engine tests of the CPU (test-engine.R) and the
# GPU (test-gpu.R): every indicator family, threshold scheme, structural
# path, and a latent-only model.

engine_models <- list(
  probit_paths = list(
    syntax = "
      att =~ q1 + q2 + q3
      soc =~ q4 + q5 + q3
      att ~ age + soc + 1",
    # No constant on A: with one, it would absorb the free intercept of att.
    utility = list(A = ~ b_price * price_A + b_att * att,
                   B = ~ b_price * price_B + b_soc * soc * income,
                   none = ~ 0),
    options = list()),
  logit_continuous = list(
    syntax = "
      att =~ q1 + q2 + q3 + y1
      y1 ~ 1
      y1 ~~ y1",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ b_price * price_B),
    options = list(indicators = c(.default = "ordered_logit", y1 = "continuous"))),
  shared_symmetric = list(
    syntax = "
      att =~ q1 + q2 + q3 + q4
      q1 | a*t1 + b*t2 + c*t3 + d*t4
      q2 | a*t1 + b*t2 + c*t3 + d*t4",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ b_price * price_B,
                   C = ~ asc_C + b_att_c * att),
    options = list(thresholds = c(.default = "free", q3 = "symmetric", q4 = "symmetric"),
                   categories = c(.default = 5, q4 = 4))),
  biogeme_scale = list(
    syntax = "
      att =~ 1*q1 + q2 + q3
      att ~~ att
      env =~ q4 + q5
      env ~ att + female",
    utility = list(A = ~ asc_A + b_price * price_A + b_env * env,
                   B = ~ b_price * price_B),
    options = list(categories = c(.default = 5, q5 = 2))),
  latent_only = list(
    syntax = "
      att =~ q1 + q2 + q3
      env =~ q4 + q5
      env ~ att",
    utility = NULL,
    options = list())
)

# A model built from one of these specs, simulated data with missing answers
# (and an availability column), and theta_full away from the simulation truth.
build_case <- function(case, n_indiv = 25, n_tasks = 3, seed = 1, missing = 0.1,
                       availability = FALSE) {
  args <- c(list(case$syntax), case$options)
  if (!is.null(case$utility)) {
    args$utility <- case$utility
    args$choice <- "choice"
  }
  args$id <- "id"
  if (availability) args$availability <- list(B = "avail_B")
  model <- do.call(iclv_model, args)
  data <- iclv_simulate(model, n_indiv = n_indiv, n_tasks = n_tasks, seed = seed)
  theta <- attr(data, "theta")
  set.seed(seed)
  # Perturb free parameters so the test is not at the simulation truth.
  free <- model$params$free & model$params$type %in% c("loading", "covariate_path",
                                                        "lv_path", "choice")
  theta[free] <- theta[free] + stats::runif(sum(free), -0.2, 0.2)
  # Missing answers.
  ids <- unique(data$id)
  for (q in model$indicators) {
    gone <- ids[stats::runif(length(ids)) < missing]
    data[data$id %in% gone, q] <- NA
  }
  if (availability) {
    data$avail_B <- as.integer(stats::runif(nrow(data)) > 0.3 | data$choice == "B")
  }
  list(model = model, data = data, theta = theta)
}

# The engine tests compare the log-likelihood on given draws with references
# computed on the same draws: plain integration, not adaptive.
iclv_loglik_plain <- function(...) iclv_loglik(..., adaptive = FALSE)
