/* The CUDA backend of the likelihood engine: the simulated log-likelihood, its
 * analytic gradient and the per-individual scores in double precision, with
 * the per-(individual, draw) maths of iclv_math.h (vignette "likelihood", sections 1-2).
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
 * Memory. Plan, data and draws go to the device once (gpu_engine_create). An
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
#include "../iclv_math.h"

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

/* Device pointers and counts, passed to the kernels by value (as a
 * __grid_constant__ parameter, so taking references does not copy it). The
 * arrays mirror engine.h; the *_v arrays are derived from theta per
 * evaluation by view_kernel. */
struct dev_model {
  int n_indiv, n_lv, n_ind, n_cov, n_alt, n_term, n_par, n_draws, max_tasks, n_tasks;
  size_t weight_stride;
  const int *lv_alpha, *lv_sigma, *lv_cov_ptr, *lv_cov_col, *lv_cov_par;
  const int *lv_path_ptr, *lv_path_from, *lv_path_par;
  const int *ind_family, *ind_intercept, *ind_scale, *ind_load_ptr, *ind_load_lv, *ind_load_par;
  const int *ind_thr_ptr, *ind_thr_par, *ind_tau_ptr;
  const double *ind_thr_sign;
  const int *util_par, *util_lv, *alt_term_ptr, *alt_term, *alt_n_fixed;
  const int *ind_cat, *task_ptr, *choice, *avail_ptr, *avail_alt;
  const double *ind_value, *covariates, *term_value;
  const double *eta, *log_weight, *weight_sign; /* weight_sign NULL: all positive */
  const double *theta;
  double *lv_sigma_v, *lv_path_v, *ind_intercept_v, *ind_inv_scale_v, *ind_log_scale_v;
  double *ind_load_v, *ind_tau_v;
};

/* theta -> per-evaluation quantities, as prepare_theta_view() in engine.c. */
__global__ static void view_kernel(const __grid_constant__ dev_model m) {
  const double *theta = m.theta;
  for (int l = threadIdx.x; l < m.n_lv; l += blockDim.x)
    m.lv_sigma_v[l] = m.lv_sigma[l] >= 0 ? theta[m.lv_sigma[l]] : 1.0;
  for (int i = threadIdx.x; i < m.lv_path_ptr[m.n_lv]; i += blockDim.x)
    m.lv_path_v[i] = theta[m.lv_path_par[i]];
  for (int i = threadIdx.x; i < m.ind_load_ptr[m.n_ind]; i += blockDim.x)
    m.ind_load_v[i] = theta[m.ind_load_par[i]];
  for (int k = threadIdx.x; k < m.n_ind; k += blockDim.x) {
    const double scale = m.ind_scale[k] >= 0 ? theta[m.ind_scale[k]] : 1.0;
    m.ind_intercept_v[k] = m.ind_intercept[k] >= 0 ? theta[m.ind_intercept[k]] : 0.0;
    m.ind_inv_scale_v[k] = 1.0 / scale;
    m.ind_log_scale_v[k] = log(scale);
    double *tau = m.ind_tau_v + m.ind_tau_ptr[k];
    const int first = m.ind_thr_ptr[k], n_thr = m.ind_thr_ptr[k + 1] - first;
    tau[0] = -INFINITY;
    for (int j = 0; j < n_thr; j++) tau[j + 1] = m.ind_thr_sign[first + j] * theta[m.ind_thr_par[first + j]];
    tau[n_thr + 1] = INFINITY;
  }
}

/* What one block knows about its individual. */
struct indiv {
  int n;            /* global index */
  int first_task, n_tasks;
  const int *answer;      /* n_ind */
  const double *value;    /* n_ind */
  const double *x;        /* n_cov */
  const double *lv_mean;  /* shared, n_lv */
  const double *task_base; /* shared, n_tasks x n_alt: LV-free utility parts */
  double *lv;             /* shared column of this thread: lv[l * stride] */
  double *dlv;            /* shared column of adjoints (pass 2) */
  int stride;             /* = threads per block */
};

static __device__ __forceinline__ bool answered(const dev_model &m, const indiv &ind, int k) {
  return m.ind_family[k] == ICLV_FAMILY_CONTINUOUS ? !isnan(ind.value[k]) : ind.answer[k] != 0;
}

