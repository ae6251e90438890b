/* R side of the memory monitor (memmon.h): the .Call entry points, and the
 * helpers the engine glue reuses to give its own monitor to R. */
#ifndef ICLV_MEMMON_GLUE_H
#define ICLV_MEMMON_GLUE_H

#include <Rinternals.h>
#include "memmon.h"

/* .Call entry points (registered in init.c). */
SEXP memmon_new(SEXP capacity);
SEXP memmon_limits(SEXP mon, SEXP cpu_mb, SEXP gpu_mb, SEXP every);
SEXP memmon_usage(SEXP mon, SEXP host_bytes, SEXP device_bytes, SEXP device_free_bytes,
                  SEXP device_total_bytes);
SEXP memmon_check(SEXP mon, SEXP phase, SEXP iteration);
SEXP memmon_records(SEXP mon);
SEXP memmon_rss(void);
SEXP memmon_release_unused(void);

/* The gc callback for memmon_set_callbacks(): runs R_gc() so that dead R
 * objects, and the finalizers of dead engines (which free their device
 * memory), are collected. It reports freed_mb = NaN: the monitor measures the
 * RSS drop itself. R API: call it (that is, run memmon_check_usage() with it
 * installed) on R's main thread only, never from a worker or OpenMP thread.
 * `ctx` is unused. Returns 0. */
int iclv_r_gc_callback(void *ctx, double *freed_mb);

/* The monitor behind an external pointer made by memmon_new() or
 * memmon_wrap(); an R error when `x` is not one or was already freed. */
memmon *memmon_from_sexp(SEXP x);

/* Wraps a monitor in an external pointer of class "iclv_memmon" that R code
 * (memory_summary(), memory_stats()) accepts. With `owned` nonzero the
 * pointer's finalizer frees the monitor; otherwise `owner` (e.g. the
 * engine's external pointer, which frees the monitor with the engine) is kept
 * alive by the wrapper (as its protected value). */
SEXP memmon_wrap(memmon *mon, int owned, SEXP owner);

#endif
