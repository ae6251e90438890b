rss_now <- function() .Call(iclv:::C_memmon_rss)$rss_mb

test_that("memory_limits() validates and keeps its thresholds", {
  limits <- memory_limits()
  expect_s3_class(limits, "iclv_memory_limits")
  expect_identical(limits$cpu_mb, 2000)
  expect_identical(limits$gpu_mb, 1500)
  expect_identical(limits$every, 1L)
  off <- memory_limits(cpu_mb = Inf, gpu_mb = Inf, every = 10)
  expect_identical(off$cpu_mb, Inf)
  expect_identical(off$every, 10L)
  expect_output(print(off), "CPU \\(RSS\\) off, GPU off, checked every 10 iterations")

  expect_error(memory_limits(cpu_mb = -1), "`cpu_mb` must be a positive number")
  expect_error(memory_limits(cpu_mb = 0), "`cpu_mb`")
  expect_error(memory_limits(cpu_mb = NA), "`cpu_mb`")
  expect_error(memory_limits(cpu_mb = "2000"), "`cpu_mb`.*\"2000\"")
  expect_error(memory_limits(gpu_mb = c(1, 2)), "`gpu_mb`.*length 2")
  expect_error(memory_limits(gpu_mb = -Inf), "`gpu_mb`")
  expect_error(memory_limits(every = 0), "`every` must be a positive whole number")
  expect_error(memory_limits(every = 1.5), "`every`")
  expect_error(memory_limits(every = Inf), "`every`")
  expect_error(memory_limits(every = NA), "`every`")
})

test_that("a CPU threshold below the current RSS makes every check run gc", {
  skip_if(is.na(rss_now()), "RSS is not measurable here")
  monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = 1, gpu_mb = Inf))
  actions <- iclv:::memory_check(monitor, "iteration", 1:3)
  expect_identical(actions, rep("gc", 3))
  records <- memory_summary(monitor)
  expect_identical(records$action, rep("gc", 3))
  expect_true(all(records$cpu_mb > 1))
  expect_true(all(records$freed_mb >= 0))
  expect_identical(memory_stats(monitor)$n_gc, 3L)
  expect_identical(memory_stats(monitor)$n_release, 0L)
})

test_that("Inf thresholds never act", {
  monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = Inf, gpu_mb = Inf))
  iclv:::memory_set_usage(monitor, device_bytes = 1e12)
  expect_identical(iclv:::memory_check(monitor, "setup"), "none")
  expect_identical(iclv:::memory_check(monitor, "iteration", 1:4), rep("none", 4))
  records <- memory_summary(monitor)
  expect_identical(records$action, rep("none", 5))
  expect_identical(records$freed_mb, rep(0, 5))
  expect_identical(memory_stats(monitor)$n_gc, 0L)
})

test_that("a GPU threshold compares the device memory the engine holds", {
  monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = Inf, gpu_mb = 1000))
  mb <- 2^20
  iclv:::memory_set_usage(monitor, host_bytes = 10 * mb, device_bytes = 500 * mb,
                          device_free_bytes = 7000 * mb, device_total_bytes = 8000 * mb)
  expect_identical(iclv:::memory_check(monitor, "evaluation"), "none")
  iclv:::memory_set_usage(monitor, host_bytes = 10 * mb, device_bytes = 2000 * mb,
                          device_free_bytes = 6000 * mb, device_total_bytes = 8000 * mb)
  # A standalone monitor has no device buffers to release: it only runs gc.
  expect_identical(iclv:::memory_check(monitor, "hessian"), "gc")
  records <- memory_summary(monitor)
  expect_identical(records$phase, c("evaluation", "hessian"))
  expect_identical(records$iteration, c(NA_integer_, NA_integer_))
  expect_identical(records$host_mb, c(10, 10))
  expect_identical(records$gpu_mb, c(500, 2000))
  expect_identical(records$gpu_free_mb, c(7000, 6000))
  expect_identical(attr(records, "gpu_total_mb"), 8000)
  stats <- memory_stats(monitor)
  expect_identical(stats$gpu_max_mb, 2000)
  expect_identical(stats$gpu_mean_mb, 1250)
  expect_identical(stats$n_gc, 1L)
})

test_that("iteration checks run only every `every`-th iteration", {
  monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = Inf, every = 3))
  iclv:::memory_check(monitor, "setup")
  iclv:::memory_check(monitor, "iteration", 1:7)
  iclv:::memory_check(monitor, "hessian")
  records <- memory_summary(monitor)
  expect_identical(records$phase, c("setup", "iteration", "iteration", "hessian"))
  expect_identical(records$iteration, c(NA, 3L, 6L, NA))
})

test_that("the ring keeps the newest `capacity` records in chronological order", {
  monitor <- iclv:::new_memory_monitor(capacity = 5L, limits = memory_limits(cpu_mb = Inf))
  iclv:::memory_check(monitor, "iteration", 1:12)
  records <- memory_summary(monitor)
  expect_identical(nrow(records), 5L)
  expect_identical(records$iteration, 8:12)
  expect_false(is.unsorted(records$time))
  expect_identical(attr(records, "dropped"), 7)
  expect_output(print(monitor), "5 record\\(s\\) \\(7 older dropped\\)")
  # Before wrap-around, too.
  small <- iclv:::new_memory_monitor(capacity = 5L, limits = memory_limits(cpu_mb = Inf))
  iclv:::memory_check(small, "iteration", 1:3)
  expect_identical(memory_summary(small)$iteration, 1:3)
  expect_identical(attr(memory_summary(small), "dropped"), 0)
})