/* Structural equations, forward in order, for draw r (block_latent()). */
static __device__ __forceinline__ void draw_latent(const dev_model &m, const indiv &ind, int r) {
  const int L = m.n_lv, R = m.n_draws;
  for (int l = 0; l < L; l++) {
    double v = ind.lv_mean[l] + m.lv_sigma_v[l] * m.eta[((size_t) ind.n * L + l) * R + r];
    for (int i = m.lv_path_ptr[l]; i < m.lv_path_ptr[l + 1]; i++)
      v += m.lv_path_v[i] * ind.lv[m.lv_path_from[i] * ind.stride];
    ind.lv[l * ind.stride] = v;
  }
}

/* mu = a_k + sum_l zeta_kl LV_l (block_mu()). */
static __device__ __forceinline__ double indicator_mean(const dev_model &m, const indiv &ind, int k) {
  double mu = m.ind_intercept_v[k];
  for (int i = m.ind_load_ptr[k]; i < m.ind_load_ptr[k + 1]; i++)
    mu += m.ind_load_v[i] * ind.lv[m.ind_load_lv[i] * ind.stride];
  return mu;
}

/* The cell (ordered) or density (continuous) of indicator k, from iclv_math.h. */
static __device__ __forceinline__ iclv_cell indicator_cell(const dev_model &m, const indiv &ind, int k,
                                                    double mu) {
  const int family = m.ind_family[k];
  const double inv_scale = m.ind_inv_scale_v[k];
  if (family == ICLV_FAMILY_CONTINUOUS)
    return iclv_normal_density(ind.value[k], mu, inv_scale, m.ind_log_scale_v[k]);
  const double *tau = m.ind_tau_v + m.ind_tau_ptr[k];
  const int j = ind.answer[k];
  return iclv_ordered_cell(family == ICLV_FAMILY_LOGIT, tau[j - 1], tau[j], mu, inv_scale);
}

/* Utility of alternative j in the individual's task tl for the current draw
 * (block_utility()): the LV-free part plus the terms with a latent variable. */
static __device__ __forceinline__ double utility(const dev_model &m, const indiv &ind, int tl, int j) {
  const double *value = m.term_value + (size_t) (ind.first_task + tl) * m.n_term;
  double u = ind.task_base[tl * m.n_alt + j];
  for (int i = m.alt_term_ptr[j]; i < m.alt_term_ptr[j + 1]; i++) {
    const int term = m.alt_term[i], l = m.util_lv[term];
    if (l < 0) continue;
    u += m.theta[m.util_par[term]] * value[term] * ind.lv[l * ind.stride];
  }
  return u;
}

/* Max and sum of exp(V - max) over the available alternatives of task tl. */
static __device__ __forceinline__ void task_logsumexp(const dev_model &m, const indiv &ind, int tl,
                                               double *vmax, double *vsum) {
  const int t = ind.first_task + tl;
  double top = -INFINITY, sum = 0.0;
  for (int a = m.avail_ptr[t]; a < m.avail_ptr[t + 1]; a++)
    top = iclv_max(top, utility(m, ind, tl, m.avail_alt[a]));
  for (int a = m.avail_ptr[t]; a < m.avail_ptr[t + 1]; a++)
    sum += exp(utility(m, ind, tl, m.avail_alt[a]) - top);
  *vmax = top;
  *vsum = sum;
}

/* Pass 1: l_r without the draw weight. */
static __device__ double draw_loglik(const dev_model &m, const indiv &ind, int r, int with_choice) {
  draw_latent(m, ind, r);
  double total = 0.0;
  for (int k = 0; k < m.n_ind; k++) {
    if (!answered(m, ind, k)) continue;
    total += indicator_cell(m, ind, k, indicator_mean(m, ind, k)).logp;
  }
  if (with_choice) {
    for (int tl = 0; tl < ind.n_tasks; tl++) {
      double vmax, vsum;
      task_logsumexp(m, ind, tl, &vmax, &vsum);
      const int chosen = m.choice[ind.first_task + tl];
      total += utility(m, ind, tl, chosen) - vmax - log(vsum);
    }
  }
  return total;
}

/* ---- warp reductions, several values at a time -------------------------------- */

/* A pending contribution's target, packed in an int: kind in the top bits. */
#define TARGET_PARAM 0     /* one parameter, times `scale` */
#define TARGET_ALT 1       /* the LV-free terms of alternative j in task tl: index tl * J + j */
#define TARGET_LV_TOTAL 2  /* alpha and covariate paths of latent l */
#define TARGET_SHIFT 28
#define TARGET_INDEX_MASK ((1 << TARGET_SHIFT) - 1)

