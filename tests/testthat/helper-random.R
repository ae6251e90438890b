# Models with random coefficients for the tests of test-random.R: a plain
# mixed logit and a hybrid model, each with its structure written by hand for
# by_hand_loglik() (helper-reference.R), and a builder of a case (model,
# simulated data, theta away from the truth).

random_by_hand <- function(random, correlated = character(0)) {
  coefs <- names(random)
  lapply(stats::setNames(seq_along(coefs), coefs), function(i) {
    coef <- coefs[[i]]
    earlier <- if (coef %in% correlated) intersect(coefs[seq_len(i - 1L)], correlated) else character(0)
    list(distribution = random[[coef]], location = coef, spread = paste0(coef, "~~", coef),
         chol = stats::setNames(paste0(coef, "~~", earlier, recycle0 = TRUE), earlier))
  })
}

# A mixed logit with three alternatives; `random` names some of b_price,
# b_time, asc_A.
mixed_logit_case <- function(random, correlated = FALSE, n_indiv = 20, n_tasks = 4, seed = 1,
                             truth = NULL) {
  model <- iclv_model(utility = list(A = ~ asc_A + b_price * price_A + b_time * time_A,
                                     B = ~ b_price * price_B + b_time * time_B, C = ~ 0),
                      choice = "choice", random = random, correlated = correlated)
  by_hand <- list(
    id = "id", choice = "choice", latent = list(),
    random = random_by_hand(random, model$random$coef[model$random$correlated]),
    utility = list(
      A = function(x, lv, th) coef_of("asc_A", lv, th) + coef_of("b_price", lv, th) * x$price_A +
        coef_of("b_time", lv, th) * x$time_A,
      B = function(x, lv, th) coef_of("b_price", lv, th) * x$price_B +
        coef_of("b_time", lv, th) * x$time_B,
      C = function(x, lv, th) 0))
  random_case(model, by_hand, n_indiv, n_tasks, seed, truth)
}

# A hybrid model: one latent variable measured by three ordered items, a
# random price coefficient whose location also moves with the latent
# variable through its own term, and a random time coefficient.
hybrid_random_case <- function(random, correlated = FALSE, n_indiv = 20, n_tasks = 3, seed = 1) {
  model <- iclv_model("att =~ q1 + q2 + q3; att ~ age",
                      utility = list(A = ~ asc_A + b_price * price_A + g * price_A * att +
                                       b_time * time_A,
                                     B = ~ b_price * price_B + b_time * time_B + b_att * att),
                      choice = "choice", random = random, correlated = correlated)
  by_hand <- list(
    id = "id", choice = "choice", latent = list(att = lv_by_hand("att", covariates = "age")),
    indicators = list(q1 = item_by_hand("q1", "att"), q2 = item_by_hand("q2", "att"),
                      q3 = item_by_hand("q3", "att")),
    random = random_by_hand(random, model$random$coef[model$random$correlated]),
    utility = list(
      A = function(x, lv, th) th[["asc_A"]] + coef_of("b_price", lv, th) * x$price_A +
        th[["g"]] * x$price_A * lv[["att"]] + coef_of("b_time", lv, th) * x$time_A,
      B = function(x, lv, th) coef_of("b_price", lv, th) * x$price_B +
        coef_of("b_time", lv, th) * x$time_B + th[["b_att"]] * lv[["att"]]))
  random_case(model, by_hand, n_indiv, n_tasks, seed)
}

# A coefficient's value at a point: the random one's when it is random.
coef_of <- function(name, lv, th) if (name %in% names(lv)) lv[[name]] else th[[name]]

# A case: the model, data simulated at `truth` (iclv_simulate()'s defaults
# where NULL), and theta moved away from it.
random_case <- function(model, by_hand, n_indiv, n_tasks, seed, truth = NULL) {
  data <- iclv_simulate(model, theta = truth, n_indiv = n_indiv, n_tasks = n_tasks, seed = seed)
  theta <- attr(data, "theta")
  set.seed(seed)
  free <- model$params$free & model$params$type != "threshold"
  theta[free] <- theta[free] + stats::runif(sum(free), -0.15, 0.15)
  spread <- model$params$type == "random_spread"
  theta[spread] <- abs(theta[spread]) + 0.2
  list(model = model, data = data, theta = theta, by_hand = by_hand)
}

# A draws array for a case: persons x n_draws x dimensions.
random_case_draws <- function(case, n_draws, seed) {
  iclv_draws(length(unique(case$data$id)), n_draws,
             length(case$model$latent) + nrow(case$model$random), seed = seed)
}

# The random-coefficient test models of test-random.R and test-hessian.R:
# every distribution, correlated, partly correlated and independent, in
# panel mixed logits and in hybrid models (whose price coefficient also
# moves with the latent variable through a term of its own).
random_cases <- list(
  normal = list(builder = mixed_logit_case, random = list(b_time = "normal")),
  lognormal = list(builder = mixed_logit_case, random = list(b_time = "lognormal")),
  neg_lognormal = list(builder = mixed_logit_case, random = list(b_price = "neg_lognormal")),
  uniform = list(builder = mixed_logit_case, random = list(b_time = "uniform", asc_A = "normal")),
  triangular = list(builder = mixed_logit_case, random = list(b_price = "triangular")),
  three_kinds = list(builder = mixed_logit_case,
                     random = list(b_price = "neg_lognormal", b_time = "uniform",
                                   asc_A = "triangular")),
  correlated = list(builder = mixed_logit_case, correlated = TRUE,
                    random = list(b_price = "neg_lognormal", asc_A = "normal", b_time = "lognormal")),
  correlated_subset = list(builder = mixed_logit_case, correlated = c("b_price", "b_time"),
                           random = list(b_price = "neg_lognormal", asc_A = "uniform",
                                         b_time = "normal")),
  correlated_lognormal_last = list(builder = mixed_logit_case, correlated = c("b_time", "asc_A"),
                                   random = list(b_price = "uniform", b_time = "normal",
                                                 asc_A = "lognormal")),
  hybrid = list(builder = hybrid_random_case,
                random = list(b_price = "neg_lognormal", b_time = "triangular")),
  hybrid_lognormal = list(builder = hybrid_random_case,
                          random = list(b_price = "triangular", b_time = "lognormal")),
  hybrid_correlated = list(builder = hybrid_random_case, correlated = TRUE,
                           random = list(b_price = "lognormal", b_time = "normal"))
)

# The case `name` of random_cases, built with the builder's other arguments.
build_random_case <- function(name, ...) {
  spec <- random_cases[[name]]
  spec$builder(spec$random, correlated = spec$correlated %||% FALSE, ...)
}
