#' Simulated survey and choice experiment on a healthy food product
#'
#' A simulated data set with the shape of a typical ICLV application: 326
#' respondents answer 38 five-point Likert items measuring five attitudes and
#' then make six choices between two versions of a food product and neither.
#' It is generated from [survey_model()] (the package's seed-scale model, 202
#' free parameters) with known parameter values, so estimates can be compared
#' with the truth. The data are wide: one row per choice task, with the
#' respondent's covariates and item answers repeated on each of their six rows.
#'
#' The five latent variables are health concern (items `hc1`-`hc8`),
#' perceived benefit of the product (`pb1`-`pb8`), price sensitivity
#' (`ps1`-`ps8`), nutrition knowledge (`nk1`-`nk7`) and purchase intention
#' (`pi1`-`pi7`); purchase intention is explained by the other four, age,
#' gender and income, and enters the utility of both products. Items are
#' coded 1 (strongly disagree) to 5 (strongly agree). About 1% of the item
#' answers are missing (`NA`, the same on all rows of a respondent); the
#' estimator skips them.
#'
#' @format A data frame with 1956 rows (326 respondents x 6 tasks) and 50
#'   columns:
#' \describe{
#'   \item{id}{Respondent identifier (integer 1-326).}
#'   \item{task}{Choice task of the respondent (integer 1-6).}
#'   \item{choice}{Chosen alternative: `"A"`, `"B"` (the two products) or
#'     `"neither"` (character).}
#'   \item{price_A, price_B}{Price of product A and B in euros (1.5 to 3.5 in
#'     steps of 0.5).}
#'   \item{organic_A, organic_B}{1 if the product is organic, 0 if not.}
#'   \item{sugar_A, sugar_B}{Sugar content in grams per 100 g (2, 5, 8 or 11).}
#'   \item{age}{Age of the respondent in decades (years / 10, e.g. 4.3 for
#'     43 years).}
#'   \item{female}{1 if the respondent is female, 0 if not.}
#'   \item{income}{Net monthly household income in thousand euros.}
#'   \item{hc1, hc2, hc3, hc4, hc5, hc6, hc7, hc8}{Health concern items
#'     (integer 1-5, `NA` = not answered).}
#'   \item{pb1, pb2, pb3, pb4, pb5, pb6, pb7, pb8}{Perceived benefit items.}
#'   \item{ps1, ps2, ps3, ps4, ps5, ps6, ps7, ps8}{Price sensitivity items.}
#'   \item{nk1, nk2, nk3, nk4, nk5, nk6, nk7}{Nutrition knowledge items.}
#'   \item{pi1, pi2, pi3, pi4, pi5, pi6, pi7}{Purchase intention items.}
#' }
#' Two attributes hold what was simulated:
#' `attr(survey_dce, "true_parameters")`, the true value of every row of
#' `iclv_parameters(survey_model())` (named, natural scale: scales are
#' standard deviations), and `attr(survey_dce, "latent")`, the simulated
#' latent variables (326 x 5 matrix, one row per respondent in id order).
#' @source Simulated with [iclv_simulate()] by the script
#'   `data-raw/survey_dce.R` in the package's source repository (not
#'   installed), which also removes the missing answers at random. No real
#'   respondents are involved.
#' @seealso [survey_model()], `demo("survey", package = "iclv")`.
#' @examples
#' data(survey_dce, package = "iclv")
#' dim(survey_dce)
#' table(survey_dce$choice)
#' mean(is.na(survey_dce[survey_model()$indicators]))
#' attr(survey_dce, "true_parameters")[c("b_price", "b_organic", "b_sugar", "lambda")]
#' @name survey_dce
#' @docType data
#' @usage data(survey_dce)
#' @keywords datasets
NULL

#' The ICLV model of the bundled survey data
#'
#' Builds the model that generated [survey_dce]: five latent variables, each
#' measured by its Likert items as ordered probit indicators with free
#' thresholds; purchase intention explained by the other four and by `age`,
#' `female` and `income`; and a multinomial logit of the choice between
#' product A, product B and neither, in which the products share a constant,
#' the coefficients of price, organic and sugar, and the effect `lambda` of
#' purchase intention. With the default normalisation (structural error
#' scales fixed at 1, loadings free) the model has 202 free parameters.
#'
#' @return An `iclv_model` (see [iclv_model()]).
#' @seealso [survey_dce], `demo("survey", package = "iclv")`.
#' @export
#' @examples
#' model <- survey_model()
#' model
#' table(iclv_parameters(model)$block[iclv_parameters(model)$free])
survey_model <- function() {
  items <- function(prefix, n) paste0(prefix, seq_len(n), collapse = " + ")
  latent <- paste(
    paste("health_concern =~", items("hc", 8)),
    paste("perceived_benefit =~", items("pb", 8)),
    paste("price_sensitivity =~", items("ps", 8)),
    paste("nutrition_knowledge =~", items("nk", 7)),
    paste("purchase_intention =~", items("pi", 7)),
    paste("purchase_intention ~ health_concern + perceived_benefit +",
          "price_sensitivity + nutrition_knowledge + age + female + income"),
    sep = "\n")
  iclv_model(latent,
    utility = list(
      A = ~ asc_product + b_price * price_A + b_organic * organic_A +
        b_sugar * sugar_A + lambda * purchase_intention,
      B = ~ asc_product + b_price * price_B + b_organic * organic_B +
        b_sugar * sugar_B + lambda * purchase_intention,
      neither = ~ 0),
    choice = "choice", id = "id")
}