/* Up to RED_BATCH values waiting for one pass of shuffles. `count` and the
 * targets are the same in every lane (they depend on the plan and the
 * individual, never on the draw), so the branches on them are uniform. */
struct reducer {
  double value[RED_BATCH], scale[RED_BATCH];
  int target[RED_BATCH];
  int count;
  double *row; /* this warp's row of the shared n_warps x n_par table */
  int lane;
};

/* Lane 0 adds a reduced value where it belongs (grad_add() and friends). */
static __device__ __forceinline__ void deliver(const dev_model &m, const indiv &ind, double *row,
                                        int target, double scale, double sum) {
  const int kind = target >> TARGET_SHIFT, index = target & TARGET_INDEX_MASK;
  if (kind == TARGET_PARAM) {
    row[index] += scale * sum;
  } else if (kind == TARGET_ALT) {
    const int tl = index / m.n_alt, j = index % m.n_alt;
    const double *value = m.term_value + (size_t) (ind.first_task + tl) * m.n_term;
    for (int i = m.alt_term_ptr[j]; i < m.alt_term_ptr[j + 1]; i++) {
      const int term = m.alt_term[i];
      if (m.util_lv[term] < 0) row[m.util_par[term]] += value[term] * sum;
    }
  } else {
    const int l = index;
    if (m.lv_alpha[l] >= 0) row[m.lv_alpha[l]] += sum;
    for (int i = m.lv_cov_ptr[l]; i < m.lv_cov_ptr[l + 1]; i++)
      row[m.lv_cov_par[i]] += sum * ind.x[m.lv_cov_col[i]];
  }
}

static __device__ __forceinline__ void reducer_flush(const dev_model &m, const indiv &ind, reducer &rd) {
  if (rd.count == 0) return;
#pragma unroll
  for (int offset = WARP / 2; offset > 0; offset >>= 1) {
#pragma unroll
    for (int i = 0; i < RED_BATCH; i++)
      if (i < rd.count) rd.value[i] += __shfl_down_sync(FULL_MASK, rd.value[i], offset);
  }
  if (rd.lane == 0) {
#pragma unroll
    for (int i = 0; i < RED_BATCH; i++)
      if (i < rd.count) deliver(m, ind, rd.row, rd.target[i], rd.scale[i], rd.value[i]);
  }
  rd.count = 0;
}

/* Queues one contribution (this lane's weighted value); selects rather than
 * an indexed store keep the batch in registers. */
static __device__ __forceinline__ void reducer_push(const dev_model &m, const indiv &ind, reducer &rd,
                                             int kind, int index, double scale, double value) {
  const int target = (kind << TARGET_SHIFT) | index;
#pragma unroll
  for (int i = 0; i < RED_BATCH; i++) {
    if (i == rd.count) {
      rd.value[i] = value;
      rd.scale[i] = scale;
      rd.target[i] = target;
    }
  }
  if (++rd.count == RED_BATCH) reducer_flush(m, ind, rd);
}

static __device__ __forceinline__ void push_param(const dev_model &m, const indiv &ind, reducer &rd,
                                           int param, double scale, double value) {
  if (param >= 0) reducer_push(m, ind, rd, TARGET_PARAM, param, scale, value);
}

/* ---- pass 2: the derivatives of one draw ----------------------------------- */

/* Indicators (gradient_indicators()): w = this draw's weight (0 for a lane
 * without a draw). */
static __device__ void gradient_indicators(const dev_model &m, const indiv &ind, reducer &rd, double w) {
  for (int k = 0; k < m.n_ind; k++) {
    if (!answered(m, ind, k)) continue;
    const iclv_cell cell = indicator_cell(m, ind, k, indicator_mean(m, ind, k));
    const double w_mu = w * cell.d_mu;
    push_param(m, ind, rd, m.ind_intercept[k], 1.0, w_mu);
    push_param(m, ind, rd, m.ind_scale[k], 1.0, w * cell.d_scale);
    if (m.ind_family[k] != ICLV_FAMILY_CONTINUOUS) {
      const int j = ind.answer[k], first = m.ind_thr_ptr[k];
      const int n_thr = m.ind_thr_ptr[k + 1] - first;
      if (j <= n_thr)
        push_param(m, ind, rd, m.ind_thr_par[first + j - 1], m.ind_thr_sign[first + j - 1],
                   w * cell.d_tau_hi);
      if (j >= 2)
        push_param(m, ind, rd, m.ind_thr_par[first + j - 2], m.ind_thr_sign[first + j - 2],
                   w * cell.d_tau_lo);
    }
    for (int i = m.ind_load_ptr[k]; i < m.ind_load_ptr[k + 1]; i++) {
      const int l = m.ind_load_lv[i];
      push_param(m, ind, rd, m.ind_load_par[i], 1.0, w_mu * ind.lv[l * ind.stride]);
      ind.dlv[l * ind.stride] += m.ind_load_v[i] * cell.d_mu;
    }
  }
}

