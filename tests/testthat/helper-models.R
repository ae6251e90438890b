# Small models shared by the engine tests of the CPU (test-engine.R) and the
# GPU (test-gpu.R): every indicator family, threshold scheme, structural
# path, and a latent-only model, each with its structure written by hand
# from its syntax (`by_hand`, for by_hand_loglik() in helper-reference.R);
# and the reference-loading model of the start and multi-start tests.

# Pieces of a by_hand description (helper-reference.R) in the package's
# documented naming: a latent variable, an item, the thresholds of the two
# schemes.
lv_by_hand <- function(name, covariates = character(0), paths = character(0),
                       intercept = FALSE) {
  list(scale = paste0(name, "~~", name),
       intercept = if (intercept) paste0(name, "~1"),
       covariates = stats::setNames(paste0(name, "~", covariates, recycle0 = TRUE), covariates),
       paths = stats::setNames(paste0(name, "~", paths, recycle0 = TRUE), paths))
}
item_by_hand <- function(q, on, family = "ordered_probit", n_cat = 5,
                         thresholds = free_thresholds(q, n_cat)) {
  list(family = family, loadings = stats::setNames(paste0(on, "=~", q), on),
       intercept = paste0(q, "~1"), scale = paste0(q, "~~", q),
       thresholds = if (family != "continuous") thresholds)
}
free_thresholds <- function(q, n_cat) paste0(q, "|t", seq_len(n_cat - 1L))
# Symmetric about 0: the upper half are parameters, the lower half their
# negatives, and the middle one of an odd number is 0.
symmetric_thresholds <- function(q, n_cat) {
  n <- n_cat - 1L
  if (n == 1L) return(free_thresholds(q, n_cat))
  upper <- paste0(q, "|t", seq(n - n %/% 2L + 1L, n))
  c(paste0("-", rev(upper)), if (n %% 2L == 1L) "0", upper)
}

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
    options = list(),
    by_hand = list(
      id = "id", choice = "choice",
      latent = list(soc = lv_by_hand("soc"),
                    att = lv_by_hand("att", covariates = "age", paths = "soc", intercept = TRUE)),
      indicators = list(q1 = item_by_hand("q1", "att"), q2 = item_by_hand("q2", "att"),
                        q3 = item_by_hand("q3", c("att", "soc")),
                        q4 = item_by_hand("q4", "soc"), q5 = item_by_hand("q5", "soc")),
      utility = list(
        A = function(x, lv, th) th[["b_price"]] * x$price_A + th[["b_att"]] * lv[["att"]],
        B = function(x, lv, th)
          th[["b_price"]] * x$price_B + th[["b_soc"]] * lv[["soc"]] * x$income,
        none = function(x, lv, th) 0))),
  logit_continuous = list(
    syntax = "
      att =~ q1 + q2 + q3 + y1
      y1 ~ 1
      y1 ~~ y1",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ b_price * price_B),
    options = list(indicators = c(.default = "ordered_logit", y1 = "continuous")),
    by_hand = list(
      id = "id", choice = "choice",
      latent = list(att = lv_by_hand("att")),
      indicators = list(q1 = item_by_hand("q1", "att", "ordered_logit"),
                        q2 = item_by_hand("q2", "att", "ordered_logit"),
                        q3 = item_by_hand("q3", "att", "ordered_logit"),
                        y1 = item_by_hand("y1", "att", "continuous")),
      utility = list(
        A = function(x, lv, th)
          th[["asc_A"]] + th[["b_price"]] * x$price_A + th[["b_att"]] * lv[["att"]],
        B = function(x, lv, th) th[["b_price"]] * x$price_B))),
  shared_symmetric = list(
    syntax = "
      att =~ q1 + q2 + q3 + q4
      q1 | a*t1 + b*t2 + c*t3 + d*t4
      q2 | a*t1 + b*t2 + c*t3 + d*t4",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ b_price * price_B,
                   C = ~ asc_C + b_att_c * att),
    options = list(thresholds = c(.default = "free", q3 = "symmetric", q4 = "symmetric"),
                   categories = c(.default = 5, q4 = 4)),
    by_hand = list(
      id = "id", choice = "choice",
      latent = list(att = lv_by_hand("att")),
      indicators = list(q1 = item_by_hand("q1", "att", thresholds = c("a", "b", "c", "d")),
                        q2 = item_by_hand("q2", "att", thresholds = c("a", "b", "c", "d")),
                        q3 = item_by_hand("q3", "att", thresholds = symmetric_thresholds("q3", 5)),
                        q4 = item_by_hand("q4", "att", thresholds = symmetric_thresholds("q4", 4))),
      utility = list(
        A = function(x, lv, th)
          th[["asc_A"]] + th[["b_price"]] * x$price_A + th[["b_att"]] * lv[["att"]],
        B = function(x, lv, th) th[["b_price"]] * x$price_B,
        C = function(x, lv, th) th[["asc_C"]] + th[["b_att_c"]] * lv[["att"]]))),
  biogeme_scale = list(
    syntax = "
      att =~ 1*q1 + q2 + q3
      att ~~ att
      env =~ q4 + q5
      env ~ att + female",
    utility = list(A = ~ asc_A + b_price * price_A + b_env * env,
                   B = ~ b_price * price_B),
    options = list(categories = c(.default = 5, q5 = 2)),
    by_hand = list(
      id = "id", choice = "choice",
      latent = list(att = lv_by_hand("att"),
                    env = lv_by_hand("env", covariates = "female", paths = "att")),
      indicators = list(q1 = item_by_hand("q1", "att"), q2 = item_by_hand("q2", "att"),
                        q3 = item_by_hand("q3", "att"), q4 = item_by_hand("q4", "env"),
                        q5 = item_by_hand("q5", "env", n_cat = 2)),
      utility = list(
        A = function(x, lv, th)
          th[["asc_A"]] + th[["b_price"]] * x$price_A + th[["b_env"]] * lv[["env"]],
        B = function(x, lv, th) th[["b_price"]] * x$price_B))),
  latent_only = list(
    syntax = "
      att =~ q1 + q2 + q3
      env =~ q4 + q5
      env ~ att",
    utility = NULL,
    options = list(),
    by_hand = list(
      id = "id",
      latent = list(att = lv_by_hand("att"), env = lv_by_hand("env", paths = "att")),
      indicators = list(q1 = item_by_hand("q1", "att"), q2 = item_by_hand("q2", "att"),
                        q3 = item_by_hand("q3", "att"), q4 = item_by_hand("q4", "env"),
                        q5 = item_by_hand("q5", "env"))))
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
  by_hand <- case$by_hand
  if (availability) {
    data$avail_B <- as.integer(stats::runif(nrow(data)) > 0.3 | data$choice == "B")
    by_hand$availability <- c(B = "avail_B")
  }
  list(model = model, data = data, theta = theta, by_hand = by_hand)
}

