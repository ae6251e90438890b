/* Quadrature rules for the standard normal density (see quadrature.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quadrature.h"

/* ------------------------------------------------------------------------ */
/* Orthonormal Hermite polynomials for phi: h_0 = 1, h_1 = x,
 * sqrt(k + 1) h_{k+1} = x h_k - sqrt(k) h_{k-1}. Their Jacobi matrix has a
 * zero diagonal and off-diagonal sqrt(1), ..., sqrt(n - 1). */

/* h_0(x) .. h_{n-1}(x) into h[0 .. n-1] (n >= 1). */
static void hermite_values(int n, double x, double *h) {
  h[0] = 1.0;
  if (n > 1) h[1] = x;
  for (int k = 1; k + 1 < n; k++) h[k + 1] = (x * h[k] - sqrt((double) k) * h[k - 1]) / sqrt(k + 1.0);
}

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
/* The Genz-Keister sequence. Extending a rule of n_prev nodes with node
 * polynomial P by m new nodes to degree n_prev + 2m - 1: the new nodes are
 * the roots of the degree-m polynomial q with
 *   integral q(x) x^j P(x) phi(x) dx = 0, j = 0 .. m - 1
 * (then every polynomial f of degree n_prev + 2m - 1 is f = P q s + r with
 * deg s < m, deg r < n_prev + m, and interpolation at the n_prev + m nodes is
 * exact). q is written in the orthonormal Hermite basis and the integrals
 * taken with a reference Gauss-Hermite rule exact to a far higher degree.
 * P is odd (the nodes are symmetric and include 0) and m even, so q is even;
 * its roots come as +- pairs. */

static const int gk_sizes[ICLV_GK_N_RULES] = {1, 3, 9, 19, 35};
static const int gk_degrees[ICLV_GK_N_RULES] = {1, 5, 15, 29, 51};

#define GK_REFERENCE_NODES 100
#define GK_MAX_NEW 16
#define GK_ROOT_SEARCH_MAX 14.0
#define GK_ROOT_SEARCH_STEP 1e-3

/* Solves the m x m system a x = b (a row-major, overwritten) by Gaussian
 * elimination with partial pivoting; b becomes x. Returns -1 if singular. */
static int solve_linear(int m, double *a, double *b) {
  for (int col = 0; col < m; col++) {
    int pivot = col;
    for (int row = col + 1; row < m; row++)
      if (fabs(a[row * m + col]) > fabs(a[pivot * m + col])) pivot = row;
    if (a[pivot * m + col] == 0.0) return -1;
    if (pivot != col) {
      for (int k = 0; k < m; k++) {
        const double t = a[col * m + k];
        a[col * m + k] = a[pivot * m + k];
        a[pivot * m + k] = t;
      }
      const double t = b[col];
      b[col] = b[pivot];
      b[pivot] = t;
    }
    for (int row = col + 1; row < m; row++) {
      const double factor = a[row * m + col] / a[col * m + col];
      for (int k = col; k < m; k++) a[row * m + k] -= factor * a[col * m + k];
      b[row] -= factor * b[col];
    }
  }
  for (int row = m - 1; row >= 0; row--) {
    double s = b[row];
    for (int k = row + 1; k < m; k++) s -= a[row * m + k] * b[k];
    b[row] = s / a[row * m + row];
  }
  return 0;
}

/* q(x) = sum_{i <= degree} coef[i] h_i(x). */
static double hermite_series(int degree, const double *coef, double x) {
  double prev = 0.0, cur = 1.0, total = coef[0];
  for (int k = 0; k < degree; k++) {
    const double next = (x * cur - sqrt((double) k) * prev) / sqrt(k + 1.0);
    prev = cur;
    cur = next;
    total += coef[k + 1] * cur;
  }
  return total;
}

/* The m new nodes extending nodes[0 .. n_prev-1], written to nodes[n_prev ..]
 * as (+x, -x) pairs with x ascending. */
