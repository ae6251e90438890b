/* The memory monitor (vignette "speed-and-memory"): a fixed-size ring of records of
 * process RSS and of the memory the package holds on host and device, with
 * thresholds that trigger R's garbage collector and the release of device
 * buffers the engine can rebuild.
 *
 * Pure C: no R headers. Each engine owns one monitor; the R glue
 * (memmon_glue.c) installs the callback that runs R_gc(), the engine installs
 * the one that releases its rebuildable buffers. memmon_check_usage() allocates
 * nothing: the ring is allocated once by memmon_create() and overwrites its
 * oldest record when full, counting what it dropped. */
#ifndef ICLV_MEMMON_H
#define ICLV_MEMMON_H

#ifdef __cplusplus
extern "C" {
#endif

/* Phase labels longer than this (including the terminating NUL) are truncated. */
#define MEMMON_PHASE_LEN 32
#define MEMMON_DEFAULT_CAPACITY 4096

/* What a check did; a bit mask, so MEMMON_BOTH == MEMMON_GC | MEMMON_RELEASE. */
typedef enum memmon_action {
  MEMMON_NONE = 0,
  MEMMON_GC = 1,      /* the gc callback ran (R_gc()) */
  MEMMON_RELEASE = 2, /* the release callback dropped rebuildable buffers */
  MEMMON_BOTH = 3
} memmon_action;

/* Where cpu_mb came from. */
typedef enum memmon_rss_kind {
  MEMMON_RSS_CURRENT = 0,    /* /proc/self/statm: resident pages now */
  MEMMON_RSS_PEAK = 1,       /* getrusage() ru_maxrss: the peak so far, never falls */
  MEMMON_RSS_UNAVAILABLE = 2 /* neither (Windows): cpu_mb is NaN, no CPU action */
} memmon_rss_kind;

/* One check. Sizes in MB (2^20 bytes); NaN where unknown (e.g. device columns
 * when the engine runs on the CPU and never reported device usage). The
 * usage columns are the values seen before the action. */
typedef struct memmon_record {
  double time;                   /* seconds since memmon_create(), monotonic clock */
  char phase[MEMMON_PHASE_LEN];  /* "setup", "evaluation", "hessian", "iteration", ... */
  int iteration;                 /* optimizer iteration, -1 when none */
  double cpu_mb;                 /* process RSS */
  double host_mb;                /* host memory the package holds (memmon_set_usage) */
  double gpu_mb;                 /* device memory the package holds */
  double gpu_free_mb;            /* device free memory */
  double gpu_total_mb;           /* device total memory */
  int action;                    /* memmon_action */
  double freed_mb;               /* host RSS drop + device MB the release reported */
} memmon_record;

typedef struct memmon memmon;

/* Callbacks: return 0 when the action was performed, nonzero when it was not
 * (it is then not recorded). `freed_mb` receives the MB freed when the
 * callback knows it, NaN otherwise.
 * - gc: runs R's garbage collector. It must be called on R's main thread only,
 *   so memmon_check_usage() with a gc callback installed must be too. The monitor
 *   measures the RSS drop itself; a finite value reported here is used when
 *   it is larger (R can free heap without returning pages to the OS).
 * - release: drops device (and host) buffers the engine can rebuild and
 *   reports the device MB it freed; the engine should also update its usage
 *   with memmon_set_usage(). */
typedef int (*memmon_callback)(void *ctx, double *freed_mb);

/* A monitor holding at most `capacity` records (values < 1 mean
 * MEMMON_DEFAULT_CAPACITY). NULL when out of memory. Limits start disabled
 * (Inf), every = 1, no callbacks, usage unknown (NaN). */
memmon *memmon_create(int capacity);
void memmon_free(memmon *mon); /* NULL is fine */

/* Thresholds in MB; NaN, Inf or a value <= 0 disables that threshold.
 * `every` (< 1 means 1): checks with iteration >= 0 run only when
 * iteration % every == 0; the others return MEMMON_NONE and record nothing.
 * Checks with iteration < 0 (setup, hessian, ...) always run. */
void memmon_set_limits(memmon *mon, double cpu_mb, double gpu_mb, int every);
void memmon_set_callbacks(memmon *mon, memmon_callback gc, memmon_callback release,
                          void *ctx);

/* What the package holds now, in bytes (NaN where unknown). The GPU threshold
 * compares device_bytes, the memory this engine can act on, with gpu_mb. */
void memmon_set_usage(memmon *mon, double host_bytes, double device_bytes,
                      double device_free_bytes, double device_total_bytes);

/* Reads RSS and the usage, compares them with the thresholds, acts when over:
 * GPU over -> release (if installed) then gc (if installed); CPU over -> gc.
 * gc runs at most once per check. Appends one record and returns the
 * memmon_action taken. `phase` may be NULL (recorded as ""). Allocates
 * nothing; costs a few microseconds when no action is needed. A check made
 * from inside a callback of the same monitor returns MEMMON_NONE unrecorded. */
int memmon_check_usage(memmon *mon, const char *phase, int iteration);

/* Records held (<= capacity) and the i-th in chronological order (0 = oldest);
 * NULL when i is out of range. */
int memmon_count(const memmon *mon);
const memmon_record *memmon_get(const memmon *mon, int i);
int memmon_capacity(const memmon *mon);
/* Records overwritten because the ring was full. */
double memmon_dropped(const memmon *mon);
/* How cpu_mb was measured on this system. */
memmon_rss_kind memmon_rss_source(const memmon *mon);

/* Process RSS in MB: the second field of /proc/self/statm times the page
 * size. Where /proc is absent (macOS, BSD) it falls back to getrusage()'s
 * ru_maxrss, which is the PEAK resident size, not the current one; on Windows
 * it returns NaN. `kind` (may be NULL) receives which of these was used. */
double memmon_rss_read(memmon_rss_kind *kind);
double memmon_rss_mb(void);

/* "none", "gc", "release", "both" ("none" for an unknown code). */
const char *memmon_action_name(int action);

#ifdef __cplusplus
}
#endif

#endif