/* Choices (gradient_choices()): dlogP/dV_j = 1[j = y] - P_j. */
static __device__ void gradient_choices(const dev_model &m, const indiv &ind, reducer &rd, double w) {
  const int J = m.n_alt;
  for (int tl = 0; tl < ind.n_tasks; tl++) {
    const int t = ind.first_task + tl;
    const double *value = m.term_value + (size_t) t * m.n_term;
    double vmax, vsum;
    task_logsumexp(m, ind, tl, &vmax, &vsum);
    for (int a = m.avail_ptr[t]; a < m.avail_ptr[t + 1]; a++) {
      const int j = m.avail_alt[a];
      const double prob = exp(utility(m, ind, tl, j) - vmax) / vsum;
      const double dv = (j == m.choice[t] ? 1.0 : 0.0) - prob;
      if (m.alt_n_fixed[j] > 0) reducer_push(m, ind, rd, TARGET_ALT, tl * J + j, 1.0, w * dv);
      for (int i = m.alt_term_ptr[j]; i < m.alt_term_ptr[j + 1]; i++) {
        const int term = m.alt_term[i], l = m.util_lv[term];
        if (l < 0) continue;
        const int par = m.util_par[term];
        push_param(m, ind, rd, par, value[term], w * dv * ind.lv[l * ind.stride]);
        ind.dlv[l * ind.stride] += m.theta[par] * value[term] * dv;
      }
    }
  }
}

/* Structural equations in reverse order (gradient_latent()). */
static __device__ void gradient_latent(const dev_model &m, const indiv &ind, reducer &rd, double w,
                                int r) {
  const int L = m.n_lv, R = m.n_draws;
  for (int l = L - 1; l >= 0; l--) {
    const double dl = ind.dlv[l * ind.stride];
    if (m.lv_alpha[l] >= 0 || m.lv_cov_ptr[l + 1] > m.lv_cov_ptr[l])
      reducer_push(m, ind, rd, TARGET_LV_TOTAL, l, 1.0, w * dl);
    push_param(m, ind, rd, m.lv_sigma[l], 1.0,
               w * dl * m.eta[((size_t) ind.n * L + l) * R + r]);
    for (int i = m.lv_path_ptr[l]; i < m.lv_path_ptr[l + 1]; i++) {
      const int from = m.lv_path_from[i];
      push_param(m, ind, rd, m.lv_path_par[i], 1.0, w * dl * ind.lv[from * ind.stride]);
      ind.dlv[from * ind.stride] += m.lv_path_v[i] * dl;
    }
  }
}

/* ---- the likelihood kernel ----------------------------------------------------- */

/* Combines two (max, sum of exp(x - max)) pairs. */
static __device__ __forceinline__ void softmax_merge(double *top, double *sum, double other_top,
                                              double other_sum) {
  if (other_top == -INFINITY) return;
  if (*top == -INFINITY) {
    *top = other_top;
    *sum = other_sum;
    return;
  }
  const double new_top = iclv_max(*top, other_top);
  *sum = *sum * exp(*top - new_top) + other_sum * exp(other_top - new_top);
  *top = new_top;
}

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
 * of the chunk. */
