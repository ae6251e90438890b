#' Control settings for iclv()
#'
#' @param maxit Maximum number of optimizer iterations.
#' @param reltol Relative tolerance on the log-likelihood (optim's `reltol`).
#' @param gradtol Stop when the relative gradient falls below this: the
#'   largest `|g_i| * max(|u_i|, 1) / max(|LL|, 1)` over the parameters `u` on
#'   the optimizer's working scale (Biogeme's convergence measure).
#' @param seed Seed of the draws.
#' @param threads CPU threads (default: all cores; at most 2 under R CMD
#'   check; `OMP_THREAD_LIMIT` is respected). Results do not depend on it.
#'   With a `cluster`, the threads of each worker (default: all of its
#'   host's cores).
#' @param trace Print one line per iteration (iteration, log-likelihood,
#'   gradient norm, elapsed seconds, RSS in MB)?
#' @param se Standard errors reported by `summary()` and `vcov()`:
#'   `"robust"` (sandwich), `"classical"` (inverse Hessian) or `"bhhh"` (outer
#'   product of the scores). With `"robust"` or `"classical"` all three are
#'   stored in the fit. `"bhhh"` computes no Hessian (the fit's `hessian` is
#'   `NULL`): `vcov(fit, type = "classical")` or `"robust"` then computes it
#'   on demand (and says so), and the check for a degenerate solution (see
#'   [iclv()]) cannot include its Hessian part (a Hessian that is not
#'   negative definite); its structural checks still run. `"bootstrap"`
#'   adds a fourth: individuals are resampled with replacement `bootstrap`
#'   times (the samples drawn from `seed`), the model is refitted to each
#'   sample from the estimates (one replicate per thread at a time; on a
#'   `cluster`, one after another, each sharded over it), and the
#'   covariance of the replicates' estimates is the bootstrap covariance;
#'   [estimates()] then gives percentile intervals. The replicates are in
#'   `fit$bootstrap` (`estimates`, one row per replicate, `NA` where a refit
#'   did not converge; `samples`, the individuals drawn, by sorted id).
#' @param bootstrap Number of bootstrap replicates (`se = "bootstrap"`).
#' @param bootstrap_checkpoint File (`.rds`) that keeps the replicates done
#'   so far, written after each batch; a run with the same file, seed and
#'   settings resumes from it.
#' @param checkpoint File (`.rds`) to save the optimizer's state to, or `NULL`.
#' @param checkpoint_every Save every this many iterations.
#' @param memory Memory thresholds, see [memory_limits()].
#' @param lower,upper Named bounds for free parameters (natural scale); when
#'   given, the optimizer is L-BFGS-B. Only parameters the optimizer sees on
#'   their natural scale (not scales or monotone thresholds) can be bounded.
#' @param hessian How the Hessian of the standard errors is computed:
#'   `"analytic"` (the default: the engine's second derivatives, about the
#'   cost of a few evaluations; see `vignette("likelihood")`, section 7) or
#'   `"differences"` (central differences of the analytic gradient on the
#'   optimizer's working scale, two evaluations per free parameter).
#' @param hessian_step Relative step of the central differences of
#'   `hessian = "differences"`.
#' @param start_stages Compute starting values in stages (latent part, then a
#'   plain MNL) when the user gives none?
#' @param adapt_tol,adapt_rounds,adapt_every The schedule of adaptive
#'   integration (see [iclv()], section "Integration"): the points are
#'   re-centred on the posteriors after every `adapt_every` iterations (by
#'   default only when the optimizer has converged), and estimation stops
#'   when re-centring moves the optimum by less than `adapt_tol` in
#'   log-likelihood (about `sqrt(2 * adapt_tol)` standard errors; never below
#'   `reltol` times the log-likelihood, the optimizer's own precision), after
#'   at most `adapt_rounds` rounds.
#' @param starts Number of starting points: the default start plus
#'   `starts - 1` random ones around it (twice the standard errors that the
#'   BHHH matrix gives at the default start, in each direction of the
#'   optimizer's working scale). Each runs `start_iterations` iterations on
#'   the same engine and the best is continued to convergence. Every start's
#'   results are kept in `fit$starts`. Whatever `starts` is, a degenerate
#'   solution (see [iclv()]) makes iclv() restart from alternative starts
#'   before it reports one.
#' @param start_iterations Iterations of each start's short run when
#'   `starts > 1`. With `start_iterations = maxit` every start runs to
#'   convergence and the best maximum is kept.
#' @param cluster A cluster from [parallel::makeCluster()] (socket workers on
#'   one or many hosts, `makePSOCKcluster(hosts)`; or MPI workers through
#'   snow/Rmpi) to shard the estimation over: the individuals are split into
#'   contiguous shards balanced by work, each worker builds the engine of its
#'   shard once (with `threads` threads, and `backend` resolved on the
#'   worker) and evaluates it for the optimizer, the standard errors, the
#'   centring of adaptive points and the bootstrap. The estimates and
#'   log-likelihood equal those of one process bitwise (CPU workers); the
#'   standard errors to rounding (the shards' Hessians are added in shard
#'   order). Each worker must be able to load
#'   the same version of iclv: the master's library paths are put first on
#'   each worker's. See `vignette("speed-and-memory", package = "iclv")`,
#'   section "Estimation on a cluster".
#' @param cluster_timeout Seconds a cluster worker may take to answer one
#'   request (building its engine, an evaluation, a centring step) before the
#'   estimation stops with an error naming it, after writing the checkpoint
#'   (see [iclv()], section "Checkpoints and interrupts"). `Inf` (the
#'   default) waits as long as it takes; a worker that dies is noticed at
#'   once either way. Only for socket clusters.
#' @return A list of class `iclv_control`.
#' @export
#' @examples
#' iclv_control(maxit = 200, trace = TRUE, checkpoint = tempfile(fileext = ".rds"))
iclv_control <- function(maxit = 1000L, reltol = 1e-10, gradtol = 1e-6, seed = 1L,
                         threads = NULL, trace = FALSE,
                         se = c("robust", "classical", "bhhh", "bootstrap"), bootstrap = 200L,
                         bootstrap_checkpoint = NULL,
                         checkpoint = NULL, checkpoint_every = 5L, memory = memory_limits(),
                         lower = NULL, upper = NULL,
                         hessian = c("analytic", "differences"), hessian_step = 1e-5,
                         start_stages = TRUE, starts = 1L, start_iterations = 5L,
                         adapt_tol = 1e-8, adapt_rounds = 10L, adapt_every = NULL,
                         cluster = NULL, cluster_timeout = Inf) {
  se <- match_choice(se, c("robust", "classical", "bhhh", "bootstrap"), "se")
  check_whole(bootstrap, "`bootstrap`", min = 2)
  check_whole(maxit, "`maxit`", min = 1)
  check_positive(reltol, "reltol")
  check_positive(gradtol, "gradtol")
  check_whole(seed, "`seed`", min = -.Machine$integer.max)
  if (!is.null(threads)) threads <- resolve_threads(threads)
  if (!is.logical(trace) || length(trace) != 1L || is.na(trace))
    stop("`trace` must be TRUE or FALSE", call. = FALSE)
  if (!is.null(checkpoint) && (!is.character(checkpoint) || length(checkpoint) != 1L ||
                               !nzchar(checkpoint)))
    stop("`checkpoint` must be a file name or NULL", call. = FALSE)
  if (!is.null(bootstrap_checkpoint) &&
      (!is.character(bootstrap_checkpoint) || length(bootstrap_checkpoint) != 1L ||
       !nzchar(bootstrap_checkpoint)))
    stop("`bootstrap_checkpoint` must be a file name or NULL", call. = FALSE)
  check_whole(checkpoint_every, "`checkpoint_every`", min = 1)
  if (!inherits(memory, "iclv_memory_limits"))
    stop("`memory` must come from memory_limits()", call. = FALSE)
  for (b in list(list(lower, "lower"), list(upper, "upper")))
    if (!is.null(b[[1]]) && (!is.numeric(b[[1]]) || is.null(names(b[[1]]))))
      stop("`", b[[2]], "` must be a named numeric vector of bounds", call. = FALSE)
  hessian <- match_choice(hessian, c("analytic", "differences"), "hessian")
  check_positive(hessian_step, "hessian_step")
  check_positive(adapt_tol, "adapt_tol")
  check_whole(adapt_rounds, "`adapt_rounds`", min = 1)
  if (!is.null(adapt_every)) check_whole(adapt_every, "`adapt_every`", min = 1)
  check_whole(starts, "`starts`", min = 1)
  check_whole(start_iterations, "`start_iterations`", min = 1)
  if (!is.logical(start_stages) || length(start_stages) != 1L || is.na(start_stages))
    stop("`start_stages` must be TRUE or FALSE", call. = FALSE)
  check_cluster(cluster)
  check_positive(cluster_timeout, "cluster_timeout")
  structure(list(maxit = as.integer(maxit), reltol = reltol, gradtol = gradtol,
                 seed = as.integer(seed), threads = threads, trace = trace, se = se,
                 bootstrap = as.integer(bootstrap), bootstrap_checkpoint = bootstrap_checkpoint,
                 checkpoint = checkpoint, checkpoint_every = as.integer(checkpoint_every),
                 memory = memory, lower = lower, upper = upper, hessian = hessian,
                 hessian_step = hessian_step,
                 start_stages = start_stages, starts = as.integer(starts),
                 start_iterations = as.integer(start_iterations), adapt_tol = adapt_tol,
                 adapt_rounds = as.integer(adapt_rounds),
                 adapt_every = if (is.null(adapt_every)) Inf else as.integer(adapt_every),
                 cluster = cluster, cluster_timeout = as.double(cluster_timeout)),
            class = "iclv_control")
}

check_positive <- function(x, name) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !(x > 0))
    stop("`", name, "` must be a positive number, got ",
         if (is.numeric(x) && length(x) == 1L) format(x) else deparse(x)[1L], call. = FALSE)
}

# match.arg() with a message that names the argument.
match_choice <- function(x, choices, name) {
  if (identical(x, choices)) return(choices[1L])
  if (!is.character(x) || length(x) != 1L || !x %in% choices)
    stop("`", name, "` must be one of ", paste0("\"", choices, "\"", collapse = ", "), ", got ",
         deparse(x)[1L], call. = FALSE)
  x
}
