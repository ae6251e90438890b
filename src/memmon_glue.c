/* R side of the memory monitor: external pointers to monitors, and the
 * callback that runs R's garbage collector. See memmon_glue.h. */
#include <R.h>
#include <Rinternals.h>
#include <limits.h>
#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "memmon_glue.h"

static SEXP memmon_tag(void) { return install("iclv_memmon"); }

/* Clears the pointer before freeing, so a stale copy can never reach freed memory. */
static void memmon_finalize(SEXP x) {
  memmon *mon = R_ExternalPtrAddr(x);
  if (!mon) return;
  R_ClearExternalPtr(x);
  memmon_free(mon);
}

/* R's garbage collector, then (with glibc) the freed heap handed back to
 * the system: R frees its vectors with free(), and glibc keeps freed heap
 * memory in the process unless asked (the data preparation's temporaries
 * would otherwise stay resident next to the engine). */
static void release_unused(void) {
  R_gc();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

int iclv_r_gc_callback(void *ctx, double *freed_mb) {
  (void) ctx;
  release_unused();
  if (freed_mb) *freed_mb = NAN;
  return 0;
}

SEXP memmon_release_unused(void) {
  memmon_rss_kind kind;
  const double before = memmon_rss_read(&kind);
  release_unused();
  const double after = memmon_rss_read(&kind);
  return ScalarReal(kind == MEMMON_RSS_CURRENT && !isnan(before) && !isnan(after) ?
                    before - after : NA_REAL);
}

memmon *memmon_from_sexp(SEXP x) {
  if (TYPEOF(x) != EXTPTRSXP || R_ExternalPtrTag(x) != memmon_tag())
    error("not a memory monitor (an external pointer made by memmon_new())");
  SEXP owner = R_ExternalPtrProtected(x);
  if (TYPEOF(owner) == EXTPTRSXP && R_ExternalPtrAddr(owner) == NULL)
    error("the engine that owned this memory monitor has been freed");
  memmon *mon = R_ExternalPtrAddr(x);
  if (!mon) error("this memory monitor has been freed");
  return mon;
}

SEXP memmon_wrap(memmon *mon, int owned, SEXP owner) {
  SEXP ptr = PROTECT(R_MakeExternalPtr(mon, memmon_tag(), owned ? R_NilValue : owner));
  if (owned) R_RegisterCFinalizerEx(ptr, memmon_finalize, TRUE);
  setAttrib(ptr, R_ClassSymbol, mkString("iclv_memmon"));
  UNPROTECT(1);
  return ptr;
}

SEXP memmon_new(SEXP capacity) {
  int cap = asInteger(capacity);
  if (cap == NA_INTEGER || cap < 1 || cap > 10000000)
    error("memory monitor capacity must be a whole number from 1 to 1e7, not %d", cap);
  memmon *mon = memmon_create(cap);
  if (!mon) error("cannot allocate a memory monitor of %d records", cap);
  /* Standalone monitors run R_gc() over the CPU threshold; only an engine has
   * device buffers to release. */
  memmon_set_callbacks(mon, iclv_r_gc_callback, NULL, NULL);
  return memmon_wrap(mon, 1, R_NilValue);
}

static double as_number(SEXP x, const char *what) {
  if (!isNumeric(x) || XLENGTH(x) != 1) error("%s must be a single number", what);
  return asReal(x);
}

SEXP memmon_limits(SEXP mon, SEXP cpu_mb, SEXP gpu_mb, SEXP every) {
  memmon *m = memmon_from_sexp(mon);
  double cpu = as_number(cpu_mb, "cpu_mb"), gpu = as_number(gpu_mb, "gpu_mb");
  double ev = as_number(every, "every");
  if (!(ev >= 1.0 && ev <= INT_MAX)) error("every must be a whole number >= 1");
  memmon_set_limits(m, cpu, gpu, (int) ev);
  return mon;
}

SEXP memmon_usage(SEXP mon, SEXP host_bytes, SEXP device_bytes, SEXP device_free_bytes,
                  SEXP device_total_bytes) {
  memmon *m = memmon_from_sexp(mon);
  memmon_set_usage(m, as_number(host_bytes, "host_bytes"),
                   as_number(device_bytes, "device_bytes"),
                   as_number(device_free_bytes, "device_free_bytes"),
                   as_number(device_total_bytes, "device_total_bytes"));
  return mon;
}

/* One check per element of `iteration` (NA or negative: no iteration), so a
 * loop of checks runs without R allocations in between; returns the actions. */
SEXP memmon_check(SEXP mon, SEXP phase, SEXP iteration) {
  memmon *m = memmon_from_sexp(mon);
  if (TYPEOF(phase) != STRSXP || XLENGTH(phase) != 1 || STRING_ELT(phase, 0) == NA_STRING)
    error("phase must be a single string");
  SEXP iter = PROTECT(coerceVector(iteration, INTSXP));
  R_xlen_t n = XLENGTH(iter);
  SEXP out = PROTECT(allocVector(STRSXP, n));
  const char *label = CHAR(STRING_ELT(phase, 0));
  /* One CHARSXP per action, made before the loop. */
  SEXP names = PROTECT(allocVector(STRSXP, 4));
  for (int a = 0; a < 4; a++) SET_STRING_ELT(names, a, mkChar(memmon_action_name(a)));
  const int *it = INTEGER(iter);
  for (R_xlen_t i = 0; i < n; i++) {
    int iteration_i = it[i] == NA_INTEGER ? -1 : it[i];
    int action = memmon_check_usage(m, label, iteration_i);
    SET_STRING_ELT(out, i, STRING_ELT(names, action & 3));
  }
  UNPROTECT(3);
  return out;
}

SEXP memmon_records(SEXP mon) {
  memmon *m = memmon_from_sexp(mon);
  int n = memmon_count(m);
  const char *cols[] = {"time",   "phase",       "iteration",    "cpu_mb",
                        "host_mb", "gpu_mb",     "gpu_free_mb",  "gpu_total_mb",
                        "action", "freed_mb",    ""};
  SEXP out = PROTECT(mkNamed(VECSXP, cols));
  SEXP time = allocVector(REALSXP, n);          SET_VECTOR_ELT(out, 0, time);
  SEXP phase = allocVector(STRSXP, n);          SET_VECTOR_ELT(out, 1, phase);
  SEXP iter = allocVector(INTSXP, n);           SET_VECTOR_ELT(out, 2, iter);
  SEXP cpu = allocVector(REALSXP, n);           SET_VECTOR_ELT(out, 3, cpu);
  SEXP host = allocVector(REALSXP, n);          SET_VECTOR_ELT(out, 4, host);
  SEXP gpu = allocVector(REALSXP, n);           SET_VECTOR_ELT(out, 5, gpu);
  SEXP gpu_free = allocVector(REALSXP, n);      SET_VECTOR_ELT(out, 6, gpu_free);
  SEXP gpu_total = allocVector(REALSXP, n);     SET_VECTOR_ELT(out, 7, gpu_total);
  SEXP action = allocVector(STRSXP, n);         SET_VECTOR_ELT(out, 8, action);
  SEXP freed = allocVector(REALSXP, n);         SET_VECTOR_ELT(out, 9, freed);
  for (int i = 0; i < n; i++) {
    const memmon_record *r = memmon_get(m, i);
    REAL(time)[i] = r->time;
    SET_STRING_ELT(phase, i, mkChar(r->phase));
    INTEGER(iter)[i] = r->iteration < 0 ? NA_INTEGER : r->iteration;
    /* NaN (unknown) becomes NA in R. */
    REAL(cpu)[i] = isnan(r->cpu_mb) ? NA_REAL : r->cpu_mb;
    REAL(host)[i] = isnan(r->host_mb) ? NA_REAL : r->host_mb;
    REAL(gpu)[i] = isnan(r->gpu_mb) ? NA_REAL : r->gpu_mb;
    REAL(gpu_free)[i] = isnan(r->gpu_free_mb) ? NA_REAL : r->gpu_free_mb;
    REAL(gpu_total)[i] = isnan(r->gpu_total_mb) ? NA_REAL : r->gpu_total_mb;
    SET_STRING_ELT(action, i, mkChar(memmon_action_name(r->action)));
    REAL(freed)[i] = r->freed_mb;
  }
  static const char *kinds[] = {"current", "peak", "unavailable"};
  setAttrib(out, install("dropped"), ScalarReal(memmon_dropped(m)));
  setAttrib(out, install("capacity"), ScalarInteger(memmon_capacity(m)));
  setAttrib(out, install("rss_kind"), mkString(kinds[memmon_rss_source(m)]));
  UNPROTECT(1);
  return out;
}

SEXP memmon_rss(void) {
  memmon_rss_kind kind;
  double mb = memmon_rss_read(&kind);
  static const char *kinds[] = {"current", "peak", "unavailable"};
  const char *names[] = {"rss_mb", "kind", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, ScalarReal(isnan(mb) ? NA_REAL : mb));
  SET_VECTOR_ELT(out, 1, mkString(kinds[kind]));
  UNPROTECT(1);
  return out;
}
