#' Simulated log-likelihood, gradient and scores of an ICLV model
#'
#' Evaluates the model's simulated log-likelihood at `theta` with the compiled
#' engine, with its analytic gradient and, on request, the per-individual
#' scores. Useful to check a specification, to compare with other software on
#' identical draws, or to build your own estimator.
#'
#' @param model An [iclv_model()].
#' @param data A data frame in wide format: one row per choice task,
#'   several rows per individual.
#' @param theta Values of the free parameters on their natural scale
#'   (thresholds themselves, scales as standard deviations), named as in
#'   [iclv_parameters()]; an unnamed vector must follow the table's order of
#'   free parameters, or of all its rows. Values for fixed parameters may be
#'   included (a whole parameter vector) when they equal the fixed value.
#' @param draws The number of draws per individual, or an array individuals x
#'   draws x latent variables of standard normal values (your own draws),
#'   individuals in sorted id order.
#' @param draw_type One of `"halton"`, `"scrambled_halton"`, `"mlhs"`,
#'   `"sobol"`, `"scrambled_sobol"`, `"pseudo"`.
#' @param seed Seed of the draws (they do not use R's random number stream).
#' @param gradient Compute the gradient?
#' @param scores Return the N x P matrix of per-individual scores?
#' @param hessian Compute the analytic Hessian of the free parameters
#'   (natural scale)? It costs about as much as a few evaluations with the
#'   gradient (vignette "likelihood", section 7); it is computed on the CPU
#'   whatever the backend. With adaptive points it is the Hessian at fixed
#'   points (centred at `theta`), as the gradient is.
#' @param backend `"cpu"`, `"gpu"` or `"auto"`, as in [iclv()].
#' @param threads CPU threads (default: all cores, at most 2 under R CMD
#'   check; `OMP_THREAD_LIMIT` is respected).
#' @param integration,nodes,adaptive Simulation or quadrature, plain or
#'   adaptive, as in [iclv()]. Adaptive points are centred on each person's
#'   posterior at `theta`; `adaptive = FALSE` evaluates with the plain draws
#'   or nodes (as other software does, for comparisons on identical draws).
#' @param cluster A cluster from [parallel::makeCluster()] to evaluate on,
#'   sharded as in [iclv()] (see [iclv_control()], `cluster`): each worker
#'   builds the engine of its individuals (with `threads` threads) and the
#'   results equal those of one process bitwise. The workers' engines are
#'   freed before this returns.
#' @return A list with `loglik`, `gradient` (named, one entry per free
#'   parameter), `scores` (individuals x free parameters, or `NULL`),
#'   `hessian` (free x free parameters, named, or `NULL`), `loglik_indiv` and
#'   `engine` (the compiled engine, reusable with [iclv_engine_eval()]; `NULL`
#'   with a `cluster`).
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3",
#'   utility = list(A = ~ b_price * price_A + b_att * attitude,
#'                  B = ~ asc_B + b_price * price_B),
#'   choice = "choice", id = "id")
#' data <- iclv_simulate(model, n_indiv = 50, n_tasks = 4, seed = 3)
#' theta <- attr(data, "theta")
#' free <- iclv_parameters(model)$free
#' res <- iclv_loglik(model, data, theta[free], draws = 50, threads = 1)
#' res$loglik
#' head(res$gradient)
#' # Standard errors from the Hessian at theta (at the estimates, they are
#' # the classical ones):
#' h <- iclv_loglik(model, data, theta[free], draws = 50, threads = 1, hessian = TRUE)$hessian
#' head(sqrt(diag(solve(-h))))
iclv_loglik <- function(model, data, theta, draws = 100, draw_type = "halton", seed = 1L,
                        gradient = TRUE, scores = FALSE, backend = c("cpu", "gpu", "auto"),
                        threads = NULL, integration = c("simulation", "quadrature", "auto"),
                        nodes = NULL, adaptive = NULL, hessian = FALSE, cluster = NULL) {
  check_model(model)
  check_flag(hessian, "hessian")
  check_cluster(cluster)
  backend <- backend[1L]
  theta_full <- theta_full_from(model, theta)
  prepared <- prepare_data(model, data)
  n_indiv <- nrow(prepared$ind_cat)
  settings <- resolve_integration(integration[1L], n_dims(model), nodes, adaptive, model)
  n_points <- if (is.array(draws)) dim(draws)[2L] else if (is.numeric(draws)) draws[1L] else 0
  session <- cluster_open(cluster)
  on.exit(cluster_close(session), add = TRUE)
  backend <- if (is.null(session)) resolve_backend(backend, n_indiv, n_points) else
    match_choice(backend, c("cpu", "gpu", "auto"), "backend")
  engine <- integration_engine(model, prepared, settings, theta_full, threads = threads,
                               draws = draws, draw_type = draw_type, seed = seed,
                               backend = backend)$engine
  res <- iclv_engine_eval(engine, model, theta_full[model$params$free], gradient = gradient,
                          scores = scores, hessian = hessian)
  if (!is.null(session)) res["engine"] <- list(NULL)
  res
}