template <bool GRADIENT>
__global__ static void __launch_bounds__(MAX_THREADS)
    likelihood_kernel(const __grid_constant__ dev_model m, int n0, int with_choice,
                      double *loglik_draw, double *loglik, double *flag, double *rows) {
  extern __shared__ double shared[];
  const int T = blockDim.x, tid = threadIdx.x, lane = tid % WARP, warp = tid / WARP;
  const int n_warps = T / WARP;
  const int L = m.n_lv, P = m.n_par, R = m.n_draws, J = m.n_alt;
  const int block = blockIdx.x, n = n0 + block;

  double *red_table = shared;                          /* n_warps x P (GRADIENT) */
  double *lv = red_table + (GRADIENT ? (size_t) n_warps * P : 0); /* L x T */
  double *dlv = lv + (size_t) L * T;                   /* L x T (GRADIENT) */
  double *lv_mean = dlv + (GRADIENT ? (size_t) L * T : 0); /* L */
  double *task_base = lv_mean + L;                     /* max_tasks x J */
  double *pairs = task_base + (size_t) m.max_tasks * J; /* 2 x n_warps + 2 */

  indiv ind;
  ind.n = n;
  ind.first_task = m.task_ptr[n];
  ind.n_tasks = with_choice ? m.task_ptr[n + 1] - ind.first_task : 0;
  ind.answer = m.ind_cat + (size_t) n * m.n_ind;
  ind.value = m.ind_value + (size_t) n * m.n_ind;
  ind.x = m.covariates + (size_t) n * m.n_cov;
  ind.lv_mean = lv_mean;
  ind.task_base = task_base;
  ind.lv = lv + tid;
  ind.dlv = dlv + tid;
  ind.stride = T;

  /* Per individual: latent means (individual_means()) and the LV-free part
   * of each utility (task_base_utilities()), summed in term order. */
  for (int l = tid; l < L; l += T) {
    double mean = m.lv_alpha[l] >= 0 ? m.theta[m.lv_alpha[l]] : 0.0;
    for (int i = m.lv_cov_ptr[l]; i < m.lv_cov_ptr[l + 1]; i++)
      mean += m.theta[m.lv_cov_par[i]] * ind.x[m.lv_cov_col[i]];
    lv_mean[l] = mean;
  }
  for (int idx = tid; idx < ind.n_tasks * J; idx += T) {
    const int tl = idx / J, j = idx % J;
    const double *value = m.term_value + (size_t) (ind.first_task + tl) * m.n_term;
    double base = 0.0;
    for (int i = m.alt_term_ptr[j]; i < m.alt_term_ptr[j + 1]; i++) {
      const int term = m.alt_term[i];
      if (m.util_lv[term] < 0) base += m.theta[m.util_par[term]] * value[term];
    }
    task_base[idx] = base;
  }
  if (GRADIENT)
    for (int i = tid; i < n_warps * P; i += T) red_table[i] = 0.0;
  __syncthreads();

  /* Pass 1: l_r per draw, and this thread's online (max, sum). */
  const double *log_weight = m.log_weight + (size_t) n * m.weight_stride;
  const double *weight_sign = m.weight_sign ? m.weight_sign + (size_t) n * m.weight_stride : NULL;
  double *my_draws = GRADIENT ? loglik_draw + (size_t) block * R : NULL;
  double top = -INFINITY, sum = 0.0;
  for (int r = tid; r < R; r += T) {
    const double l_r = log_weight[r] + draw_loglik(m, ind, r, with_choice);
    if (GRADIENT) my_draws[r] = l_r;
    if (l_r > top) {
      sum = top == -INFINITY ? 0.0 : sum * exp(top - l_r);
      top = l_r;
    }
    sum += (weight_sign ? weight_sign[r] : 1.0) * exp(l_r - top);
  }
  /* Block max and sum: a shuffle tree per warp, then warp 0's results in order. */
#pragma unroll
  for (int offset = WARP / 2; offset > 0; offset >>= 1) {
    const double other_top = __shfl_down_sync(FULL_MASK, top, offset);
    const double other_sum = __shfl_down_sync(FULL_MASK, sum, offset);
    softmax_merge(&top, &sum, other_top, other_sum);
  }
  if (lane == 0) {
    pairs[2 * warp] = top;
    pairs[2 * warp + 1] = sum;
  }
  __syncthreads();
  if (tid == 0) {
    double block_top = pairs[0], block_sum = pairs[1];
    for (int w = 1; w < n_warps; w++) softmax_merge(&block_top, &block_sum, pairs[2 * w], pairs[2 * w + 1]);
    pairs[2 * n_warps] = block_top;
    pairs[2 * n_warps + 1] = block_sum;
  }
  __syncthreads();
  const double run_max = pairs[2 * n_warps], run_sum = pairs[2 * n_warps + 1];
  /* Signed weights can sum to <= 0: floored, zero gradient, flagged. */
  const bool nonpositive = !(run_sum > 0.0);
  if (tid == 0) {
    loglik[n] = nonpositive ? run_max + log(ICLV_PROB_FLOOR) : run_max + log(run_sum);
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
  reducer rd;
  rd.count = 0;
  rd.row = red_table + (size_t) warp * P;
  rd.lane = lane;
  for (int r0 = 0; r0 < R; r0 += T) {
    const int r = r0 + tid < R ? r0 + tid : 0;
    const double w = r0 + tid < R
                         ? (weight_sign ? weight_sign[r] : 1.0) * exp(my_draws[r] - run_max)
                         : 0.0;
    draw_latent(m, ind, r);
    for (int l = 0; l < L; l++) ind.dlv[l * T] = 0.0;
    gradient_indicators(m, ind, rd, w);
    if (with_choice) gradient_choices(m, ind, rd, w);
    gradient_latent(m, ind, rd, w, r);
    reducer_flush(m, ind, rd);
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

struct gpu_engine {
  int device;
  cudaStream_t stream;
  dev_model m;
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

static bool check_ok(gpu_engine *g, cudaError_t rc, const char *what, char *err, size_t errlen) {
  const char *injected = "";
  if (rc == cudaSuccess && g != NULL && g->fail_at > 0 && ++g->call_count == g->fail_at) {
    rc = cudaErrorMemoryAllocation;
    injected = " [injected by gpu_engine_fail_next]";
  }
  if (rc == cudaSuccess) return true;
  snprintf(err, errlen, "%s failed: %s%s", what, cudaGetErrorString(rc), injected);
  return false;
}

/* cudaMalloc, checked; when the check fails (an injected failure included)
 * nothing stays allocated. */
static int checked_malloc(gpu_engine *g, void **ptr, size_t bytes, const char *what, char *err,
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

/* A fixed buffer, listed for gpu_engine_free(). */
static int device_alloc(gpu_engine *g, void **ptr, size_t bytes, const char *name, char *err,
                        size_t errlen) {
  char what[160];
  if (bytes == 0) bytes = sizeof(double); /* a valid pointer for empty arrays */
  snprintf(what, sizeof what, "cudaMalloc(%s, %.1f MB)", name, bytes / 1048576.0);
  *ptr = NULL;
  if (g->n_allocs >= MAX_ALLOCS) {
    snprintf(err, errlen, "%s: too many device buffers", what);
    return 1;
  }
  if (checked_malloc(g, ptr, bytes, what, err, errlen)) return 1;
  g->allocs[g->n_allocs] = *ptr;
  g->alloc_bytes[g->n_allocs++] = bytes;
  return 0;
}

/* Allocates and fills a device copy of `count` elements of `size` bytes. */
static int upload(gpu_engine *g, const void **dst, const void *src, size_t count, size_t size,
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

static double *alloc_doubles(gpu_engine *g, size_t count, const char *name, char *err,
                             size_t errlen) {
  void *ptr = NULL;
  if (device_alloc(g, &ptr, count * sizeof(double), name, err, errlen)) return NULL;
  return (double *) ptr;
}

static size_t fixed_bytes(const gpu_engine *g) {
  size_t total = 0;
  for (int i = 0; i < g->n_allocs; i++) total += g->alloc_bytes[i];
  return total;
}

/* Individuals per launch under max_mb, given the fixed buffers: a multiple
 * of GROUP, at least GROUP, at most N. */
static int chunk_for_limit(const gpu_engine *g, double max_mb) {
  const int N = g->m.n_indiv;
  const double per_indiv = ((double) g->m.n_draws + g->m.n_par) * sizeof(double);
  if (!(max_mb > 0.0) || !std::isfinite(max_mb)) return N;
  const double room = max_mb * 1048576.0 - (double) fixed_bytes(g);
  double fit = room / per_indiv;
  if (fit >= N) return N;
  int chunk = fit < GROUP ? GROUP : (int) (fit / GROUP) * GROUP;
  return chunk >= N ? N : chunk;
}

/* The chunk workspace, when it is not there (first build, or after
 * gpu_engine_release()). */
static int alloc_workspace(gpu_engine *g, char *err, size_t errlen) {
  const size_t chunk = (size_t) g->chunk;
  const size_t draws_bytes = chunk * g->m.n_draws * sizeof(double);
  const size_t rows_bytes = chunk * g->m.n_par * sizeof(double);
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

static void free_workspace(gpu_engine *g) {
  cudaFree(g->d_loglik_draw);
  cudaFree(g->d_rows);
  g->d_loglik_draw = NULL;
  g->d_rows = NULL;
  g->workspace_bytes = 0;
}

extern "C" void gpu_engine_free(gpu_engine *g) {
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
static int choose_threads(gpu_engine *g, size_t optin_bytes, char *err, size_t errlen) {
  const dev_model &m = g->m;
  int threads = (m.n_draws + WARP - 1) / WARP * WARP;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  for (;;) {
    g->shared_grad = sizeof(double) * shared_doubles(1, threads, m.n_lv, m.n_par, m.max_tasks, m.n_alt);
    g->shared_ll = sizeof(double) * shared_doubles(0, threads, m.n_lv, m.n_par, m.max_tasks, m.n_alt);
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

extern "C" int gpu_engine_create(const iclv_engine *host, double max_mb, gpu_engine **out,
                                 char *err, size_t errlen) {
  *out = NULL;
  const iclv_plan *p = &host->plan;
  const iclv_data *d = &host->data;
  const iclv_draws *dr = &host->draws;
  const int N = d->n_indiv, L = p->n_lv, K = p->n_ind, J = p->n_alt, M = p->n_term;
  const int P = p->n_par, R = dr->n_draws, T = d->n_tasks;
  if (dr->n_dim != L) {
    snprintf(err, errlen, "the draws have %d dimensions for %d latent variables", dr->n_dim, L);
    return 1;
  }
  if ((size_t) T * J >= (size_t) TARGET_INDEX_MASK) {
    snprintf(err, errlen, "too many tasks x alternatives for the GPU kernels");
    return 1;
  }
  gpu_engine *g = (gpu_engine *) calloc(1, sizeof(gpu_engine));
  if (g == NULL) {
    snprintf(err, errlen, "out of memory building the GPU engine");
    return 1;
  }
  g->fail_at = 0;
  g->max_mb = max_mb;
  int *alt_n_fixed = NULL;
  int optin = 0;
  dev_model &m = g->m;
  m.n_indiv = N; m.n_lv = L; m.n_ind = K; m.n_cov = p->n_cov; m.n_alt = J; m.n_term = M;
  m.n_par = P; m.n_draws = R; m.max_tasks = d->max_tasks; m.n_tasks = T;
  m.weight_stride = dr->weight_stride;

  CHECK(cudaGetDevice(&g->device), "cudaGetDevice");
  CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, g->device),
        "cudaDeviceGetAttribute(shared memory per block)");
  CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), "cudaStreamCreate");

  alt_n_fixed = (int *) calloc(J > 0 ? J : 1, sizeof(int));
  if (alt_n_fixed == NULL) {
    snprintf(err, errlen, "out of memory building the GPU engine");
    goto fail;
  }
  for (int m_ = 0; m_ < M; m_++)
    if (p->util_lv[m_] < 0) alt_n_fixed[p->util_alt[m_]]++;

#define UP(field, src, count, type)                                                     \
  if (upload(g, (const void **) &m.field, (src), (size_t) (count), sizeof(type), #field, err, \
             errlen))                                                                    \
    goto fail
  UP(lv_alpha, p->lv_alpha, L, int);
  UP(lv_sigma, p->lv_sigma, L, int);
  UP(lv_cov_ptr, p->lv_cov_ptr, L + 1, int);
  UP(lv_cov_col, p->lv_cov_col, p->lv_cov_ptr[L], int);
  UP(lv_cov_par, p->lv_cov_par, p->lv_cov_ptr[L], int);
  UP(lv_path_ptr, p->lv_path_ptr, L + 1, int);
  UP(lv_path_from, p->lv_path_from, p->lv_path_ptr[L], int);
  UP(lv_path_par, p->lv_path_par, p->lv_path_ptr[L], int);
  UP(ind_family, p->ind_family, K, int);
  UP(ind_intercept, p->ind_intercept, K, int);
  UP(ind_scale, p->ind_scale, K, int);
  UP(ind_load_ptr, p->ind_load_ptr, K + 1, int);
  UP(ind_load_lv, p->ind_load_lv, p->ind_load_ptr[K], int);
  UP(ind_load_par, p->ind_load_par, p->ind_load_ptr[K], int);
  UP(ind_thr_ptr, p->ind_thr_ptr, K + 1, int);
  UP(ind_thr_par, p->ind_thr_par, p->ind_thr_ptr[K], int);
  UP(ind_thr_sign, p->ind_thr_sign, p->ind_thr_ptr[K], double);
  UP(ind_tau_ptr, host->view.ind_tau_ptr, K + 1, int);
  UP(util_par, p->util_par, M, int);
  UP(util_lv, p->util_lv, M, int);
  UP(alt_term_ptr, p->alt_term_ptr, J + 1, int);
  UP(alt_term, p->alt_term, M, int);
  UP(alt_n_fixed, alt_n_fixed, J, int);
  UP(ind_cat, d->ind_cat, (size_t) N * K, int);
  UP(ind_value, d->ind_value, (size_t) N * K, double);
  UP(covariates, d->covariates, (size_t) N * p->n_cov, double);
  UP(task_ptr, d->task_ptr, N + 1, int);
  UP(choice, d->choice, T, int);
  UP(avail_ptr, d->avail_ptr, T + 1, int);
  UP(avail_alt, d->avail_alt, d->avail_ptr[T], int);
  UP(term_value, d->term_value, (size_t) T * M, double);
  UP(eta, dr->eta, (size_t) N * L * R, double);
  UP(log_weight, dr->log_weight, dr->weight_stride ? (size_t) N * R : (size_t) R, double);
  if (dr->weight_sign != NULL) {
    UP(weight_sign, dr->weight_sign, dr->weight_stride ? (size_t) N * R : (size_t) R, double);
  } else {
    m.weight_sign = NULL;
  }
#undef UP
  free(alt_n_fixed);
  alt_n_fixed = NULL;

  /* Per-evaluation buffers: theta, its view, the reduction levels, results. */
  {
    const size_t n_groups = ((size_t) N + GROUP - 1) / GROUP;
    const size_t n_groups2 = (n_groups + GROUP - 1) / GROUP;
    if ((g->d_theta = alloc_doubles(g, P, "theta", err, errlen)) == NULL ||
        (m.lv_sigma_v = alloc_doubles(g, L, "lv_sigma view", err, errlen)) == NULL ||
        (m.lv_path_v = alloc_doubles(g, p->lv_path_ptr[L], "lv_path view", err, errlen)) == NULL ||
        (m.ind_intercept_v = alloc_doubles(g, K, "intercept view", err, errlen)) == NULL ||
        (m.ind_inv_scale_v = alloc_doubles(g, K, "scale view", err, errlen)) == NULL ||
        (m.ind_log_scale_v = alloc_doubles(g, K, "log scale view", err, errlen)) == NULL ||
        (m.ind_load_v = alloc_doubles(g, p->ind_load_ptr[K], "loading view", err, errlen)) == NULL ||
        (m.ind_tau_v = alloc_doubles(g, host->view.ind_tau_ptr[K], "threshold view", err, errlen)) == NULL ||
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
  free(alt_n_fixed);
  gpu_engine_free(g);
  return 1;
}

extern "C" double gpu_engine_device_bytes(const gpu_engine *g) {
  if (g == NULL) return 0.0;
  return (double) fixed_bytes(g) + (double) g->workspace_bytes;
}

extern "C" void gpu_engine_layout(const gpu_engine *g, int *chunk, int *threads) {
  *chunk = g ? g->chunk : 0;
  *threads = g ? g->threads : 0;
}

extern "C" int gpu_engine_release(gpu_engine *g, double *freed_mb) {
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

extern "C" void gpu_engine_fail_next(gpu_engine *g, int call_index) {
  if (g == NULL) return;
  g->fail_at = call_index > 0 ? call_index : 0;
  g->call_count = 0;
}

/* Launch-configuration errors show at once; errors while a kernel runs show
 * at the next synchronising call (cudaStreamSynchronize below). */
#define LAUNCHED(what) CHECK(cudaGetLastError(), what)

extern "C" int gpu_engine_eval(gpu_engine *g, const double *theta, int gradient, int choice,
                               int want_scores, double *loglik, double *loglik_indiv,
                               double *grad, double *scores, int *n_nonpositive, char *err,
                               size_t errlen) {
  const dev_model &m = g->m;
  const int N = m.n_indiv, P = m.n_par;
  const int with_choice = choice && m.n_tasks > 0;
  if (want_scores) gradient = 1;
  const size_t n_out = 2 * (size_t) N + (gradient ? P : 0);
  int status = 1;
  g->call_count = 0;

  CHECK(cudaSetDevice(g->device), "cudaSetDevice");
  /* Rebuild what gpu_engine_release() dropped. */
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
      flagged += g->h_out[N + n] != 0.0;
    }
    *loglik = total;
    if (loglik_indiv != NULL) memcpy(loglik_indiv, g->h_out, sizeof(double) * N);
    if (n_nonpositive != NULL) *n_nonpositive = flagged;
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
