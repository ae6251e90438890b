# A socket cluster on this machine for the cluster tests (test-cluster.R):
# `n` workers that load the installed iclv, with sockets that send small
# writes at once (see vignette "speed-and-memory", section "Estimation on a
# cluster"). NULL where sockets cannot be opened, workers cannot be started
# or cannot load the package (a development load), or ICLV_TEST_CLUSTER is
# "false".
cluster_for_tests <- function(n) {
  if (identical(tolower(Sys.getenv("ICLV_TEST_CLUSTER")), "false")) return(NULL)
  old <- options(socketOptions = "no-delay")
  on.exit(options(old))
  no_delay <- c("-e", shQuote("options(socketOptions='no-delay')"))
  cl <- tryCatch(parallel::makePSOCKcluster(n, setup_timeout = 30, rscript_args = no_delay),
                 error = function(e) NULL)
  if (is.null(cl)) return(NULL)
  loads <- tryCatch({
    session <- iclv:::cluster_open(cl)
    iclv:::cluster_close(session)
    TRUE
  }, error = function(e) FALSE)
  if (!loads) {
    parallel::stopCluster(cl)
    return(NULL)
  }
  cl
}

# The iclv sessions each worker still holds (0 when everything was freed).
worker_session_counts <- function(cl) {
  unlist(parallel::clusterEvalQ(cl,
    length(ls(get("worker_sessions", envir = asNamespace("iclv"))))))
}

# Stops a cluster's workers one by one (parallel::stopCluster() gives up at
# the first lost one) and closes the master's ends of their connections.
stop_cluster_for_tests <- function(cl) {
  for (k in seq_along(cl)) try(parallel::stopCluster(cl[k]), silent = TRUE)
  for (node in cl) try(close(node$con), silent = TRUE)
  invisible()
}