# The engine tests compare the log-likelihood on given draws with references
# computed on the same draws: plain integration, not adaptive.
iclv_loglik_plain <- function(...) iclv_loglik(..., adaptive = FALSE)

# A reference loading fixed at -1, a free latent scale, free intercepts and
# scales of the other items, shared symmetric thresholds and weak loadings of
# both signs: the shape of the Optima hybrid model (Biogeme's example). From
# the old default start (every free loading +1) the estimate collapsed to a
# latent scale of 0.001 with loadings of +/- several hundred.
reference_model <- function() {
  items <- paste0("q", 1:6)
  iclv_model(paste(
    "att =~ -1*q1 + q2 + q3 + q4 + q5 + q6",
    "att ~ 1 + x1 + x2",
    "att ~~ att",
    "q1 ~ 0*1", paste(items[-1], "~ 1", collapse = "\n"),
    "q1 ~~ 1*q1", paste(items[-1], "~~", items[-1], collapse = "\n"),
    paste(items, "| th1*t1 + th2*t2 + th3*t3 + th4*t4", collapse = "\n"), sep = "\n"),
    utility = list(A = ~ asc_A + b_time * time_A + b_att * att,
                   B = ~ asc_B + b_time * time_B, C = ~ 0),
    choice = "choice", id = "id", thresholds = "symmetric", indicators = "ordered_logit")
}
reference_truth <- c("att=~q2" = -0.55, "att=~q3" = -0.39, "att=~q4" = -0.18, "att=~q5" = -0.36,
                     "att=~q6" = 0.31, "q2~1" = 1.04, "q3~1" = 2.61, "q4~1" = 0.16,
                     "q5~1" = 0.4, "q6~1" = -1.56, "att~~att" = 2, "att~x1" = 0.7,
                     "att~x2" = -1, "att~1" = 0.7, th3 = 0.65, th4 = 2.4, b_att = 0.4,
                     b_time = -1, asc_A = 0.3, asc_B = -0.2)

