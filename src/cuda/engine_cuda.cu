/* The CUDA backend of the likelihood engine: the simulated log-likelihood, its
 * analytic gradient and the per-individual scores in double precision. The
 * steps of one person and one draw are not here: they are the shared
 * functions of engine_person.h and engine_draw.h (vignette "likelihood",
 * sections 1-5), which kernel_on_cpu.c also runs on the CPU for the tests.
 * This file has the loops around them, the warp reductions and the device
 * memory.
 *
 * Mapping. One thread block per individual, threads over the draws (thread t
 * takes draws t, t + T, t + 2T, ...). Per-thread state stays small: the latent
 * variables of the current draw and their adjoints live in a column of shared
 * memory, one utility at a time is recomputed rather than stored, and the
 * derivatives are summed over draws inside the block, so no thread ever holds
 * a vector of n_par. Two passes per individual:
 *   pass 1  l_r = log w_r + sum_k log P(I_k | LV_r) + sum_t log P(y_t | LV_r)
 *           for each draw (kept in a per-chunk global buffer), and the block's
 *           max M and sum S = sum_r sign_r exp(l_r - M) (per-thread online
 *           softmax, then a fixed shuffle tree and a fixed loop over warps);
 *   pass 2  (gradient only) in rounds of T draws: the weight sign_r exp(l_r - M)
 *           and dl_r/dtheta in reverse mode (vignette "likelihood", section 5). Each
 *           contribution is reduced over the warp by a warp-shuffle tree, four
 *           values per reduction (one pass of shuffles serves four parameters),
 *           and lane 0 adds the result into its warp's row of a shared
 *           n_warps x n_par table. At the end one thread per parameter sums the
 *           warp rows in warp order and divides by S.
 * The alternative, one thread per (individual, draw) and a separate reduction
 * kernel, would need per-draw derivative storage of n_par doubles; this
 * mapping needs none.
 *
 * Determinism: no floating-point atomics anywhere. Every sum has a fixed
 * order: shuffle trees, warp rows added by one lane in program order, warp
 * rows summed in warp order, individuals summed in groups of 32 (aligned to
 * the individual index, so chunking does not change them) and the groups in a
 * fixed tree; the log-likelihood is summed on the host in individual order.
 *
 * Memory. Plan, data and draws go to the device once (cuda_engine_create). An
 * evaluation sends theta, launches a tiny kernel that derives the per-
 * evaluation quantities (thresholds, inverse scales), then per chunk of
 * individuals the likelihood kernel and the first level of the gradient
 * reduction; one copy brings back the per-individual log-likelihoods, the
 * flags and the gradient. The scores come down only when asked. The chunk
 * workspace (R + n_par doubles per individual) is what max_mb limits. */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>
#include "gpu.h"
#include "../engine_draw.h"

/* ---- the self-test of the shared maths (gpu_selftest in R) ----------------- */

__global__ static void selftest_cells_kernel(int n, int logit, const double *lo,
                                             const double *hi, double *logp) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) logp[i] = iclv_ordered_cell(logit, lo[i], hi[i], 0.0, 1.0).logp;
}

