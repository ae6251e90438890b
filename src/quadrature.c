/* Quadrature rules for the standard normal density (see quadrature.h). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quadrature.h"

/* ------------------------------------------------------------------------ */
/* Orthonormal Hermite polynomials for phi: h_0 = 1, h_1 = x,
 * sqrt(k + 1) h_{k+1} = x h_k - sqrt(k) h_{k-1}. Their Jacobi matrix has a
 * zero diagonal and off-diagonal sqrt(1), ..., sqrt(n - 1). */

/* h_n(x) and its derivative; *sum_squares = h_0^2 + ... + h_{n-1}^2. */
static void hermite_top(int n, double x, double *value, double *slope, double *sum_squares) {
  double prev = 0.0, cur = 1.0, dprev = 0.0, dcur = 0.0, squares = 0.0;
  for (int k = 0; k < n; k++) {
    squares += cur * cur;
    const double a = sqrt(k + 1.0), b = sqrt((double) k);
    const double next = (x * cur - b * prev) / a;
    const double dnext = (cur + x * dcur - b * dprev) / a;
    prev = cur;
    cur = next;
    dprev = dcur;
    dcur = dnext;
  }
  *value = cur;
  *slope = dcur;
  *sum_squares = squares;
}

/* ------------------------------------------------------------------------ */
/* Eigenvalues of a symmetric tridiagonal matrix (diagonal d[0..n-1],
 * off-diagonal e[i] between rows i and i + 1, e[n-1] used as workspace) by
 * the implicit QL method with Wilkinson-type shifts, into d (unsorted).
 * Returns 0, or -1 when an eigenvalue needs over 60 sweeps. (Golub and
 * Welsch also take the weights from the eigenvectors' first components; the
 * Christoffel function below gives the same numbers with relative accuracy
 * for the tiny ones, so no eigenvectors are needed.) */
