/* The engine's integration points made in place (see points.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "points.h"
#include "omp_compat.h"

/* The lower Cholesky factor out (D x D, column-major) of cov; 0 when cov is
 * not positive definite (pivots below 1e-12 of the diagonal count as 0). */
static int cholesky_lower(const double *cov, int D, double *out) {
  int ok = 1;
  for (int i = 0; i < D * D; i++) out[i] = 0.0;
  for (int j = 0; j < D; j++) {
    double pivot = cov[j + D * j];
    for (int k = 0; k < j; k++) pivot = pivot - out[j + D * k] * out[j + D * k];
    double scale = cov[j + D * j] > 1.0 ? cov[j + D * j] : 1.0;
    ok = ok && isfinite(pivot) && pivot > 1e-12 * scale;
    out[j + D * j] = sqrt(pivot > 0.0 ? pivot : 0.0);
    for (int i = j + 1; i < D; i++) {
      double value = cov[i + D * j];
      for (int k = 0; k < j; k++) value = value - out[i + D * k] * out[j + D * k];
      out[i + D * j] = value / out[j + D * j];
    }
  }
  return ok;
}

/* One person's R points of D dimensions, point r of dimension d at
 * x[r * r_step + d * d_step], shifted and rotated to mean exactly 0 and
 * covariance exactly I: z = F^-1 (x - mean) with F the Cholesky factor of
 * their covariance. Adaptive draws need it: the centre is a fixed point of
 * the posterior moments measured with the draws, and draws whose own spread
 * is below 1 would shrink it at every refresh. 0 when the covariance is
 * singular. `cov` and `factor` hold D x D doubles each. */
static int standardise_person(double *x, size_t r_step, size_t d_step, int R, int D,
                              double *cov, double *factor) {
#define X(r, d) x[(size_t) (r) * r_step + (size_t) (d) * d_step]
  for (int d = 0; d < D; d++) {
    long double sum = 0.0L;
    for (int r = 0; r < R; r++) sum += X(r, d);
    double mean = (double) (sum / R);
    for (int r = 0; r < R; r++) X(r, d) = X(r, d) - mean;
  }
  for (int d = 0; d < D; d++)
    for (int k = 0; k <= d; k++) {
      long double sum = 0.0L;
      for (int r = 0; r < R; r++) sum += X(r, d) * X(r, k);
      cov[d + D * k] = cov[k + D * d] = (double) (sum / R);
    }
  if (!cholesky_lower(cov, D, factor)) return 0;
  for (int r = 0; r < R; r++)
    for (int d = 0; d < D; d++) {
      double value = X(r, d);
      for (int k = 0; k < d; k++) value = value - factor[d + D * k] * X(r, k);
      X(r, d) = value / factor[d + D * d];
    }
#undef X
  return 1;
}

/* One person's base points z (D x R, [d][r]) moved to eta = m + C z in
 * place, with log weights log(|w_r| |det C| phi(eta) / phi(z)) (floored at
 * the smallest double: a point that small contributes nothing, and a weight
 * of 0 has no logarithm) and signs of w_r. `z` holds D doubles. 1 when a
 * weight is not finite. */
static int move_person(double *x, int R, int D, const double *m, const double *c,
                       const double *w, double *log_weight, double *sign, double *z) {
  int bad = 0;
  for (int r = 0; r < R; r++) {
    for (int d = 0; d < D; d++) z[d] = x[(size_t) d * R + r];
    double lw = log(fabs(w[r]));
    for (int d = 0; d < D; d++) {
      double eta = m[d];
      for (int k = 0; k <= d; k++) eta = eta + c[d + D * k] * z[k];
      x[(size_t) d * R + r] = eta;
      lw = lw + log(c[d + D * d]) - 0.5 * (eta * eta) + 0.5 * (z[d] * z[d]);
    }
    double weight = exp(lw);
    if (weight < DBL_MIN) weight = DBL_MIN;
    bad |= !isfinite(weight);
    log_weight[r] = log(weight);
    if (sign != NULL) sign[r] = w[r] < 0.0 ? -1.0 : 1.0;
  }
  return bad;
}

/* The base points into eta ([n][d][r]). */
static int fill_base(double *eta, int N, int R, int D, const iclv_points_source *source,
                     int n_threads) {
  if (source->kind == ICLV_POINTS_DRAWS) {
    iclv_draws_spec spec = source->spec;
    spec.layout = ICLV_DRAWS_LAYOUT_ENGINE;
    spec.n_threads = n_threads;
    int status = iclv_draws_fill(&spec, eta);
    return status == ICLV_DRAWS_OK ? ICLV_POINTS_OK : ICLV_POINTS_DRAWS_FAILED + status;
  }
  const size_t n_indiv = (size_t) N, n_draws = (size_t) R;
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (int n = 0; n < N; n++)
    for (int d = 0; d < D; d++) {
      double *to = eta + ((size_t) n * D + d) * n_draws;
      if (source->kind == ICLV_POINTS_ARRAY)
        for (size_t r = 0; r < n_draws; r++)
          to[r] = source->array[(size_t) n + n_indiv * (r + n_draws * (size_t) d)];
      else
        for (size_t r = 0; r < n_draws; r++) to[r] = source->nodes[r + n_draws * (size_t) d];
    }
  return ICLV_POINTS_OK;
}