#define CUDA_TRY(call)                                                        \
  do {                                                                        \
    cudaError_t rc_ = (call);                                                 \
    if (rc_ != cudaSuccess) {                                                 \
      snprintf(err, errlen, "%s: %s", #call, cudaGetErrorString(rc_));        \
      goto fail;                                                              \
    }                                                                         \
  } while (0)

extern "C" int gpu_selftest_cells(int n, int logit, const double *lo, const double *hi,
                                  double *logp, char *err, size_t errlen) {
  double *d_lo = NULL, *d_hi = NULL, *d_out = NULL;
  size_t bytes = (size_t) n * sizeof(double);
  int status = 1;
  CUDA_TRY(cudaMalloc((void **) &d_lo, bytes));
  CUDA_TRY(cudaMalloc((void **) &d_hi, bytes));
  CUDA_TRY(cudaMalloc((void **) &d_out, bytes));
  CUDA_TRY(cudaMemcpy(d_lo, lo, bytes, cudaMemcpyHostToDevice));
  CUDA_TRY(cudaMemcpy(d_hi, hi, bytes, cudaMemcpyHostToDevice));
  selftest_cells_kernel<<<(n + 127) / 128, 128>>>(n, logit, d_lo, d_hi, d_out);
  CUDA_TRY(cudaGetLastError());
  CUDA_TRY(cudaMemcpy(logp, d_out, bytes, cudaMemcpyDeviceToHost));
  status = 0;
fail:
  cudaFree(d_lo);
  cudaFree(d_hi);
  cudaFree(d_out);
  return status;
}

/* ---- the model on the device ------------------------------------------------ */

/* Individuals per group of the first gradient reduction level, and groups per
 * group of the next levels. Chunks are multiples of it. */
#define GROUP 32
#define WARP 32
#define FULL_MASK 0xffffffffu
/* Values reduced by one pass of warp shuffles. */
#define RED_BATCH 4
#define MAX_THREADS 256
#define DEFAULT_SHARED (48 * 1024)

/* The kernels take the engine's inputs (engine.h: the same structs as the
 * CPU engine, with device pointers) by value, as a __grid_constant__
 * parameter, so taking their address does not copy them. */

/* theta -> per-evaluation quantities, the threads of one block sharing the
 * entries. */
__global__ static void view_kernel(const __grid_constant__ iclv_inputs m) {
  iclv_fill_view(&m, threadIdx.x, blockDim.x);
}

/* ---- the sink of the per-point derivatives: a reduction over the warp ------- */

/* Up to RED_BATCH contributions waiting for one pass of shuffles. `count`
 * and the targets are the same in every lane (they depend on the plan and
 * the person, never on the point), so the branches on them are uniform. */
struct iclv_sink {
  double value[RED_BATCH], scale[RED_BATCH];
  int target[RED_BATCH];
  int count;
  double *row; /* this warp's row of the shared n_warps x n_par table */
  int lane;
  const iclv_inputs *m;
  const iclv_person *ind;
};

/* Sums the queued contributions over the warp; lane 0 adds them to its row. */
static __device__ __forceinline__ void sink_flush(iclv_sink *rd) {
  if (rd->count == 0) return;
#pragma unroll
  for (int offset = WARP / 2; offset > 0; offset >>= 1) {
#pragma unroll
    for (int i = 0; i < RED_BATCH; i++)
      if (i < rd->count) rd->value[i] += __shfl_down_sync(FULL_MASK, rd->value[i], offset);
  }
  if (rd->lane == 0) {
#pragma unroll
    for (int i = 0; i < RED_BATCH; i++)
      if (i < rd->count) iclv_deliver(rd->m, rd->ind, rd->row, rd->target[i], rd->scale[i], rd->value[i]);
  }
  rd->count = 0;
}

/* Queues one contribution (this lane's weighted value); selects rather than
 * an indexed store keep the batch in registers. Device code only: the host
 * never runs a kernel's sink. */
ICLV_INLINE_HOST_DEVICE void iclv_sink_push(iclv_sink *rd, int target, double scale, double value) {
#ifdef __CUDA_ARCH__
#pragma unroll
  for (int i = 0; i < RED_BATCH; i++) {
    if (i == rd->count) {
      rd->value[i] = value;
      rd->scale[i] = scale;
      rd->target[i] = target;
    }
  }
  if (++rd->count == RED_BATCH) sink_flush(rd);
#endif
}

/* ---- the likelihood kernel ----------------------------------------------------- */

/* Shared memory of one block, in doubles. */
static size_t shared_doubles(int gradient, int threads, int n_lv, int n_par, int max_tasks,
                             int n_alt) {
  const size_t warps = (size_t) threads / WARP;
  size_t total = (size_t) n_lv * threads + n_lv + (size_t) max_tasks * n_alt + 2 * warps + 2;
  if (gradient) total += warps * n_par + (size_t) n_lv * threads;
  return total;
}

/* Block b evaluates individual n0 + b. Outputs: loglik[n], flag[n] (1 when
 * the signed weights summed to <= 0), and with GRADIENT the row
 * rows[b * n_par ...] of dLL_n/dtheta. loglik_draw: n_draws doubles per block
 * of the chunk. The minimum blocks per SM bound the registers (255 for the
 * gradient, 64 for the log-likelihood): without them ptxas (nvcc 13) picks
 * fewer registers and spills (notes/gpu.md). */
template <bool GRADIENT>
__global__ static void __launch_bounds__(MAX_THREADS, GRADIENT ? 1 : 4)
    likelihood_kernel(const __grid_constant__ iclv_inputs m, int n0, int with_choice,
                      double *loglik_draw, double *loglik, double *flag, double *rows) {
  extern __shared__ double shared[];
  const int T = blockDim.x, tid = threadIdx.x, lane = tid % WARP, warp = tid / WARP;
  const int n_warps = T / WARP;
  const int L = m.plan.n_lv, P = m.plan.n_par, R = m.draws.n_draws, J = m.plan.n_alt;
  const int block = blockIdx.x, n = n0 + block;

  double *red_table = shared;                          /* n_warps x P (GRADIENT) */
  double *lv = red_table + (GRADIENT ? (size_t) n_warps * P : 0); /* L x T */
  double *dlv = lv + (size_t) L * T;                   /* L x T (GRADIENT) */
  double *lv_mean = dlv + (GRADIENT ? (size_t) L * T : 0); /* L */
  double *task_base = lv_mean + L;                     /* max_tasks x J */
  double *pairs = task_base + (size_t) m.data.max_tasks * J; /* 2 x n_warps + 2 */

  /* The person's latent means and base utilities, shared by its threads;
   * each thread's latent variables and adjoints in a column of `lv`, `dlv`. */
  iclv_person ind = iclv_person_of(&m, n, with_choice);
  iclv_person_fill(&m, &ind, lv_mean, task_base, tid, T);
  ind.lv_mean = lv_mean;
  ind.task_base = task_base;
  ind.lv = lv + tid;
  ind.dlv = dlv + tid;
  ind.stride = T;
  if (GRADIENT)
    for (int i = tid; i < n_warps * P; i += T) red_table[i] = 0.0;
  __syncthreads();

  /* Pass 1: l_r per draw, and this thread's online (max, sum). */
  const double *log_weight = m.draws.log_weight + (size_t) n * m.draws.weight_stride;
  const double *weight_sign =
      m.draws.weight_sign ? m.draws.weight_sign + (size_t) n * m.draws.weight_stride : NULL;
  double *my_draws = GRADIENT ? loglik_draw + (size_t) block * R : NULL;
  double top = -INFINITY, sum = 0.0;
  for (int r = tid; r < R; r += T) {
    const double l_r = log_weight[r] + iclv_draw_loglik(&m, &ind, r);
    if (GRADIENT) my_draws[r] = l_r;
    iclv_softmax_add(&top, &sum, l_r, weight_sign ? weight_sign[r] : 1.0);
  }
  /* Block max and sum: a shuffle tree per warp, then warp 0's results in order. */
#pragma unroll
  for (int offset = WARP / 2; offset > 0; offset >>= 1) {
    const double other_top = __shfl_down_sync(FULL_MASK, top, offset);
    const double other_sum = __shfl_down_sync(FULL_MASK, sum, offset);
    iclv_softmax_merge(&top, &sum, other_top, other_sum);
  }
  if (lane == 0) {
    pairs[2 * warp] = top;
    pairs[2 * warp + 1] = sum;
  }
  __syncthreads();
  if (tid == 0) {
    double block_top = pairs[0], block_sum = pairs[1];
    for (int w = 1; w < n_warps; w++)
      iclv_softmax_merge(&block_top, &block_sum, pairs[2 * w], pairs[2 * w + 1]);
    pairs[2 * n_warps] = block_top;
    pairs[2 * n_warps + 1] = block_sum;
  }
  __syncthreads();
  const double run_max = pairs[2 * n_warps], run_sum = pairs[2 * n_warps + 1];
  const int nonpositive = iclv_weights_nonpositive(run_sum);
  if (tid == 0) {
    loglik[n] = iclv_person_loglik(run_max, run_sum);
    flag[n] = nonpositive ? 1.0 : 0.0;
  }
  if (!GRADIENT) return;

  double *row = rows + (size_t) block * P;
  if (nonpositive) { /* uniform over the block */
    for (int p = tid; p < P; p += T) row[p] = 0.0;
    return;
  }

  /* Pass 2: rounds of T draws; a lane past the last draw repeats draw 0
   * with weight 0, so every lane takes part in the shuffles. */
  iclv_sink rd;
  rd.count = 0;
  rd.row = red_table + (size_t) warp * P;
  rd.lane = lane;
  rd.m = &m;
  rd.ind = &ind;
  for (int r0 = 0; r0 < R; r0 += T) {
    const int r = r0 + tid < R ? r0 + tid : 0;
    const double w = r0 + tid < R
                         ? iclv_point_weight(my_draws[r], run_max, weight_sign ? weight_sign[r] : 1.0)
                         : 0.0;
    iclv_draw_gradient(&m, &ind, &rd, w, r);
    sink_flush(&rd);
  }
  __syncthreads();
  for (int p = tid; p < P; p += T) {
    double total = 0.0;
    for (int w = 0; w < n_warps; w++) total += red_table[(size_t) w * P + p];
    row[p] = total / run_sum;
  }
}

/* out[g][p] = sum of in[i][p] over rows i of group g (GROUP rows), in row
 * order: one level of the fixed reduction tree over individuals. */
__global__ static void sum_rows_kernel(const double *in, int n_rows, int n_par, double *out) {
  const int group = blockIdx.x;
  const int p = blockIdx.y * blockDim.x + threadIdx.x;
  if (p >= n_par) return;
  const int end = min(n_rows, (group + 1) * GROUP);
  double total = 0.0;
  for (int i = group * GROUP; i < end; i++) total += in[(size_t) i * n_par + p];
  out[(size_t) group * n_par + p] = total;
}

/* ---- the host side ---------------------------------------------------------------- */

#define MAX_ALLOCS 64

struct cuda_engine {
  int device;
  cudaStream_t stream;
  iclv_inputs m; /* device pointers */
  int threads;               /* per block */
  size_t shared_ll, shared_grad; /* dynamic shared memory per block, bytes */
  int chunk;                 /* individuals per launch: N, or a multiple of GROUP */
  double max_mb;
  void *allocs[MAX_ALLOCS];  /* fixed device buffers... */
  size_t alloc_bytes[MAX_ALLOCS];
  int n_allocs;
  double *d_theta, *d_partial_a, *d_partial_b, *d_out; /* d_out: 2N + P */
  double *d_loglik_draw, *d_rows; /* the chunk workspace (rebuildable) */
  size_t workspace_bytes;
  double *h_theta, *h_out;   /* pinned host buffers */
  int fail_at, call_count;   /* test hook */
};

/* Checks a CUDA call of the host code: on failure writes "<what>: <reason>"
 * and jumps to `fail`. During an evaluation the test hook can turn the k-th
 * checked call into a failure. */
#define CHECK(call, what)                                                          \
  do {                                                                             \
    cudaError_t rc_ = (call);                                                      \
    if (!check_ok(g, rc_, what, err, errlen)) goto fail;                           \
  } while (0)

static bool check_ok(cuda_engine *g, cudaError_t rc, const char *what, char *err, size_t errlen) {
  const char *injected = "";
  if (rc == cudaSuccess && g != NULL && g->fail_at > 0 && ++g->call_count == g->fail_at) {
    rc = cudaErrorMemoryAllocation;
    injected = " [injected by cuda_engine_fail_next]";
  }
  if (rc == cudaSuccess) return true;
  snprintf(err, errlen, "%s failed: %s%s", what, cudaGetErrorString(rc), injected);
  return false;
}

/* cudaMalloc, checked; when the check fails (an injected failure included)
 * nothing stays allocated. */
static int checked_malloc(cuda_engine *g, void **ptr, size_t bytes, const char *what, char *err,
                          size_t errlen) {
  void *fresh = NULL;
  if (!check_ok(g, cudaMalloc(&fresh, bytes), what, err, errlen)) {
    cudaFree(fresh);
    *ptr = NULL;
    return 1;
  }
  *ptr = fresh;
  return 0;
}

/* A fixed buffer, listed for cuda_engine_free(). */
static int device_alloc(cuda_engine *g, void **ptr, size_t bytes, const char *name, char *err,
                        size_t errlen) {
  char what[160];
  if (bytes == 0) bytes = sizeof(double); /* a valid pointer for empty arrays */
  snprintf(what, sizeof what, "cudaMalloc(%s, %.1f MB)", name, bytes / 1048576.0);
  *ptr = NULL;
  if (g->n_allocs >= MAX_ALLOCS) {
    snprintf(err, errlen,
             "internal error: the GPU engine's table of %d device buffers is full at %s "
             "(raise MAX_ALLOCS in src/cuda/engine_cuda.cu)", MAX_ALLOCS, what);
    return 1;
  }
  if (checked_malloc(g, ptr, bytes, what, err, errlen)) return 1;
  g->allocs[g->n_allocs] = *ptr;
  g->alloc_bytes[g->n_allocs++] = bytes;
  return 0;
}

/* Allocates and fills a device copy of `count` elements of `size` bytes. */
static int upload(cuda_engine *g, void **dst, const void *src, size_t count, size_t size,
                  const char *name, char *err, size_t errlen) {
  void *ptr = NULL;
  char what[160];
  if (device_alloc(g, &ptr, count * size, name, err, errlen)) return 1;
  snprintf(what, sizeof what, "cudaMemcpy(%s to device)", name);
  if (count > 0) CHECK(cudaMemcpy(ptr, src, count * size, cudaMemcpyHostToDevice), what);
  *dst = ptr;
  return 0;
fail:
  return 1;
}

static double *alloc_doubles(cuda_engine *g, size_t count, const char *name, char *err,
                             size_t errlen) {
  void *ptr = NULL;
  if (device_alloc(g, &ptr, count * sizeof(double), name, err, errlen)) return NULL;
  return (double *) ptr;
}

static size_t fixed_bytes(const cuda_engine *g) {
  size_t total = 0;
  for (int i = 0; i < g->n_allocs; i++) total += g->alloc_bytes[i];
  return total;
}

/* Individuals per launch under max_mb, given the fixed buffers: a multiple
 * of GROUP, at least GROUP, at most N. */
static int chunk_for_limit(const cuda_engine *g, double max_mb) {
  const int N = g->m.data.n_indiv;
  const double per_indiv = ((double) g->m.draws.n_draws + g->m.plan.n_par) * sizeof(double);
  if (!(max_mb > 0.0) || !std::isfinite(max_mb)) return N;
  const double room = max_mb * 1048576.0 - (double) fixed_bytes(g);
  double fit = room / per_indiv;
  if (fit >= N) return N;
  int chunk = fit < GROUP ? GROUP : (int) (fit / GROUP) * GROUP;
  return chunk >= N ? N : chunk;
}

/* The chunk workspace, when it is not there (first build, or after
 * cuda_engine_release()). */
static int alloc_workspace(cuda_engine *g, char *err, size_t errlen) {
  const size_t chunk = (size_t) g->chunk;
  const size_t draws_bytes = chunk * g->m.draws.n_draws * sizeof(double);
  const size_t rows_bytes = chunk * g->m.plan.n_par * sizeof(double);
  char what[160];
  if (g->d_loglik_draw == NULL) {
    snprintf(what, sizeof what, "cudaMalloc(per-draw log-likelihoods, %.1f MB)",
             draws_bytes / 1048576.0);
    if (checked_malloc(g, (void **) &g->d_loglik_draw, draws_bytes, what, err, errlen)) return 1;
    g->workspace_bytes += draws_bytes;
  }
  if (g->d_rows == NULL) {
    snprintf(what, sizeof what, "cudaMalloc(gradient rows, %.1f MB)", rows_bytes / 1048576.0);
    if (checked_malloc(g, (void **) &g->d_rows, rows_bytes, what, err, errlen)) return 1;
    g->workspace_bytes += rows_bytes;
  }
  return 0;
}

static void free_workspace(cuda_engine *g) {
  cudaFree(g->d_loglik_draw);
  cudaFree(g->d_rows);
  g->d_loglik_draw = NULL;
  g->d_rows = NULL;
  g->workspace_bytes = 0;
}

extern "C" void cuda_engine_free(cuda_engine *g) {
  if (g == NULL) return;
  /* Best effort: a failed call here has nothing better to do than go on. */
  cudaSetDevice(g->device);
  if (g->stream != NULL) cudaStreamSynchronize(g->stream);
  free_workspace(g);
  for (int i = 0; i < g->n_allocs; i++) cudaFree(g->allocs[i]);
  if (g->h_theta != NULL) cudaFreeHost(g->h_theta);
  if (g->h_out != NULL) cudaFreeHost(g->h_out);
  if (g->stream != NULL) cudaStreamDestroy(g->stream);
  cudaGetLastError(); /* leave no error behind for the next caller */
  free(g);
}

/* Threads per block: a multiple of the warp covering the draws, at most
 * MAX_THREADS, fewer when the shared memory would not fit the default 48 KB. */
static int choose_threads(cuda_engine *g, size_t optin_bytes, char *err, size_t errlen) {
  const iclv_plan &p = g->m.plan;
  const int max_tasks = g->m.data.max_tasks;
  int threads = (g->m.draws.n_draws + WARP - 1) / WARP * WARP;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  for (;;) {
    g->shared_grad = sizeof(double) * shared_doubles(1, threads, p.n_lv, p.n_par, max_tasks, p.n_alt);
    g->shared_ll = sizeof(double) * shared_doubles(0, threads, p.n_lv, p.n_par, max_tasks, p.n_alt);
    if (g->shared_grad <= DEFAULT_SHARED || threads == WARP) break;
    threads -= WARP;
  }
  g->threads = threads;
  if (g->shared_grad > DEFAULT_SHARED) {
    if (g->shared_grad > optin_bytes) {
      snprintf(err, errlen,
               "the model is too large for the GPU kernels: %.1f KB of shared memory per block "
               "(device limit %.1f KB)", g->shared_grad / 1024.0, optin_bytes / 1024.0);
      return 1;
    }
    CHECK(cudaFuncSetAttribute(likelihood_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               (int) g->shared_grad),
          "cudaFuncSetAttribute(likelihood kernel, shared memory)");
  }
  return 0;
fail:
  return 1;
}

extern "C" int cuda_engine_create(const iclv_engine *host, double max_mb, cuda_engine **out,
                                 char *err, size_t errlen) {
  *out = NULL;
  const iclv_plan *p = &host->plan;
  const iclv_data *d = &host->data;
  const iclv_draws *dr = &host->draws;
  const int N = d->n_indiv, L = p->n_lv, J = p->n_alt;
  const int P = p->n_par, T = d->n_tasks;
  if (dr->n_dim != L) {
    snprintf(err, errlen, "the draws have %d dimensions for %d latent variables", dr->n_dim, L);
    return 1;
  }
  if ((size_t) T * J >= (size_t) ICLV_TARGET_INDEX_MASK) {
    snprintf(err, errlen, "too many tasks x alternatives for the GPU kernels");
    return 1;
  }
  cuda_engine *g = (cuda_engine *) calloc(1, sizeof(cuda_engine));
  if (g == NULL) {
    snprintf(err, errlen, "out of memory building the GPU engine");
    return 1;
  }
  g->fail_at = 0;
  g->max_mb = max_mb;
  int optin = 0;
  /* The counts from the host engine; every array pointer is replaced below
   * by its device copy. */
  iclv_inputs &m = g->m;
  m.plan = host->plan;
  m.data = host->data;
  m.draws = host->draws;

  CHECK(cudaGetDevice(&g->device), "cudaGetDevice");
  CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, g->device),
        "cudaDeviceGetAttribute(shared memory per block)");
  CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), "cudaStreamCreate");