test_that("long phase labels are truncated, not overflowed", {
  monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = Inf))
  iclv:::memory_check(monitor, strrep("x", 100))
  expect_identical(memory_summary(monitor)$phase, strrep("x", 31))
})

test_that("memory_summary() and memory_stats() have the documented columns and types", {
  monitor <- iclv:::new_memory_monitor(limits = memory_limits(cpu_mb = Inf))
  iclv:::memory_check(monitor, "setup")
  iclv:::memory_check(monitor, "iteration", 1:2)
  records <- memory_summary(monitor)
  expect_identical(names(records), c("time", "phase", "iteration", "cpu_mb", "host_mb",
                                     "gpu_mb", "gpu_free_mb", "action", "freed_mb", "worker"))
  expect_identical(vapply(records, typeof, ""),
                   c(time = "double", phase = "character", iteration = "integer",
                     cpu_mb = "double", host_mb = "double", gpu_mb = "double",
                     gpu_free_mb = "double", action = "character", freed_mb = "double",
                     worker = "integer"))
  expect_identical(records$worker, rep(0L, 3L))
  # Usage never reported: unknown, not zero.
  expect_true(all(is.na(records$gpu_mb)))
  stats <- memory_stats(monitor)
  expect_identical(names(stats), c("cpu_max_mb", "cpu_mean_mb", "gpu_max_mb", "gpu_mean_mb",
                                   "n_gc", "n_release"))
  expect_identical(vapply(stats, typeof, ""),
                   c(cpu_max_mb = "double", cpu_mean_mb = "double", gpu_max_mb = "double",
                     gpu_mean_mb = "double", n_gc = "integer", n_release = "integer"))
  expect_identical(nrow(stats), 1L)
  expect_identical(stats$gpu_max_mb, NA_real_)

  # A fit-like list, with a monitor or with records already extracted.
  expect_identical(memory_summary(list(memory = monitor))$iteration, c(NA, 1L, 2L))
  expect_identical(memory_summary(list(memory = records)), records)
  expect_identical(memory_stats(list(memory = records)), stats)
})

test_that("memory_stats() counts gc and release actions, a 'both' in each", {
  records <- data.frame(
    time = c(0, 1, 2, 3), phase = "iteration", iteration = 1:4,
    cpu_mb = c(100, 300, NA, 200), host_mb = NA_real_, gpu_mb = c(10, 30, 20, NA),
    gpu_free_mb = NA_real_, action = c("none", "gc", "both", "release"), freed_mb = 0,
    stringsAsFactors = FALSE
  )
  stats <- memory_stats(records)
  expect_identical(stats$cpu_max_mb, 300)
  expect_identical(stats$cpu_mean_mb, 200)
  expect_identical(stats$gpu_max_mb, 30)
  expect_identical(stats$gpu_mean_mb, 20)
  expect_identical(stats$n_gc, 2L)
  expect_identical(stats$n_release, 2L)
})

test_that("bad inputs to the memory API fail with clear errors", {
  expect_error(memory_summary(42), "expected a fitted model with memory records")
  expect_error(memory_summary(list(memory = NULL)), "no memory records")
  expect_error(memory_stats(data.frame(time = 1)), "lacks column\\(s\\) `phase`")
  expect_error(memory_summary(new.env()), "class environment")
  expect_error(.Call(iclv:::C_memmon_records, new.env()), "not a memory monitor")
  expect_error(.Call(iclv:::C_memmon_new, 0L), "capacity")
})

test_that("iclv_memory() is a one-row snapshot of the process", {
  now <- iclv_memory()
  expect_identical(nrow(now), 1L)
  expect_identical(names(now), c("time", "rss_mb", "rss_kind", "gpu_free_mb", "gpu_total_mb"))
  expect_s3_class(now$time, "POSIXct")
  expect_type(now$rss_mb, "double")
  expect_true(now$rss_kind %in% c("current", "peak", "unavailable"))
  if (now$rss_kind != "unavailable") expect_gt(now$rss_mb, 1)
  expect_identical(now$gpu_total_mb, NA_real_)
})

test_that("10,000 checks are cheap and do not grow RSS", {
  skip_if(is.na(rss_now()), "RSS is not measurable here")
  monitor <- iclv:::new_memory_monitor(capacity = 4096L,
                                       limits = memory_limits(cpu_mb = Inf, gpu_mb = Inf))
  iteration <- seq_len(10000L) + 0L
  iclv:::memory_check(monitor, "warm-up", seq_len(4096L)) # touch every ring slot once
  before <- rss_now()
  elapsed <- system.time(iclv:::memory_check(monitor, "iteration", iteration))[["elapsed"]]
  after <- rss_now()
  expect_lt(after - before, 1)
  expect_identical(nrow(memory_summary(monitor)), 4096L)
  expect_lt(elapsed, 5) # microseconds per check; a generous bound for slow machines
})

test_that("freed memory is handed back to the system, not only collected", {
  skip_if_not(file.exists("/proc/self/statm") && grepl("linux", R.version$os),
              "resident memory is read from /proc on Linux only")
  iclv:::release_unused_memory()
  # 200,000 small vectors: R keeps them in heap pages that glibc keeps
  # resident after R's garbage collector has freed them.
  garbage <- lapply(seq_len(2e5), function(i) runif(8))
  with_garbage <- iclv:::process_rss_mb()
  rm(garbage)
  released <- iclv:::release_unused_memory()
  expect_gt(released, 20)
  expect_lt(iclv:::process_rss_mb(), with_garbage - 20)
})