#' Evaluate a compiled engine again
#'
#' Re-evaluates the engine returned by [iclv_loglik()] at new parameter values
#' without rebuilding it (data and draws stay laid out in memory).
#'
#' @param engine The `engine` element of [iclv_loglik()]'s result.
#' @param model The model the engine was built from.
#' @param theta Free parameters on their natural scale (as in [iclv_loglik()]).
#' @inheritParams iclv_loglik
#' @return As [iclv_loglik()].
#' @export
#' @examples
#' model <- iclv_model("attitude =~ q1 + q2 + q3")
#' data <- iclv_simulate(model, n_indiv = 30, seed = 1)
#' free <- iclv_parameters(model)$free
#' theta <- attr(data, "theta")[free]
#' res <- iclv_loglik(model, data, theta, draws = 20, threads = 1)
#' iclv_engine_eval(res$engine, model, theta * 1.01)$loglik
iclv_engine_eval <- function(engine, model, theta, gradient = TRUE, scores = FALSE,
                             hessian = FALSE) {
  check_flag(hessian, "hessian")
  theta_full <- theta_full_from(model, theta)
  free <- model$params$free
  res <- engine_eval(engine, theta_full, gradient = gradient, scores = scores,
                     columns = which(free), hessian = if (hessian) free)
  if (res$n_nonpositive > 0L) {
    individuals <- nonpositive_individuals(engine, theta_full)
    warn_nonpositive(individuals, seq_len(max(individuals)), "at `theta`")
  }
  names_free <- model$params$name[free]
  grad <- if (gradient || scores) stats::setNames(res$gradient[free], names_free)
  score_matrix <- NULL
  if (scores) {
    score_matrix <- res$scores
    colnames(score_matrix) <- names_free
  }
  hessian_matrix <- res$hessian
  if (hessian) dimnames(hessian_matrix) <- list(names_free, names_free)
  list(loglik = res$loglik, gradient = grad, scores = score_matrix, hessian = hessian_matrix,
       loglik_indiv = res$loglik_indiv, engine = engine)
}

# theta_full from the user's parameters: matched by name, or in table order
# when unnamed (the free parameters, or every row of the table). Values for
# fixed parameters are accepted when they equal the fixed value. Errors name
# the parameters that are wrong.
theta_full_from <- function(model, theta) {
  params <- model$params
  free_names <- params$name[params$free]
  if (!is.numeric(theta))
    stop("`theta` must be a numeric vector of the free parameters", call. = FALSE)
  if (is.null(names(theta))) {
    if (!length(theta) %in% c(length(free_names), nrow(params)))
      stop("`theta` has ", length(theta), " values but the model has ", length(free_names),
           " free parameters (", nrow(params), " with the fixed ones); name them as in ",
           "iclv_parameters(model)", call. = FALSE)
    names(theta) <- if (length(theta) == length(free_names)) free_names else params$name
  }
  theta <- drop_fixed_values(model, theta, "theta")
  check_parameter_names(model, names(theta), "theta", require_all = TRUE)
  bad <- !is.finite(theta)
  if (any(bad))
    stop("`theta` has non-finite values: ", paste0("`", names(theta)[bad], "`", collapse = ", "),
         call. = FALSE)
  theta_full <- params$start
  theta_full[match(names(theta), params$name)] <- unname(theta)
  check_theta_domain(model, theta_full)
  theta_full
}

# Named values without those of fixed parameters, which other packages'
# users pass along with the free ones: each must equal its fixed value.
drop_fixed_values <- function(model, values, what) {
  params <- model$params
  row <- match(names(values), params$name)
  fixed <- !is.na(row) & !params$free[row]
  if (!any(fixed)) return(values)
  fixed_value <- params$start[row[fixed]]
  given <- unname(values[fixed])
  differs <- !(is.finite(given) & abs(given - fixed_value) <=
                 sqrt(.Machine$double.eps) * pmax(1, abs(fixed_value)))
  show <- function(x) vapply(x, format, character(1))
  if (any(differs))
    stop("`", what, "` gives ", paste0("`", names(values)[fixed][differs], "` = ",
                                       show(given[differs]), " (fixed at ",
                                       show(fixed_value[differs]), ")", collapse = ", "),
         "; give a fixed parameter its fixed value or leave it out (to estimate it or fix ",
         "another value, change the model: `fixed =` in iclv_model() or a number in the ",
         "syntax)", call. = FALSE)
  values[!fixed]
}

# Names given for parameters must exist, be free, and appear once.
check_parameter_names <- function(model, given, what, require_all = FALSE) {
  params <- model$params
  dup <- unique(given[duplicated(given)])
  if (length(dup))
    stop("`", what, "` names ", paste0("`", dup, "`", collapse = ", "), " more than once",
         call. = FALSE)
  unknown <- setdiff(given, params$name)
  if (length(unknown))
    stop("`", what, "` names unknown parameter(s) ", paste0("`", unknown, "`", collapse = ", "),
         "; see iclv_parameters(model)", call. = FALSE)
  fixed <- intersect(given, params$name[!params$free])
  if (length(fixed))
    stop("`", what, "` gives values for fixed parameter(s) ",
         paste0("`", fixed, "`", collapse = ", "),
         "; fix values with `fixed =` in iclv_model()", call. = FALSE)
  if (require_all) {
    missing <- setdiff(params$name[params$free], given)
    if (length(missing))
      stop("`", what, "` has no value for free parameter(s) ",
           paste0("`", utils::head(missing, 10L), "`", collapse = ", "),
           if (length(missing) > 10L) ", ...", call. = FALSE)
  }
  invisible(TRUE)
}

check_model <- function(model) {
  if (!inherits(model, "iclv_model"))
    stop("`model` must be an iclv_model (see iclv_model())", call. = FALSE)
}