#define UPLOAD(type, name, count, where)                                                 \
  if (upload(g, (void **) &m.where.name, p->name, (size_t) (count), sizeof(type), #name, \
             err, errlen))                                                               \
    goto fail;
#define UPLOAD_PLAN(type, name, count) UPLOAD(type, name, count, plan)
  ICLV_PLAN_ARRAYS(UPLOAD_PLAN)
  ICLV_PLAN_DERIVED_ARRAYS(UPLOAD_PLAN)
#undef UPLOAD
#define UPLOAD(type, name, count, where)                                                 \
  if (upload(g, (void **) &m.where.name, d->name, (size_t) (count), sizeof(type), #name, \
             err, errlen))                                                               \
    goto fail;
#define UPLOAD_DATA(type, name, n_rows, n_cols) UPLOAD(type, name, (size_t) (n_rows) * (n_cols), data)
#define UPLOAD_DATA_DERIVED(type, name, count) UPLOAD(type, name, count, data)
  ICLV_DATA_ARRAYS(UPLOAD_DATA)
  ICLV_DATA_DERIVED_ARRAYS(UPLOAD_DATA_DERIVED)
#undef UPLOAD
#define UPLOAD_DRAWS(type, name, count)                                                \
  if ((count) > 0 && upload(g, (void **) &m.draws.name, dr->name, (size_t) (count),   \
                            sizeof(type), #name, err, errlen))                         \
    goto fail;
  ICLV_DRAWS_ARRAYS(UPLOAD_DRAWS)
#undef UPLOAD_DRAWS

  /* Per-evaluation buffers: theta, its view, the reduction levels, results. */
#define ALLOC_VIEW(type, name, count)                                                    \
  if (device_alloc(g, (void **) &m.view.name, sizeof(type) * (size_t) (count), #name " view", \
                   err, errlen))                                                         \
    goto fail;
  ICLV_VIEW_ARRAYS(ALLOC_VIEW)
#undef ALLOC_VIEW
  {
    const size_t n_groups = ((size_t) N + GROUP - 1) / GROUP;
    const size_t n_groups2 = (n_groups + GROUP - 1) / GROUP;
    if ((g->d_theta = alloc_doubles(g, P, "theta", err, errlen)) == NULL ||
        (g->d_partial_a = alloc_doubles(g, n_groups * P, "gradient partial sums", err, errlen)) == NULL ||
        (g->d_partial_b = alloc_doubles(g, n_groups2 * P, "gradient partial sums", err, errlen)) == NULL ||
        (g->d_out = alloc_doubles(g, 2 * (size_t) N + P, "results", err, errlen)) == NULL)
      goto fail;
  }
  m.theta = g->d_theta;
  CHECK(cudaMallocHost((void **) &g->h_theta, sizeof(double) * P), "cudaMallocHost(theta)");
  CHECK(cudaMallocHost((void **) &g->h_out, sizeof(double) * (2 * (size_t) N + P)),
        "cudaMallocHost(results)");

  if (choose_threads(g, (size_t) optin, err, errlen)) goto fail;
  g->chunk = chunk_for_limit(g, max_mb);
  if (alloc_workspace(g, err, errlen)) goto fail;
  *out = g;
  return 0;

fail:
  cuda_engine_free(g);
  return 1;
}

extern "C" double cuda_engine_device_bytes(const cuda_engine *g) {
  if (g == NULL) return 0.0;
  return (double) fixed_bytes(g) + (double) g->workspace_bytes;
}

extern "C" void cuda_engine_layout(const cuda_engine *g, int *chunk, int *threads) {
  *chunk = g ? g->chunk : 0;
  *threads = g ? g->threads : 0;
}

extern "C" int cuda_engine_release(cuda_engine *g, double *freed_mb) {
  *freed_mb = 0.0;
  if (g == NULL) return 0;
  cudaSetDevice(g->device);
  if (g->stream != NULL) cudaStreamSynchronize(g->stream);
  *freed_mb = g->workspace_bytes / 1048576.0;
  free_workspace(g);
  /* The rebuilt workspace is half as large. */
  if (g->chunk > GROUP) {
    int half = g->chunk / 2 / GROUP * GROUP;
    g->chunk = half < GROUP ? GROUP : half;
  }
  return 0;
}

extern "C" void cuda_engine_fail_next(cuda_engine *g, int call_index) {
  if (g == NULL) return;
  g->fail_at = call_index > 0 ? call_index : 0;
  g->call_count = 0;
}

/* Launch-configuration errors show at once; errors while a kernel runs show
 * at the next synchronising call (cudaStreamSynchronize below). */
#define LAUNCHED(what) CHECK(cudaGetLastError(), what)

extern "C" int cuda_engine_eval(cuda_engine *g, const double *theta, int gradient, int choice,
                                int want_scores, double *loglik, double *loglik_indiv,
                                double *grad, double *scores, int *nonpositive,
                                int *n_nonpositive, char *err, size_t errlen) {
  const iclv_inputs &m = g->m;
  const int N = m.data.n_indiv, P = m.plan.n_par;
  const int with_choice = choice && m.data.n_tasks > 0;
  if (want_scores) gradient = 1;
  const size_t n_out = 2 * (size_t) N + (gradient ? P : 0);
  int status = 1;
  g->call_count = 0;

  CHECK(cudaSetDevice(g->device), "cudaSetDevice");
  /* Rebuild what cuda_engine_release() dropped. */
  if (gradient && alloc_workspace(g, err, errlen)) goto fail;
  memcpy(g->h_theta, theta, sizeof(double) * P);
  CHECK(cudaMemcpyAsync(g->d_theta, g->h_theta, sizeof(double) * P, cudaMemcpyHostToDevice,
                        g->stream),
        "cudaMemcpyAsync(theta to device)");
  view_kernel<<<1, 128, 0, g->stream>>>(m);
  LAUNCHED("view_kernel launch");

  for (int n0 = 0; n0 < N; n0 += g->chunk) {
    const int n_chunk = N - n0 < g->chunk ? N - n0 : g->chunk;
    if (gradient) {
      likelihood_kernel<true><<<n_chunk, g->threads, g->shared_grad, g->stream>>>(
          m, n0, with_choice, g->d_loglik_draw, g->d_out, g->d_out + N, g->d_rows);
      LAUNCHED("likelihood_kernel<gradient> launch");
      /* Chunks start at multiples of GROUP, so these groups are the same
       * for any chunk size. */
      dim3 grid((n_chunk + GROUP - 1) / GROUP, (P + 127) / 128);
      sum_rows_kernel<<<grid, 128, 0, g->stream>>>(g->d_rows, n_chunk, P,
                                                   g->d_partial_a + (size_t) (n0 / GROUP) * P);
      LAUNCHED("sum_rows_kernel launch");
      if (want_scores)
        CHECK(cudaMemcpyAsync(scores + (size_t) n0 * P, g->d_rows,
                              sizeof(double) * n_chunk * P, cudaMemcpyDeviceToHost, g->stream),
              "cudaMemcpyAsync(scores to host)");
    } else {
      likelihood_kernel<false><<<n_chunk, g->threads, g->shared_ll, g->stream>>>(
          m, n0, with_choice, NULL, g->d_out, g->d_out + N, NULL);
      LAUNCHED("likelihood_kernel launch");
    }
  }

  if (gradient) {
    /* The next levels of the tree over groups of individuals. */
    double *from = g->d_partial_a, *to = g->d_partial_b;
    int n_rows = (N + GROUP - 1) / GROUP;
    while (n_rows > 1) {
      const int n_groups = (n_rows + GROUP - 1) / GROUP;
      dim3 grid(n_groups, (P + 127) / 128);
      sum_rows_kernel<<<grid, 128, 0, g->stream>>>(from, n_rows, P, to);
      LAUNCHED("sum_rows_kernel launch");
      double *swap = from;
      from = to;
      to = swap;
      n_rows = n_groups;
    }
    CHECK(cudaMemcpyAsync(g->d_out + 2 * (size_t) N, from, sizeof(double) * P,
                          cudaMemcpyDeviceToDevice, g->stream),
          "cudaMemcpyAsync(gradient to results)");
  }
  CHECK(cudaMemcpyAsync(g->h_out, g->d_out, sizeof(double) * n_out, cudaMemcpyDeviceToHost,
                        g->stream),
        "cudaMemcpyAsync(results to host)");
  CHECK(cudaStreamSynchronize(g->stream), "cudaStreamSynchronize(evaluation)");

  {
    double total = 0.0;
    int flagged = 0;
    for (int n = 0; n < N; n++) {
      total += g->h_out[n];
      nonpositive[n] = g->h_out[N + n] != 0.0;
      flagged += nonpositive[n];
    }
    *loglik = total;
    memcpy(loglik_indiv, g->h_out, sizeof(double) * N);
    *n_nonpositive = flagged;
    if (gradient && grad != NULL) memcpy(grad, g->h_out + 2 * (size_t) N, sizeof(double) * P);
  }
  status = 0;
  g->fail_at = 0;
  return status;

fail:
  /* Leave the stream idle and clear a non-sticky error, so the engine can
   * be evaluated again (or freed) after a failure. */
  g->fail_at = 0;
  cudaStreamSynchronize(g->stream);
  cudaGetLastError();
  return status;
}
