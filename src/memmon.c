/* The memory monitor: see memmon.h. Pure C, no R headers. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */
#endif

#include "memmon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#endif

#define BYTES_PER_MB 1048576.0

struct memmon {
  memmon_record *records; /* capacity slots, allocated once */
  int capacity;
  int oldest; /* slot of the oldest record */
  int count;  /* records held */
  double dropped;
  double cpu_limit_mb, gpu_limit_mb; /* Inf = disabled */
  int every;
  memmon_callback gc, release;
  void *ctx;
  double host_bytes, device_bytes, device_free_bytes, device_total_bytes;
  double start_seconds;
  memmon_rss_kind rss_kind;
  int in_check; /* set while callbacks run: a nested check is ignored */
};

/* ---- clocks and RSS ---------------------------------------------------- */

static double monotonic_seconds(void) {
#ifdef _WIN32
  LARGE_INTEGER freq, now;
  QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  return (double) now.QuadPart / (double) freq.QuadPart;
#else
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return NAN;
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
#endif
}

#ifndef _WIN32
/* Resident pages from /proc/self/statm ("size resident shared ..."), read with
 * open/read into a stack buffer: stdio would malloc a FILE buffer. Returns a
 * negative value when the file is absent or unreadable. */
static double statm_resident_pages(void) {
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return -1.0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1.0;
  buf[n] = '\0';
  const char *p = buf;
  while (*p == ' ') p++;
  while (*p >= '0' && *p <= '9') p++; /* skip the first field (total size) */
  while (*p == ' ') p++;
  if (*p < '0' || *p > '9') return -1.0;
  double pages = 0.0;
  for (; *p >= '0' && *p <= '9'; p++) pages = 10.0 * pages + (double) (*p - '0');
  return pages;
}
#endif

double memmon_rss_read(memmon_rss_kind *kind) {
#ifdef _WIN32
  if (kind) *kind = MEMMON_RSS_UNAVAILABLE;
  return NAN;
#else
  double pages = statm_resident_pages();
  if (pages >= 0.0) {
    long page_size = sysconf(_SC_PAGESIZE);
    if (page_size > 0) {
      if (kind) *kind = MEMMON_RSS_CURRENT;
      return pages * (double) page_size / BYTES_PER_MB;
    }
  }
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    if (kind) *kind = MEMMON_RSS_PEAK;
#ifdef __APPLE__
    return (double) usage.ru_maxrss / BYTES_PER_MB; /* bytes on macOS */
#else
    return (double) usage.ru_maxrss / 1024.0; /* kilobytes elsewhere */
#endif
  }
  if (kind) *kind = MEMMON_RSS_UNAVAILABLE;
  return NAN;
#endif
}

double memmon_rss_mb(void) { return memmon_rss_read(NULL); }

const char *memmon_action_name(int action) {
  switch (action) {
  case MEMMON_GC: return "gc";
  case MEMMON_RELEASE: return "release";
  case MEMMON_BOTH: return "both";
  default: return "none";
  }
}

/* ---- lifetime and settings --------------------------------------------- */

memmon *memmon_create(int capacity) {
  if (capacity < 1) capacity = MEMMON_DEFAULT_CAPACITY;
  memmon *mon = calloc(1, sizeof *mon);
  if (!mon) return NULL;
  mon->records = calloc((size_t) capacity, sizeof *mon->records);
  if (!mon->records) {
    free(mon);
    return NULL;
  }
  mon->capacity = capacity;
  mon->cpu_limit_mb = INFINITY;
  mon->gpu_limit_mb = INFINITY;
  mon->every = 1;
  mon->host_bytes = mon->device_bytes = NAN;
  mon->device_free_bytes = mon->device_total_bytes = NAN;
  mon->start_seconds = monotonic_seconds();
  memmon_rss_read(&mon->rss_kind);
  return mon;
}

void memmon_free(memmon *mon) {
  if (!mon) return;
  free(mon->records);
  free(mon);
}

static double limit_or_inf(double mb) { return (isnan(mb) || mb <= 0.0) ? INFINITY : mb; }

void memmon_set_limits(memmon *mon, double cpu_mb, double gpu_mb, int every) {
  if (!mon) return;
  mon->cpu_limit_mb = limit_or_inf(cpu_mb);
  mon->gpu_limit_mb = limit_or_inf(gpu_mb);
  mon->every = every < 1 ? 1 : every;
}

