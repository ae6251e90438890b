# The memory monitor's R side: thresholds (memory_limits()), the records a
# monitor keeps (memory_summary(), memory_stats()) and a snapshot of the
# process (iclv_memory()). The monitor itself is C (src/memmon.c).

#' Memory thresholds for estimation
#'
#' Sets when the memory monitor acts during estimation; pass the result as
#' `iclv_control(memory = memory_limits(...))`. The monitor checks memory when
#' the engine is created, at optimizer iterations and around the Hessian, and
#' records every check (see [memory_summary()]).
#'
#' * Over `cpu_mb` (the process's resident set size, RSS, in MB) the monitor
#'   runs R's garbage collector, so that dead R objects and the finalizers of
#'   engines no longer in use give their memory back.
#' * Over `gpu_mb` (the device memory the engine holds, in MB) the engine first
#'   releases what it can rebuild (cached scores, oversized workspaces, and it
#'   switches to smaller chunks), then R's garbage collector runs.
#'
#' Each action is recorded with the MB it freed. A threshold of `Inf` disables
#' that check; the defaults (2000 MB of RSS, 1500 MB of device memory) suit a
#' laptop: raise them on larger machines so that the collector does not run at
#' every iteration.
#'
#' RSS is read from `/proc/self/statm` on Linux. Where `/proc` is absent
#' (macOS, BSD) the monitor falls back to the *peak* RSS from `getrusage()`,
#' which never falls: once over `cpu_mb`, every check then runs the collector,
#' so there set `cpu_mb` high or to `Inf`. On Windows RSS is not measured
#' (`NA`) and the CPU threshold never fires.
#'
#' @param cpu_mb Process RSS in MB above which R's garbage collector runs. A
#'   positive number, or `Inf` to disable.
#' @param gpu_mb Device memory held by the engine, in MB, above which
#'   rebuildable device buffers are released and the collector runs. A
#'   positive number, or `Inf` to disable.
#' @param every Check at every `every`-th optimizer iteration (a positive whole
#'   number); checks at engine creation and around the Hessian always run.
#' @return A list of class `"iclv_memory_limits"` with elements `cpu_mb`,
#'   `gpu_mb` (doubles) and `every` (integer).
#' @seealso [memory_summary()], [memory_stats()], [iclv_memory()].
#' @export
#' @examples
#' memory_limits()
#' memory_limits(cpu_mb = 8000, gpu_mb = Inf, every = 5)
memory_limits <- function(cpu_mb = 2000, gpu_mb = 1500, every = 1) {
  check_threshold(cpu_mb, "cpu_mb")
  check_threshold(gpu_mb, "gpu_mb")
  every <- check_whole(every, "memory_limits(): `every`")
  structure(list(cpu_mb = as.double(cpu_mb), gpu_mb = as.double(gpu_mb),
                 every = as.integer(every)),
            class = "iclv_memory_limits")
}

check_threshold <- function(x, name) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x <= 0) {
    stop("memory_limits(): `", name, "` must be a positive number of MB or Inf, not ",
         format_value(x), call. = FALSE)
  }
  invisible(x)
}

#' @export
print.iclv_memory_limits <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "print()")
  show <- function(v, unit) if (is.infinite(v)) "off" else paste(format(v), unit)
  cat("Memory limits: CPU (RSS) ", show(x$cpu_mb, "MB"), ", GPU ", show(x$gpu_mb, "MB"),
      ", checked every ", x$every, if (x$every == 1L) " iteration" else " iterations",
      "\n", sep = "")
  invisible(x)
}

#' Memory used by the R process now
#'
#' A snapshot of the process: its resident set size (RSS) and, on request, the
#' free and total memory of GPU 0.
#'
#' @param gpu Query GPU 0 as well (`TRUE`)? This initialises CUDA, which
#'   takes time and device memory the first time, so it is off by default.
#'   Without a usable GPU the columns stay `NA`.
#' @return A one-row data frame: `time` (POSIXct), `rss_mb` (double), `rss_kind`
#'   (`"current"`; `"peak"` where only the peak RSS is available, see
#'   [memory_limits()]; `"unavailable"` on Windows), `gpu_free_mb` and
#'   `gpu_total_mb` (double, `NA` unless `gpu = TRUE` finds a device).
#' @export
#' @examples
#' iclv_memory()
iclv_memory <- function(gpu = FALSE) {
  rss <- .Call(C_memmon_rss)
  free_mb <- total_mb <- NA_real_
  if (isTRUE(gpu)) {
    info <- .Call(C_gpu_backend_info)
    if (isTRUE(info$compiled) && info$n_devices > 0L) {
      free_mb <- info$free_mb
      total_mb <- info$total_mb
    }
  }
  data.frame(time = Sys.time(), rss_mb = rss$rss_mb, rss_kind = rss$kind,
             gpu_free_mb = free_mb, gpu_total_mb = total_mb, stringsAsFactors = FALSE)
}