static int tridiagonal_ql(int n, double *d, double *e) {
  e[n - 1] = 0.0;
  for (int l = 0; l < n; l++) {
    int sweeps = 0, m;
    for (;;) {
      for (m = l; m < n - 1; m++) {
        const double scale = fabs(d[m]) + fabs(d[m + 1]);
        if (fabs(e[m]) <= DBL_EPSILON * scale) break;
      }
      if (m == l) break;
      if (++sweeps > 60) return -1;
      /* Shift: the eigenvalue of the leading 2 x 2 block nearer d[l]. */
      double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
      double r = hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + (g >= 0.0 ? r : -r));
      double s = 1.0, c = 1.0, p = 0.0;
      int i, deflated = 0;
      for (i = m - 1; i >= l; i--) {
        const double f = s * e[i], b = c * e[i];
        r = hypot(f, g);
        e[i + 1] = r;
        if (r == 0.0) { /* an off-diagonal element underflowed: split there */
          d[i + 1] -= p;
          e[m] = 0.0;
          deflated = 1;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2.0 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (deflated) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0.0;
    }
  }
  return 0;
}

static int compare_doubles(const void *a, const void *b) {
  const double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int iclv_gauss_hermite(int n_nodes, double *nodes, double *weights) {
  const int n = n_nodes;
  if (n < 1 || n > ICLV_GH_MAX_NODES) return ICLV_QUAD_BAD_ARG;
  double *offdiag = malloc(sizeof(double) * (size_t) n);
  if (offdiag == NULL) return ICLV_QUAD_NO_MEMORY;
  for (int i = 0; i < n; i++) {
    nodes[i] = 0.0;
    offdiag[i] = sqrt(i + 1.0);
  }
  const int status = tridiagonal_ql(n, nodes, offdiag);
  free(offdiag);
  if (status != 0) return ICLV_QUAD_NO_CONVERGENCE;
  qsort(nodes, (size_t) n, sizeof(double), compare_doubles);

  /* Newton polish on h_n (the eigenvalues are accurate to a few ulps of the
   * largest node; this makes the small ones accurate relative to themselves),
   * then the Christoffel weights 1 / sum_k h_k(x)^2. */
  for (int i = 0; i < n; i++) {
    double value, slope, squares;
    for (int step = 0; step < 3; step++) {
      hermite_top(n, nodes[i], &value, &slope, &squares);
      if (slope == 0.0 || !isfinite(value / slope)) break;
      const double change = value / slope;
      if (fabs(change) > 1e-6 * (1.0 + fabs(nodes[i]))) break; /* not near a root: keep QL's */
      nodes[i] -= change;
    }
    hermite_top(n, nodes[i], &value, &slope, &squares);
    weights[i] = 1.0 / squares;
  }

  /* Exact symmetry, a zero middle node, and weights summing to 1 (summed
   * from the smallest, the tails, inwards). */
  for (int i = 0; i < n / 2; i++) {
    const int j = n - 1 - i;
    const double x = 0.5 * (nodes[j] - nodes[i]), w = 0.5 * (weights[i] + weights[j]);
    nodes[i] = -x;
    nodes[j] = x;
    weights[i] = weights[j] = w;
  }
  if (n % 2 == 1) nodes[n / 2] = 0.0;
  double total = 0.0;
  for (int i = 0; i < n / 2; i++) total += 2.0 * weights[i];
  if (n % 2 == 1) total += weights[n / 2];
  for (int i = 0; i < n; i++) weights[i] /= total;
  return ICLV_QUAD_OK;
}

/* ------------------------------------------------------------------------ */
/* The Genz-Keister sequence. Each rule adds new nodes to the previous one
 * (Patterson's extension: the new nodes are the roots of the polynomial
 * orthogonal to lower degrees under phi times the previous rule's node
 * polynomial, which makes the extended rule exact to degree
 * n_prev + 2 m - 1). The positive new nodes are tabulated from Genz and
 * Keister (1996) (facts, to the digits published); the weights are computed
 * here as the interpolatory weights on those nodes, so they are exactly
 * consistent with them. The 19-point rule has a negative weight at
 * +-2.8613. */

static const int gk_sizes[ICLV_GK_N_RULES] = {1, 3, 9, 19, 35};
static const int gk_degrees[ICLV_GK_N_RULES] = {1, 5, 15, 29, 51};

/* The positive nodes added by rules 2 to 5 (1, 3, 5 and 8 of them). */
static const double gk_new_nodes[17] = {
    1.73205080756887729353, /* sqrt(3) */
    0.741095349994540853, 2.86127957605705818, 4.18495601767273229,
    1.23042363402730603, 2.59608311504920231, 3.20533379449919442, 5.18701603991365623,
    6.36339449433636961,
    0.248992297579960609, 2.23362606167694189, 3.63531851903727832, 4.73643308595229673,
    5.69817776848810986, 7.12210670080461661, 7.98077179859056063, 9.0169397898903032};

/* Reference rule for the interpolatory weights: exact to degree 199, far
 * above the 34 of the 35-point rule's Lagrange polynomials. */
#define GK_REFERENCE_NODES 100

/* Interpolatory weights of the rule on nodes[0 .. n-1]: the integral of each
 * Lagrange polynomial, by the reference rule. */
static void interpolatory_weights(int n, const double *nodes, const double *ref_x,
                                  const double *ref_w, double *weights) {
  for (int i = 0; i < n; i++) {
    double total = 0.0;
    for (int g = 0; g < GK_REFERENCE_NODES; g++) {
      double lagrange = 1.0;
      for (int k = 0; k < n; k++)
        if (k != i) lagrange *= (ref_x[g] - nodes[k]) / (nodes[i] - nodes[k]);
      total += ref_w[g] * lagrange;
    }
    weights[i] = total;
  }
}

int iclv_genz_keister(double *nodes, double *weights, int *sizes, int *degrees) {
  double ref_x[GK_REFERENCE_NODES], ref_w[GK_REFERENCE_NODES];
  double all_nodes[ICLV_GK_MAX_POINTS], all_weights[ICLV_GK_N_RULES * ICLV_GK_MAX_POINTS];
  const int status = iclv_gauss_hermite(GK_REFERENCE_NODES, ref_x, ref_w);
  if (status != ICLV_QUAD_OK) return status;
  all_nodes[0] = 0.0;
  for (int i = 0; i < 17; i++) { /* joining order: +x, -x */
    all_nodes[1 + 2 * i] = gk_new_nodes[i];
    all_nodes[2 + 2 * i] = -gk_new_nodes[i];
  }
  memset(all_weights, 0, sizeof all_weights);
  for (int rule = 0; rule < ICLV_GK_N_RULES; rule++) {
    double *w = all_weights + rule * ICLV_GK_MAX_POINTS;
    interpolatory_weights(gk_sizes[rule], all_nodes, ref_x, ref_w, w);
    for (int i = 1; i < gk_sizes[rule]; i += 2) { /* exact symmetry */
      const double mean = 0.5 * (w[i] + w[i + 1]);
      w[i] = w[i + 1] = mean;
    }
  }
  if (nodes) memcpy(nodes, all_nodes, sizeof all_nodes);
  if (weights) memcpy(weights, all_weights, sizeof all_weights);
  if (sizes) memcpy(sizes, gk_sizes, sizeof gk_sizes);
  if (degrees) memcpy(degrees, gk_degrees, sizeof gk_degrees);
  return ICLV_QUAD_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor-product rules. */

static int tensor_grid(int n_dim, int n, size_t max_points, double **points_out,
                       double **weights_out, int *n_points_out) {
  if (n < 1 || n > ICLV_GH_MAX_NODES) return ICLV_QUAD_BAD_ARG;
  double total = 1.0;
  for (int k = 0; k < n_dim; k++) total *= n;
  if (total > (double) max_points || total > 2147483647.0) return ICLV_QUAD_TOO_MANY_POINTS;
  const size_t R = (size_t) total;
  double x[ICLV_GH_MAX_NODES], w[ICLV_GH_MAX_NODES];
  int status = iclv_gauss_hermite(n, x, w);
  if (status != ICLV_QUAD_OK) return status;
  double *points = malloc(sizeof(double) * R * (size_t) n_dim);
  double *weights = malloc(sizeof(double) * R);
  if (points == NULL || weights == NULL) {
    free(points);
    free(weights);
    return ICLV_QUAD_NO_MEMORY;
  }
  for (size_t r = 0; r < R; r++) {
    size_t rest = r;
    double weight = 1.0;
    for (int k = 0; k < n_dim; k++) { /* dimension 0 varies fastest */
      const size_t i = rest % (size_t) n;
      rest /= (size_t) n;
      points[r + R * (size_t) k] = x[i];
      weight *= w[i];
    }
    weights[r] = weight;
  }
  *points_out = points;
  *weights_out = weights;
  *n_points_out = (int) R;
  return ICLV_QUAD_OK;
}

/* ------------------------------------------------------------------------ */
/* Smolyak sparse grids (combination form). With U^i the 1-D rule of level i
 * (the smallest Genz-Keister rule exact to degree 2i - 1), the grid of
 * accuracy level L in d dimensions is
 *   A(L, d) = sum_{q = max(0, L - d)}^{L - 1} (-1)^(L - 1 - q) C(d - 1, L - 1 - q)
 *             sum_{|i| = d + q, i_k >= 1} U^{i_1} x ... x U^{i_d},
 * exact for polynomials of total degree 2L - 1 (Heiss and Winschel 2008).
 * Nested rules make most points of the tensor products coincide: a point is
 * identified by its Genz-Keister node numbers (6 bits per dimension, packed
 * into a 64-bit key) and its weights are summed in a hash table, so memory
 * grows with the distinct points, not with the terms of the sum. */

/* Terms of the combination sum allowed (a few seconds of work). */
#define SPARSE_MAX_TERMS 5e8
#define SPARSE_KEY_BITS 6
#define SPARSE_OCCUPIED (1ULL << 63)

typedef struct {
  uint64_t key; /* SPARSE_OCCUPIED | node numbers; 0 marks an empty slot */
  double weight;
  double magnitude; /* sum of |contributions|, to recognise cancelled weights */
} sparse_point;

typedef struct {
  sparse_point *slots;
  size_t capacity; /* a power of 2, at least twice count */
  size_t count, max_points;
} point_table;

static size_t key_hash(uint64_t key) {
  key ^= key >> 31;
  key *= 0x9E3779B97F4A7C15ULL;
  key ^= key >> 29;
  return (size_t) key;
}

static int table_grow(point_table *t) {
  const size_t capacity = t->capacity ? 2 * t->capacity : 1024;
  sparse_point *slots = calloc(capacity, sizeof(sparse_point));
  if (slots == NULL) return ICLV_QUAD_NO_MEMORY;
  for (size_t i = 0; i < t->capacity; i++) {
    if (t->slots[i].key == 0) continue;
    size_t at = key_hash(t->slots[i].key) & (capacity - 1);
    while (slots[at].key != 0) at = (at + 1) & (capacity - 1);
    slots[at] = t->slots[i];
  }
  free(t->slots);
  t->slots = slots;
  t->capacity = capacity;
  return ICLV_QUAD_OK;
}

static int table_add(point_table *t, uint64_t key, double weight) {
  if (2 * (t->count + 1) > t->capacity && table_grow(t) != ICLV_QUAD_OK)
    return ICLV_QUAD_NO_MEMORY;
  const size_t mask = t->capacity - 1;
  size_t at = key_hash(key) & mask;
  while (t->slots[at].key != 0 && t->slots[at].key != key) at = (at + 1) & mask;
  sparse_point *point = t->slots + at;
  if (point->key == 0) {
    if (t->count == t->max_points) return ICLV_QUAD_TOO_MANY_POINTS;
    point->key = key;
    t->count++;
  }
  point->weight += weight;
  point->magnitude += fabs(weight);
  return ICLV_QUAD_OK;
}

typedef struct {
  int n_dim, level;
  int rule_of_level[ICLV_SPARSE_MAX_LEVEL + 1]; /* Genz-Keister rule index per 1-D level */
  const double *gk_weights;                      /* ICLV_GK_N_RULES x ICLV_GK_MAX_POINTS */
  int levels[ICLV_SPARSE_MAX_DIM];
  double coefficient;
  point_table *table; /* NULL while counting the terms */
  double n_terms;
  int status;
} smolyak_ctx;

/* Adds (or counts) the tensor product of the rules at ctx->levels. */
static void smolyak_add_tensor(smolyak_ctx *ctx) {
  int rule[ICLV_SPARSE_MAX_DIM], size[ICLV_SPARSE_MAX_DIM], at[ICLV_SPARSE_MAX_DIM];
  size_t count = 1;
  for (int k = 0; k < ctx->n_dim; k++) {
    rule[k] = ctx->rule_of_level[ctx->levels[k]];
    size[k] = gk_sizes[rule[k]];
    at[k] = 0;
    count *= (size_t) size[k];
  }
  if (ctx->table == NULL) {
    ctx->n_terms += (double) count;
    return;
  }
  for (size_t c = 0; c < count && ctx->status == ICLV_QUAD_OK; c++) {
    uint64_t key = SPARSE_OCCUPIED;
    double weight = ctx->coefficient;
    for (int k = 0; k < ctx->n_dim; k++) {
      key |= (uint64_t) at[k] << (SPARSE_KEY_BITS * (ctx->n_dim - 1 - k));
      weight *= ctx->gk_weights[rule[k] * ICLV_GK_MAX_POINTS + at[k]];
    }
    ctx->status = table_add(ctx->table, key, weight);
    for (int k = 0; k < ctx->n_dim; k++) { /* odometer */
      if (++at[k] < size[k]) break;
      at[k] = 0;
    }
  }
}

/* Every levels[dim ..] with levels >= 1 summing to `remaining`. */
static void smolyak_visit(smolyak_ctx *ctx, int dim, int remaining) {
  if (dim == ctx->n_dim - 1) {
    ctx->levels[dim] = remaining;
    smolyak_add_tensor(ctx);
    return;
  }
  for (int level = 1; level <= remaining - (ctx->n_dim - 1 - dim); level++) {
    ctx->levels[dim] = level;
    smolyak_visit(ctx, dim + 1, remaining - level);
  }
}

static void smolyak_sweep(smolyak_ctx *ctx) {
  const int d = ctx->n_dim, L = ctx->level;
  for (int q = L - d > 0 ? L - d : 0; q <= L - 1; q++) {
    const int j = L - 1 - q;
    double binom = 1.0; /* C(d - 1, j) */
    for (int t = 1; t <= j; t++) binom = binom * (d - j - 1 + t) / t;
    ctx->coefficient = (j % 2 == 0 ? 1.0 : -1.0) * binom;
    smolyak_visit(ctx, 0, d + q);
  }
}

static int compare_points(const void *a, const void *b) {
  const uint64_t x = ((const sparse_point *) a)->key, y = ((const sparse_point *) b)->key;
  return (x > y) - (x < y);
}

static int sparse_grid(int n_dim, int level, size_t max_points, double **points_out,
                       double **weights_out, int *n_points_out) {
  if (n_dim > ICLV_SPARSE_MAX_DIM || level < 1 || level > ICLV_SPARSE_MAX_LEVEL)
    return ICLV_QUAD_BAD_ARG;
  double gk_nodes[ICLV_GK_MAX_POINTS], gk_weights[ICLV_GK_N_RULES * ICLV_GK_MAX_POINTS];
  int status = iclv_genz_keister(gk_nodes, gk_weights, NULL, NULL);
  if (status != ICLV_QUAD_OK) return status;

  smolyak_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.n_dim = n_dim;
  ctx.level = level;
  ctx.gk_weights = gk_weights;
  for (int i = 1; i <= ICLV_SPARSE_MAX_LEVEL; i++) {
    int rule = 0;
    while (gk_degrees[rule] < 2 * i - 1) rule++;
    ctx.rule_of_level[i] = rule;
  }
  smolyak_sweep(&ctx); /* count the terms */
  if (ctx.n_terms > SPARSE_MAX_TERMS) return ICLV_QUAD_TOO_MANY_POINTS;
  point_table table = {NULL, 0, 0, max_points < 2147483647u ? max_points : 2147483647u};
  ctx.table = &table;
  ctx.status = ICLV_QUAD_OK;
  smolyak_sweep(&ctx);
  if (ctx.status != ICLV_QUAD_OK) {
    free(table.slots);
    return ctx.status;
  }

  /* Keep the points whose contributions do not cancel to rounding error, in
   * the order of their node numbers. */
  size_t n_kept = 0;
  for (size_t i = 0; i < table.capacity; i++) {
    const sparse_point *point = table.slots + i;
    if (point->key != 0 && fabs(point->weight) > 64.0 * DBL_EPSILON * point->magnitude)
      table.slots[n_kept++] = *point;
  }
  qsort(table.slots, n_kept, sizeof(sparse_point), compare_points);
  double *points = malloc(sizeof(double) * (n_kept * (size_t) n_dim + 1));
  double *weights = malloc(sizeof(double) * (n_kept + 1));
  if (points == NULL || weights == NULL) {
    free(points);
    free(weights);
    free(table.slots);
    return ICLV_QUAD_NO_MEMORY;
  }
  const uint64_t node_mask = (1ULL << SPARSE_KEY_BITS) - 1;
  for (size_t r = 0; r < n_kept; r++) {
    const uint64_t key = table.slots[r].key;
    for (int k = 0; k < n_dim; k++) {
      const int node = (int) ((key >> (SPARSE_KEY_BITS * (n_dim - 1 - k))) & node_mask);
      points[r + n_kept * (size_t) k] = gk_nodes[node];
    }
    weights[r] = table.slots[r].weight;
  }
  free(table.slots);
  *points_out = points;
  *weights_out = weights;
  *n_points_out = (int) n_kept;
  return ICLV_QUAD_OK;
}

int iclv_quadrature_grid(int n_dim, int n, int sparse, size_t max_points, double **points,
                         double **weights, int *n_points) {
  *points = NULL;
  *weights = NULL;
  *n_points = 0;
  if (n_dim < 1 || n < 1) return ICLV_QUAD_BAD_ARG;
  return sparse ? sparse_grid(n_dim, n, max_points, points, weights, n_points)
                : tensor_grid(n_dim, n, max_points, points, weights, n_points);
}

const char *iclv_quadrature_message(int code) {
  switch (code) {
  case ICLV_QUAD_OK: return "no error";
  case ICLV_QUAD_BAD_ARG: return "the number of dimensions, nodes or the level is out of range";
  case ICLV_QUAD_NO_CONVERGENCE: return "the computation of the nodes did not converge";
  case ICLV_QUAD_NO_MEMORY: return "out of memory while building the quadrature rule";
  case ICLV_QUAD_TOO_MANY_POINTS: return "the rule has more points than allowed";
  default: return "unknown error";
  }
}