void memmon_set_callbacks(memmon *mon, memmon_callback gc, memmon_callback release,
                          void *ctx) {
  if (!mon) return;
  mon->gc = gc;
  mon->release = release;
  mon->ctx = ctx;
}

void memmon_set_usage(memmon *mon, double host_bytes, double device_bytes,
                      double device_free_bytes, double device_total_bytes) {
  if (!mon) return;
  mon->host_bytes = host_bytes;
  mon->device_bytes = device_bytes;
  mon->device_free_bytes = device_free_bytes;
  mon->device_total_bytes = device_total_bytes;
}

/* ---- the check ----------------------------------------------------------- */

/* The slot the next record goes into; overwrites the oldest when full. */
static memmon_record *next_slot(memmon *mon) {
  if (mon->count < mon->capacity) {
    int slot = (mon->oldest + mon->count) % mon->capacity;
    mon->count++;
    return &mon->records[slot];
  }
  memmon_record *rec = &mon->records[mon->oldest];
  mon->oldest = (mon->oldest + 1) % mon->capacity;
  mon->dropped += 1.0;
  return rec;
}

int memmon_check_usage(memmon *mon, const char *phase, int iteration) {
  if (!mon || mon->in_check) return MEMMON_NONE;
  if (iteration >= 0 && iteration % mon->every != 0) return MEMMON_NONE;

  double now = monotonic_seconds() - mon->start_seconds;
  double cpu_mb = memmon_rss_read(NULL);
  double gpu_mb = mon->device_bytes / BYTES_PER_MB;
  /* Comparisons with NaN are false: unknown usage never triggers an action. */
  int cpu_over = cpu_mb > mon->cpu_limit_mb;
  int gpu_over = gpu_mb > mon->gpu_limit_mb;

  memmon_record *rec = next_slot(mon);
  rec->time = now;
  if (phase) {
    strncpy(rec->phase, phase, MEMMON_PHASE_LEN - 1);
    rec->phase[MEMMON_PHASE_LEN - 1] = '\0';
  } else {
    rec->phase[0] = '\0';
  }
  rec->iteration = iteration < 0 ? -1 : iteration;
  rec->cpu_mb = cpu_mb;
  rec->host_mb = mon->host_bytes / BYTES_PER_MB;
  rec->gpu_mb = gpu_mb;
  rec->gpu_free_mb = mon->device_free_bytes / BYTES_PER_MB;
  rec->gpu_total_mb = mon->device_total_bytes / BYTES_PER_MB;
  rec->action = MEMMON_NONE;
  rec->freed_mb = 0.0;
  if (!cpu_over && !gpu_over) return MEMMON_NONE;

  /* A callback may run R finalizers, which may check other monitors (fine)
   * but must not re-enter this one while `rec` is half written. */
  mon->in_check = 1;
  int action = MEMMON_NONE;
  double device_freed = 0.0, gc_reported = NAN;
  if (gpu_over && mon->release) {
    double freed = NAN;
    if (mon->release(mon->ctx, &freed) == 0) {
      action |= MEMMON_RELEASE;
      if (isfinite(freed) && freed > 0.0) device_freed = freed;
    }
  }
  if ((gpu_over || cpu_over) && mon->gc) {
    if (mon->gc(mon->ctx, &gc_reported) == 0) action |= MEMMON_GC;
  }
  mon->in_check = 0;

  double host_freed = 0.0;
  if (action != MEMMON_NONE) {
    double cpu_after = memmon_rss_read(NULL);
    if (isfinite(cpu_mb) && isfinite(cpu_after) && cpu_mb > cpu_after)
      host_freed = cpu_mb - cpu_after;
    if (isfinite(gc_reported) && gc_reported > host_freed) host_freed = gc_reported;
  }
  rec->action = action;
  rec->freed_mb = host_freed + device_freed;
  return action;
}

/* ---- access -------------------------------------------------------------- */

int memmon_count(const memmon *mon) { return mon ? mon->count : 0; }

int memmon_capacity(const memmon *mon) { return mon ? mon->capacity : 0; }

double memmon_dropped(const memmon *mon) { return mon ? mon->dropped : 0.0; }

memmon_rss_kind memmon_rss_source(const memmon *mon) {
  return mon ? mon->rss_kind : MEMMON_RSS_UNAVAILABLE;
}

const memmon_record *memmon_get(const memmon *mon, int i) {
  if (!mon || i < 0 || i >= mon->count) return NULL;
  return &mon->records[(mon->oldest + i) % mon->capacity];
}
