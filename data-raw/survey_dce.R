# Generates data/survey_dce.rda, the simulated survey and choice experiment
# bundled with iclv (documented in R/data.R). Run from the package root with
# the package installed (survey_model() comes from it):
#   Rscript data-raw/survey_dce.R
library(iclv)

model <- survey_model()
params <- iclv_parameters(model)

# True parameter values, drawn once from a fixed stream so the script is
# reproducible; everything not set here keeps its fixed value.
set.seed(20240611)
theta <- numeric(0)

# Structural equation of purchase intention.
paths <- c(health_concern = 0.5, perceived_benefit = 0.6, price_sensitivity = -0.4,
           nutrition_knowledge = 0.3, age = 0.15, female = 0.25, income = 0.12)
theta[paste0("purchase_intention~", names(paths))] <- paths

# Loadings between 0.7 and 1.5; thresholds of the latent response
# loading * LV + e placed so that all five answers occur, each item with its
# own shift. Exogenous latent variables have mean 0 and variance 1; purchase
# intention has the mean and variance its equation implies for the covariates
# simulated below (about 1.0 and 2.0).
cuts <- c(-1.5, -0.5, 0.4, 1.4)
lv_moments <- list(mean = c(purchase_intention = 1.0), var = c(purchase_intention = 2.0))
for (row in which(params$type == "loading")) {
  name <- params$name[[row]]
  lv <- sub("=~.*$", "", name)
  item <- sub("^.*=~", "", name)
  loading <- round(stats::runif(1, 0.7, 1.5), 2)
  lv_mean <- if (lv %in% names(lv_moments$mean)) lv_moments$mean[[lv]] else 0
  lv_var <- if (lv %in% names(lv_moments$var)) lv_moments$var[[lv]] else 1
  sd_response <- sqrt(1 + loading^2 * lv_var)
  shift <- stats::runif(1, -0.3, 0.3)
  theta[name] <- loading
  theta[paste0(item, "|t", 1:4)] <- round(loading * lv_mean + sd_response * (cuts + shift), 3)
}

# Choice part: products share a constant; price in euros, organic 0/1, sugar
# in g per 100 g.
theta[c("asc_product", "b_price", "b_organic", "b_sugar", "lambda")] <-
  c(1.6, -0.9, 0.6, -0.08, 0.7)
stopifnot(setequal(names(theta), params$name[params$free]))

levels_of <- function(values) function(n) sample(values, n, replace = TRUE)
attributes <- list(
  price_A = levels_of(seq(1.5, 3.5, by = 0.5)), price_B = levels_of(seq(1.5, 3.5, by = 0.5)),
  organic_A = levels_of(0:1), organic_B = levels_of(0:1),
  sugar_A = levels_of(c(2, 5, 8, 11)), sugar_B = levels_of(c(2, 5, 8, 11)),
  age = function(n) round(stats::runif(n, 18, 75)) / 10,
  female = function(n) stats::rbinom(n, 1, 0.52),
  income = function(n) round(exp(stats::rnorm(n, log(2.6), 0.4)), 1))

survey_dce <- iclv_simulate(model, theta = theta, n_indiv = 326, n_tasks = 6,
                            attributes = attributes, seed = 326)
true_parameters <- attr(survey_dce, "theta")
latent <- attr(survey_dce, "latent")

# About 1% of the item answers missing, at random: a missing answer is NA on
# all six rows of the respondent.
n_indiv <- 326
items <- model$indicators
n_missing <- round(0.01 * n_indiv * length(items))
set.seed(2)
cells <- sample(n_indiv * length(items), n_missing)
who <- (cells - 1L) %% n_indiv + 1L
which_item <- (cells - 1L) %/% n_indiv + 1L
for (i in seq_along(cells)) {
  survey_dce[survey_dce$id == who[[i]], items[[which_item[[i]]]]] <- NA_integer_
}

columns <- c("id", "task", "choice", "price_A", "price_B", "organic_A", "organic_B",
             "sugar_A", "sugar_B", "age", "female", "income", items)
survey_dce <- survey_dce[columns]
for (column in c("organic_A", "organic_B", "female")) {
  survey_dce[[column]] <- as.integer(survey_dce[[column]])
}
attr(survey_dce, "true_parameters") <- true_parameters
attr(survey_dce, "latent") <- latent

dir.create("data", showWarnings = FALSE)
save(survey_dce, file = file.path("data", "survey_dce.rda"), compress = "xz")