int iclv_points_fill(iclv_draws *dr, int n_indiv, const iclv_points_source *source,
                     const iclv_centre *centre, int n_threads, int *bad) {
  const int N = n_indiv, R = dr->n_draws, D = dr->n_dim;
  if (n_threads < 1) n_threads = 1;
  int status = fill_base(dr->eta, N, R, D, source, n_threads);
  if (status != ICLV_POINTS_OK) return status;
  const int moved = centre != NULL && centre->mean != NULL && centre->chol != NULL;
  if (moved && dr->weight_stride == 0) return ICLV_POINTS_BAD_WEIGHT;
  const size_t per_thread = 2 * (size_t) D * D + (size_t) D;
  double *work = malloc(sizeof(double) * per_thread * (size_t) n_threads);
  if (work == NULL) return ICLV_POINTS_NO_MEMORY;
  int first_bad = N, bad_weight = 0;
#pragma omp parallel for num_threads(n_threads) schedule(static) \
  reduction(min : first_bad) reduction(| : bad_weight)
  for (int n = 0; n < N; n++) {
    double *cov = work + per_thread * (size_t) iclv_thread_num();
    double *factor = cov + (size_t) D * D, *z = factor + (size_t) D * D;
    double *x = dr->eta + (size_t) n * D * R;
    if (source->standardise && !standardise_person(x, 1, (size_t) R, R, D, cov, factor)) {
      if (n < first_bad) first_bad = n;
      continue;
    }
    if (!moved) continue;
    /* The person's centre: m in cov, C in factor. */
    for (int d = 0; d < D; d++) {
      cov[d] = centre->mean[(size_t) n + (size_t) N * d];
      for (int k = 0; k < D; k++)
        factor[d + D * k] = centre->chol[(size_t) n + (size_t) N * (d + (size_t) D * k)];
    }
    bad_weight |= move_person(x, R, D, cov, factor, source->weights,
                              dr->log_weight + (size_t) n * R,
                              dr->weight_sign ? dr->weight_sign + (size_t) n * R : NULL, z);
  }
  free(work);
  if (first_bad < N) {
    *bad = first_bad;
    return ICLV_POINTS_DEGENERATE;
  }
  if (bad_weight) return ICLV_POINTS_BAD_WEIGHT;
  if (moved) return ICLV_POINTS_OK;
  /* Unmoved points: every row of weights is the base weights. */
  const int rows = dr->weight_stride ? N : 1;
  for (int n = 0; n < rows; n++)
    for (int r = 0; r < R; r++) {
      size_t at = (size_t) n * dr->weight_stride + r;
      dr->log_weight[at] = log(fabs(source->weights[r]));
      if (dr->weight_sign != NULL) dr->weight_sign[at] = source->weights[r] < 0.0 ? -1.0 : 1.0;
    }
  return ICLV_POINTS_OK;
}

int iclv_points_standardise_array(double *x, int n_indiv, int n_draws, int n_dim, int *bad) {
  const size_t N = (size_t) n_indiv;
  double *work = malloc(sizeof(double) * 2 * (size_t) n_dim * n_dim);
  if (work == NULL) return ICLV_POINTS_NO_MEMORY;
  for (int n = 0; n < n_indiv; n++)
    if (!standardise_person(x + n, N, N * n_draws, n_draws, n_dim, work,
                            work + (size_t) n_dim * n_dim)) {
      *bad = n;
      free(work);
      return ICLV_POINTS_DEGENERATE;
    }
  free(work);
  return ICLV_POINTS_OK;
}

/* The effective sample size (sum w)^2 / sum w^2. */
static double effective_size(const double *w, int R) {
  long double sum = 0.0L, sum_sq = 0.0L;
  for (int r = 0; r < R; r++) {
    sum += w[r];
    sum_sq += w[r] * w[r];
  }
  double total = (double) sum;
  return total * total / (double) sum_sq;
}

double iclv_points_ess(const double *loglik, int n_draws) {
  double top = loglik[0];
  for (int r = 1; r < n_draws; r++)
    if (loglik[r] > top) top = loglik[r];
  long double sum = 0.0L, sum_sq = 0.0L;
  for (int r = 0; r < n_draws; r++) {
    double w = exp(loglik[r] - top);
    sum += w;
    sum_sq += w * w;
  }
  double total = (double) sum;
  return total * total / (double) sum_sq;
}

void iclv_points_moments(const double *eta, int n_draws, int n_dim, const double *loglik,
                         double target, double *work, double *mean, double *cov) {
  const int R = n_draws, D = n_dim;
  double top = loglik[0];
  for (int r = 1; r < R; r++)
    if (loglik[r] > top) top = loglik[r];
  for (int r = 0; r < R; r++) work[r] = exp(loglik[r] - top);
  double beta = 1.0;
  if (effective_size(work, R) < target) {
    double lower = 0.0, upper = 1.0;
    for (int i = 0; i < 40; i++) {
      double mid = (lower + upper) / 2;
      for (int r = 0; r < R; r++) work[r] = exp(mid * (loglik[r] - top));
      if (effective_size(work, R) >= target) lower = mid;
      else upper = mid;
    }
    beta = lower;
  }
  long double sum = 0.0L;
  for (int r = 0; r < R; r++) {
    work[r] = exp(beta * (loglik[r] - top));
    sum += work[r];
  }
  const double total = (double) sum;
  for (int r = 0; r < R; r++) work[r] = work[r] / total;
  for (int d = 0; d < D; d++) {
    long double s = 0.0L;
    for (int r = 0; r < R; r++) s += work[r] * eta[(size_t) d * R + r];
    mean[d] = (double) s;
  }
  for (int d = 0; d < D; d++)
    for (int k = 0; k <= d; k++) {
      long double s = 0.0L;
      for (int r = 0; r < R; r++)
        s += work[r] * (eta[(size_t) d * R + r] - mean[d]) * (eta[(size_t) k * R + r] - mean[k]);
      cov[d + D * k] = cov[k + D * d] = (double) s;
    }
}