#' Memory records of an estimation
#'
#' `memory_summary()` returns every check the memory monitor made, oldest
#' first; `memory_stats()` condenses them into one row. The monitor keeps a
#' fixed number of records (4096 by default): in longer runs the oldest are
#' overwritten, and the data frame's attribute `dropped` counts them.
#'
#' @param x A fitted model (a list whose element `memory` holds the monitor or
#'   its records), a memory monitor (external pointer), or a data frame
#'   returned by `memory_summary()`.
#' @param ... Not used: any argument given here is refused with an error that
#'   names it.
#' @return `memory_summary()`: a data frame with one row per check and columns
#'   `time` (seconds since the monitor was created), `phase` (`"setup"`,
#'   `"evaluation"`, `"hessian"`, `"iteration"`, ...), `iteration` (integer,
#'   `NA` outside iterations), `cpu_mb` (process RSS), `host_mb` and `gpu_mb`
#'   (memory the engine holds on the host and on the device), `gpu_free_mb`
#'   (free device memory), `action` (`"none"`, `"gc"`, `"release"` or
#'   `"both"`) and `freed_mb` (the drop in RSS plus the device memory released
#'   by that action). Memory is in MB (2^20 bytes); `NA` where unknown (device
#'   columns on the CPU backend). `worker` says which process made the check:
#'   0 for the R process that ran [iclv()], `k` for worker `k` of its
#'   cluster (`iclv_control(cluster =)`), whose engine holds the data and
#'   points of its people (the master's `host_mb` is then 0).
#'
#'   `memory_stats()`: a one-row data frame with `cpu_max_mb`, `cpu_mean_mb`,
#'   `gpu_max_mb`, `gpu_mean_mb` (over the records, ignoring `NA`; `NA` when
#'   none is known) and the counts `n_gc` and `n_release` of checks that ran
#'   the garbage collector and that released device buffers (a `"both"` action
#'   counts in each).
#' @seealso [memory_limits()] for the thresholds, [iclv_memory()] for the
#'   process now.
#' @export
#' @examples
#' # A fitted model carries its monitor in `fit$memory`; a standalone monitor
#' # works the same way:
#' monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = Inf))
#' iclv:::memory_check(monitor, "setup")
#' iclv:::memory_check(monitor, "iteration", 1:3)
#' memory_summary(monitor)
#' memory_stats(monitor)
memory_summary <- function(x, ...) UseMethod("memory_summary")

#' @rdname memory_summary
#' @export
memory_summary.default <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "memory_summary()")
  memory_records(x)
}

#' @rdname memory_summary
#' @export
memory_stats <- function(x, ...) UseMethod("memory_stats")

#' @rdname memory_summary
#' @export
memory_stats.default <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "memory_stats()")
  records <- memory_records(x)
  max_or_na <- function(v) if (any(!is.na(v))) max(v, na.rm = TRUE) else NA_real_
  mean_or_na <- function(v) if (any(!is.na(v))) mean(v, na.rm = TRUE) else NA_real_
  data.frame(
    cpu_max_mb = max_or_na(records$cpu_mb),
    cpu_mean_mb = mean_or_na(records$cpu_mb),
    gpu_max_mb = max_or_na(records$gpu_mb),
    gpu_mean_mb = mean_or_na(records$gpu_mb),
    n_gc = sum(records$action %in% c("gc", "both")),
    n_release = sum(records$action %in% c("release", "both"))
  )
}

memory_columns <- c("time", "phase", "iteration", "cpu_mb", "host_mb", "gpu_mb",
                    "gpu_free_mb", "action", "freed_mb")