static int gk_extend(int n_prev, int m, double *nodes, const double *ref_x, const double *ref_w) {
  double gram[GK_MAX_NEW * GK_MAX_NEW], rhs[GK_MAX_NEW], coef[GK_MAX_NEW + 1];
  double h[GK_MAX_NEW + 1];
  memset(gram, 0, sizeof gram);
  memset(rhs, 0, sizeof rhs);
  for (int g = 0; g < GK_REFERENCE_NODES; g++) {
    double node_poly = 1.0;
    for (int k = 0; k < n_prev; k++) node_poly *= ref_x[g] - nodes[k];
    hermite_values(m + 1, ref_x[g], h);
    const double wp = ref_w[g] * node_poly;
    for (int j = 0; j < m; j++) {
      for (int i = 0; i < m; i++) gram[j * m + i] += wp * h[j] * h[i];
      rhs[j] -= wp * h[j] * h[m];
    }
  }
  if (solve_linear(m, gram, rhs) != 0) return ICLV_QUAD_NO_CONVERGENCE;
  for (int i = 0; i < m; i++) coef[i] = (i % 2 == m % 2) ? rhs[i] : 0.0; /* q is even */
  coef[m] = 1.0;

  /* The m / 2 positive roots: sign changes on a fine grid, then bisection
   * down to adjacent doubles. */
  int found = 0;
  double left = GK_ROOT_SEARCH_STEP * 0.5, f_left = hermite_series(m, coef, left);
  for (double right = left + GK_ROOT_SEARCH_STEP; right <= GK_ROOT_SEARCH_MAX;
       right += GK_ROOT_SEARCH_STEP) {
    const double f_right = hermite_series(m, coef, right);
    if ((f_left < 0.0) != (f_right < 0.0)) {
      if (found == m / 2) return ICLV_QUAD_NO_CONVERGENCE;
      double lo = left, hi = right, f_lo = f_left;
      for (int iter = 0; iter < 200; iter++) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        const double f_mid = hermite_series(m, coef, mid);
        if (f_mid == 0.0) {
          lo = hi = mid;
          break;
        }
        if ((f_mid < 0.0) == (f_lo < 0.0)) {
          lo = mid;
          f_lo = f_mid;
        } else {
          hi = mid;
        }
      }
      const double root = 0.5 * (lo + hi);
      nodes[n_prev + 2 * found] = root;
      nodes[n_prev + 2 * found + 1] = -root;
      found++;
    }
    left = right;
    f_left = f_right;
  }
  return found == m / 2 ? ICLV_QUAD_OK : ICLV_QUAD_NO_CONVERGENCE;
}

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
  int status = iclv_gauss_hermite(GK_REFERENCE_NODES, ref_x, ref_w);
  if (status != ICLV_QUAD_OK) return status;
  all_nodes[0] = 0.0;
  memset(all_weights, 0, sizeof all_weights);
  all_weights[0] = 1.0;
  for (int rule = 1; rule < ICLV_GK_N_RULES; rule++) {
    const int n_prev = gk_sizes[rule - 1], n = gk_sizes[rule];
    status = gk_extend(n_prev, n - n_prev, all_nodes, ref_x, ref_w);
    if (status != ICLV_QUAD_OK) return status;
    interpolatory_weights(n, all_nodes, ref_x, ref_w, all_weights + rule * ICLV_GK_MAX_POINTS);
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
 * exact for polynomials of total degree 2L - 1 (Heiss and Winschel 2008,
 * eq. 9). Nested rules make many points coincide: they are identified by
 * their Genz-Keister node numbers and merged. */

typedef struct {
  unsigned char node[ICLV_SPARSE_MAX_DIM]; /* Genz-Keister node number per dimension */
  double weight;
  double magnitude; /* sum of |contributions|, to recognise cancelled weights */
} sparse_entry;

typedef struct {
  int n_dim, level;
  int rule_of_level[ICLV_SPARSE_MAX_LEVEL + 1]; /* Genz-Keister rule index per 1-D level */
  const double *gk_weights;                      /* ICLV_GK_N_RULES x ICLV_GK_MAX_POINTS */
  int levels[ICLV_SPARSE_MAX_DIM];
  double coefficient;
  sparse_entry *entries; /* NULL while counting */
  size_t n_entries;
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
  if (ctx->entries == NULL) {
    ctx->n_entries += count;
    return;
  }
  for (size_t c = 0; c < count; c++) {
    sparse_entry *entry = ctx->entries + ctx->n_entries++;
    memset(entry->node, 0, sizeof entry->node);
    double weight = ctx->coefficient;
    for (int k = 0; k < ctx->n_dim; k++) {
      entry->node[k] = (unsigned char) at[k];
      weight *= ctx->gk_weights[rule[k] * ICLV_GK_MAX_POINTS + at[k]];
    }
    entry->weight = weight;
    entry->magnitude = fabs(weight);
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

static int compare_entries(const void *a, const void *b) {
  return memcmp(((const sparse_entry *) a)->node, ((const sparse_entry *) b)->node,
                ICLV_SPARSE_MAX_DIM);
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
  smolyak_sweep(&ctx); /* count */
  if (ctx.n_entries > max_points) return ICLV_QUAD_TOO_MANY_POINTS;
  const size_t n_entries = ctx.n_entries;
  ctx.entries = malloc(sizeof(sparse_entry) * n_entries);
  if (ctx.entries == NULL) return ICLV_QUAD_NO_MEMORY;
  ctx.n_entries = 0;
  smolyak_sweep(&ctx); /* fill */

  qsort(ctx.entries, n_entries, sizeof(sparse_entry), compare_entries);
  size_t n_merged = 0;
  for (size_t i = 0; i < n_entries;) {
    sparse_entry merged = ctx.entries[i];
    size_t j = i + 1;
    for (; j < n_entries && compare_entries(&merged, ctx.entries + j) == 0; j++) {
      merged.weight += ctx.entries[j].weight;
      merged.magnitude += ctx.entries[j].magnitude;
    }
    /* Keep the point unless its contributions cancel to rounding error. */
    if (fabs(merged.weight) > 64.0 * DBL_EPSILON * merged.magnitude)
      ctx.entries[n_merged++] = merged;
    i = j;
  }
  if (n_merged > 2147483647u) {
    free(ctx.entries);
    return ICLV_QUAD_TOO_MANY_POINTS;
  }
  double *points = malloc(sizeof(double) * (n_merged * (size_t) n_dim + 1));
  double *weights = malloc(sizeof(double) * (n_merged + 1));
  if (points == NULL || weights == NULL) {
    free(points);
    free(weights);
    free(ctx.entries);
    return ICLV_QUAD_NO_MEMORY;
  }
  for (size_t r = 0; r < n_merged; r++) {
    for (int k = 0; k < n_dim; k++) points[r + n_merged * (size_t) k] = gk_nodes[ctx.entries[r].node[k]];
    weights[r] = ctx.entries[r].weight;
  }
  free(ctx.entries);
  *points_out = points;
  *weights_out = weights;
  *n_points_out = (int) n_merged;
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