# One latent variable with a covariate in a three-alternative logit with a
# cost attribute: the model of the methods tests and of what is computed
# after a fit (delta method, predictions, tests).
attitude_price_model <- function(fixed = NULL) {
  iclv_model("
    attitude =~ q1 + q2 + q3
    attitude ~ age",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * attitude,
                   B = ~ b_price * price_B,
                   C = ~ asc_C + b_price * price_C),
    choice = "choice", id = "id", categories = 4, fixed = fixed)
}

# The logit probabilities of attitude_price_model() at each of the fit's
# base draws in plain R (rows of data x draws x alternatives):
# attitude = gamma * age + z over the base draws z of the fit's recipe
# (individuals in sorted id order). Their mean over the draws is the prior
# choice probability.
attitude_price_draw_probabilities <- function(fit, data) {
  theta <- fit$theta_full
  ids <- sort(unique(data$id))
  base <- iclv:::points_base(iclv:::points_from_recipe(fit$draw_recipe, length(ids), 1L,
                                                       adaptive = TRUE))
  n_draws <- dim(base)[2L]
  out <- array(0, c(nrow(data), n_draws, 3L), dimnames = list(NULL, NULL, c("A", "B", "C")))
  for (i in seq_len(nrow(data))) {
    attitude <- theta[["attitude~age"]] * data$age[i] + base[match(data$id[i], ids), , 1]
    utility <- cbind(theta[["asc_A"]] + theta[["b_price"]] * data$price_A[i] +
                       theta[["b_att"]] * attitude,
                     theta[["b_price"]] * data$price_B[i],
                     theta[["asc_C"]] + theta[["b_price"]] * data$price_C[i])
    out[i, , ] <- exp(utility) / rowSums(exp(utility))
  }
  out
}

# One latent variable measured by three items in a binary logit with a
# price: the small model of the estimation, checkpoint, interrupt and
# multi-start tests.
attitude_binary_model <- function(categories = 3) {
  iclv_model("attitude =~ q1 + q2 + q3",
    utility = list(A = ~ b_price * price_A + b_att * attitude,
                   B = ~ asc_B + b_price * price_B),
    choice = "choice", id = "id", categories = categories)
}

# One latent variable with two covariates and four items, in a
# three-alternative logit: the recovery model of test-estimate.R, and the
# one-latent-variable case of bench/start_cost.R (which sources this file).
attitude_covariates_model <- function() {
  iclv_model("
    attitude =~ q1 + q2 + q3 + q4
    attitude ~ age + female",
    utility = list(A = ~ asc_A + b_price * price_A + b_att * attitude,
                   B = ~ asc_B + b_price * price_B,
                   C = ~ 0),
    choice = "choice", id = "id")
}

# A model built by hand (handmade_model(), helper-reference.R): one latent
# variable with two covariates, measured by an ordered probit, an ordered
# logit and a continuous item, and three alternatives with the given utility
# terms: the models of the data preparation and simulation tests.
handmade_three_items <- function(terms, availability = NULL) {
  handmade_model(
    latent = "att",
    loadings = list(q1 = "att", q2 = "att", q3 = "att"),
    families = c(q1 = "ordered_probit", q2 = "ordered_logit", q3 = "continuous"),
    categories = c(q1 = 3, q2 = 4),
    covariates = list(att = c("age", "female")),
    alternatives = c("A", "B", "C"),
    terms = terms,
    availability = availability)
}