# The records data frame behind `x` (see memory_summary()).
memory_records <- function(x) {
  if (is.data.frame(x)) {
    missing <- setdiff(memory_columns, names(x))
    if (length(missing) > 0L) {
      stop("the data frame of memory records lacks column(s) ",
           paste0("`", missing, "`", collapse = ", "), call. = FALSE)
    }
    return(x)
  }
  if (inherits(x, "iclv_engine")) return(memory_records(attr(x, "monitor")))
  if (typeof(x) == "externalptr") return(memory_records_frame(.Call(C_memmon_records, x)))
  if (is.list(x) && "memory" %in% names(x)) {
    if (is.null(x[["memory"]])) stop("this fit has no memory records", call. = FALSE)
    return(memory_records(x[["memory"]]))
  }
  stop("expected a fitted model with memory records, a memory monitor, or a data ",
       "frame from memory_summary(); got an object of class ", class(x)[1L],
       call. = FALSE)
}

# The list of columns memmon_records() returns, as memory_summary()'s data
# frame; the device total (constant) and the ring's bookkeeping become attributes.
memory_records_frame <- function(columns) {
  records <- as.data.frame(columns[memory_columns], stringsAsFactors = FALSE)
  # The process that made the checks: 0 for this one (a fit on a cluster
  # adds its workers' records, cluster_fit()).
  records$worker <- rep(0L, nrow(records))
  total <- columns$gpu_total_mb
  attr(records, "gpu_total_mb") <- if (any(!is.na(total))) max(total, na.rm = TRUE) else NA_real_
  attr(records, "dropped") <- attr(columns, "dropped")
  attr(records, "rss_kind") <- attr(columns, "rss_kind")
  records
}

# A standalone monitor (engines own theirs): `capacity` records, with R's
# garbage collector as its action over `limits$cpu_mb`.
new_memory_monitor <- function(capacity = 4096L, limits = memory_limits()) {
  if (!inherits(limits, "iclv_memory_limits")) {
    stop("`limits` must come from memory_limits()", call. = FALSE)
  }
  monitor <- .Call(C_memmon_new, as.integer(capacity))
  .Call(C_memmon_limits, monitor, limits$cpu_mb, limits$gpu_mb, limits$every)
  monitor
}

# One check per element of `iteration` (NA: outside iterations); returns the
# actions taken.
memory_check <- function(monitor, phase, iteration = NA_integer_) {
  .Call(C_memmon_check, monitor, as.character(phase), as.integer(iteration))
}

# What the package holds, in bytes, as the engine would report it (for tests).
memory_set_usage <- function(monitor, host_bytes = NA_real_, device_bytes = NA_real_,
                             device_free_bytes = NA_real_, device_total_bytes = NA_real_) {
  .Call(C_memmon_usage, monitor, as.double(host_bytes), as.double(device_bytes),
        as.double(device_free_bytes), as.double(device_total_bytes))
  invisible(monitor)
}

#' @export
print.iclv_memmon <- function(x, ...) {
  refuse_unused_arguments(..., .fun = "print()")
  records <- memory_summary(x)
  cat("Memory monitor: ", nrow(records), " record(s)", sep = "")
  dropped <- attr(records, "dropped")
  if (!is.null(dropped) && dropped > 0) cat(" (", format(dropped), " older dropped)", sep = "")
  cat("\n")
  invisible(x)
}

# The process's resident memory in MB (/proc/self/statm on Linux).
process_rss_mb <- function() .Call(C_memmon_rss)$rss_mb

# Runs R's garbage collector and hands the freed heap back to the system
# (glibc keeps it resident otherwise): between the stages of a fit, so that
# the temporaries of one stage (the data checks, the start) are not resident
# next to the engine. Returns the MB of resident memory released (NA where
# the resident size cannot be read).
release_unused_memory <- function() .Call(C_memmon_release_unused)

# The same, only where the integration points (people x points x
# dimensions doubles) exceed 16 MB: a small fit is not worth a full garbage
# collection.
release_for_points <- function(n_indiv, n_points, n_dim) {
  if (8 * n_indiv * n_points * max(1, n_dim) > 2^24) release_unused_memory()
  invisible()
}

# The same for the points an engine holds.
release_for_engine <- function(engine) {
  bytes <- if (!is.null(engine)) tryCatch(engine_info(engine)$host_bytes, error = function(e) 0)
  if (isTRUE(bytes > 2^24)) release_unused_memory()
  invisible()
}
