#' iclv: integrated choice and latent variable models
#'
#' Estimates integrated choice and latent variable (ICLV, "hybrid choice")
#' models by simulated maximum likelihood. Latent variables are explained by
#' covariates and by each other (structural equations), measured by ordered or
#' continuous indicators (measurement equations), and enter the utilities of a
#' multinomial logit model. The simulated log-likelihood, its analytic gradient
#' and the per-individual scores are computed by a compiled engine (C with
#' OpenMP, or CUDA where a GPU is usable); [stats::optim()] drives the
#' estimation.
#'
#' Start with [iclv_model()], [iclv()] and the vignette
#' `vignette("getting-started", package = "iclv")`.
#'
#' @docType package
#' @name iclv-package
#' @aliases iclv-package
#' @keywords internal
#' @useDynLib iclv, .registration = TRUE, .fixes = "C_"
#' @importFrom stats coef vcov logLik nobs confint predict update anova
#' @importFrom graphics plot
NULL
