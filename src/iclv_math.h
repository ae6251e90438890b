/* The per-(individual, draw) maths of the ICLV likelihood, written once and
 * shared by the CPU loops (engine.c) and the CUDA kernels (cuda/).
 *
 * Everything here is `static inline`, branch-free where it sits inside a loop
 * over draws (selects, not ifs), so that gcc turns those loops into SIMD loops
 * calling glibc's vector erfc/exp/log. Section numbers refer to the vignette
 * "likelihood" (vignettes/likelihood.Rmd); notes/architecture.md has the index
 * conventions. */
#ifndef ICLV_MATH_H
#define ICLV_MATH_H

#include <math.h>

/* A function of the shared headers: compiled for the host and the device
 * under nvcc, always inlined under gcc, so that a family flag passed as a
 * constant leaves no branch in the caller's SIMD loop. */
#ifdef __CUDACC__
#define ICLV_INLINE_HOST_DEVICE static __forceinline__ __host__ __device__
#elif defined(__GNUC__)
#define ICLV_INLINE_HOST_DEVICE __attribute__((always_inline)) static inline
#else
#define ICLV_INLINE_HOST_DEVICE static inline
#endif

/* Helpers of the CPU engine's own loops (engine.c): always inlined as well,
 * for the host only. */
#if defined(__GNUC__) && !defined(__CUDACC__)
#define ICLV_ALWAYS_INLINE __attribute__((always_inline)) static inline
#else
#define ICLV_ALWAYS_INLINE static inline
#endif

/* Vector variants of libm's functions (glibc libmvec). configure defines
 * ICLV_HAVE_LIBMVEC only when a test program using them links and runs. */
#if defined(ICLV_HAVE_LIBMVEC) && !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((__simd__("notinbranch"))) double erfc(double);
__attribute__((__simd__("notinbranch"))) double exp(double);
__attribute__((__simd__("notinbranch"))) double log(double);
#endif

#define ICLV_FAMILY_PROBIT 0
#define ICLV_FAMILY_LOGIT 1
#define ICLV_FAMILY_CONTINUOUS 2

/* Standardised bounds are clamped where the tail probability and the density
 * are still normal numbers (about 1e-300): beyond that they are 0 to double
 * precision, and staying inside the range keeps glibc's vector erfc and exp
 * off their slow scalar paths for underflow. A missing bound (category 1 or J)
 * clamps the same way. */
#define ICLV_BOUND_PROBIT 37.0
#define ICLV_BOUND_LOGIT 690.0
/* Cell probabilities are floored before their log; a floored cell has zero
 * gradient (the floored function is flat there). */
#define ICLV_PROB_FLOOR 1.0e-300
#define ICLV_LOG_SQRT_2PI 0.91893853320467274178
#define ICLV_INV_SQRT_2PI 0.39894228040143267794
#define ICLV_SQRT1_2 0.70710678118654752440

/* Selects rather than fmin/fmax: gcc inlines these as vector min/max (an
 * infinite bound clamps too); fmin/fmax stay library calls and stop SIMD. */
ICLV_INLINE_HOST_DEVICE double iclv_clamp_bound(int logit, double x) {
  const double bound = logit ? ICLV_BOUND_LOGIT : ICLV_BOUND_PROBIT;
  x = x < -bound ? -bound : x;
  return x > bound ? bound : x;
}

ICLV_INLINE_HOST_DEVICE double iclv_max(double a, double b) { return a > b ? a : b; }

/* exp of a difference from a running maximum (x <= 0). Below -700 the result
 * is under 1e-304, nothing next to the maximum's 1; clamping there keeps the
 * vector exp off its slow path for underflow (25 ns instead of 1.4 here). */
#define ICLV_EXP_FLOOR_ARG -700.0
ICLV_INLINE_HOST_DEVICE double iclv_exp_shifted(double x) {
  return exp(x < ICLV_EXP_FLOOR_ARG ? ICLV_EXP_FLOOR_ARG : x);
}

/* Lower-tail CDF and density of the standard normal (probit) or logistic. */
ICLV_INLINE_HOST_DEVICE double iclv_cdf(int logit, double x) {
  if (logit) return 1.0 / (1.0 + exp(-x));
  return 0.5 * erfc(-x * ICLV_SQRT1_2);
}

ICLV_INLINE_HOST_DEVICE double iclv_pdf(int logit, double x) {
  if (logit) {
    double e = exp(-fabs(x));
    return e / ((1.0 + e) * (1.0 + e));
  }
  return ICLV_INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* Result of one ordered cell for one draw: the log probability and the
 * derivatives of the log probability with respect to the two thresholds,
 * the linear predictor mu and the residual scale s. */
typedef struct iclv_cell {
  double logp, d_tau_hi, d_tau_lo, d_mu, d_scale;
} iclv_cell;

/* Ordered cell P = F(hi) - F(lo), hi = (tau_j - mu)/s, lo = (tau_{j-1} - mu)/s
 * (vignette "likelihood", sections 1.2, 5.1 and 6). When both bounds lie in the
 * upper half the cell is taken as a difference of upper tails, F(-lo) - F(-hi), so there is no 1 - 1
 * cancellation. The first category has no lower bound (has_lo = 0: P = F(hi))
 * and the last no upper bound (has_hi = 0: P = F(-lo)); passed as constants,
 * these flags leave one CDF and one density instead of two. */
/* A cell's standardised bound (tau - mu) / s, clamped; 0 when the bound is
 * missing (has = 0: the first category's lower, the last one's upper). */
ICLV_INLINE_HOST_DEVICE double iclv_cell_bound(int logit, int has, double tau, double mu,
                                               double inv_scale) {
  return has ? iclv_clamp_bound(logit, (tau - mu) * inv_scale) : 0.0;
}

ICLV_INLINE_HOST_DEVICE iclv_cell iclv_ordered_cell_bounds(int logit, int has_lo, int has_hi, double tau_lo,
                                           double tau_hi, double mu, double inv_scale) {
  double lo = iclv_cell_bound(logit, has_lo, tau_lo, mu, inv_scale);
  double hi = iclv_cell_bound(logit, has_hi, tau_hi, mu, inv_scale);
  double p, f_lo = 0.0, f_hi = 0.0;
  if (has_lo && has_hi) {
    int upper = lo > 0.0;
    double x_hi = upper ? -lo : hi;
    double x_lo = upper ? -hi : lo;
    p = iclv_cdf(logit, x_hi) - iclv_cdf(logit, x_lo);
  } else if (has_hi) {
    p = iclv_cdf(logit, hi);
  } else {
    p = iclv_cdf(logit, -lo);
  }
  if (has_lo) f_lo = iclv_pdf(logit, lo);
  if (has_hi) f_hi = iclv_pdf(logit, hi);
  int ok = p > ICLV_PROB_FLOOR;
  p = ok ? p : ICLV_PROB_FLOOR;
  double k = inv_scale / p; /* p >= floor: no division by zero, no branch */
  k = ok ? k : 0.0;
  iclv_cell c;
  c.logp = log(p);
  c.d_tau_hi = f_hi * k;
  c.d_tau_lo = -f_lo * k;
  c.d_mu = -(c.d_tau_hi + c.d_tau_lo);
  c.d_scale = -(hi * c.d_tau_hi + lo * c.d_tau_lo);
  return c;
}

/* The same for any category: a missing bound is passed as -/+ infinity. */
ICLV_INLINE_HOST_DEVICE iclv_cell iclv_ordered_cell(int logit, double tau_lo, double tau_hi, double mu,
                                    double inv_scale) {
  return iclv_ordered_cell_bounds(logit, 1, 1, tau_lo, tau_hi, mu, inv_scale);
}

/* Continuous indicator: log density of N(mu, s^2) at y, given log s. */
ICLV_INLINE_HOST_DEVICE iclv_cell iclv_normal_density(double y, double mu, double inv_scale,
                                                    double log_scale) {
  double z = (y - mu) * inv_scale;
  iclv_cell c;
  c.logp = -ICLV_LOG_SQRT_2PI - log_scale - 0.5 * z * z;
  c.d_tau_hi = 0.0;
  c.d_tau_lo = 0.0;
  c.d_mu = z * inv_scale;
  c.d_scale = (z * z - 1.0) * inv_scale;
  return c;
}

/* ---- second derivatives (vignette "likelihood", section 7) ------------------ */

/* The second derivatives of one cell's log probability (ordered) or log
 * density (continuous) with respect to mu, the scale s and the upper and
 * lower thresholds: mm = d2/dmu2, ms = d2/dmu ds, ..., hl = d2/dtau_hi
 * dtau_lo. */
typedef struct iclv_cell2 {
  double mm, ms, ss, mh, ml, sh, sl, hh, ll, hl;
} iclv_cell2;

/* f'(x) / f(x) for the density f of F: -x (normal), -tanh(x / 2) (logistic,
 * from exp(-|x|) so that it neither overflows nor calls tanh). */
ICLV_INLINE_HOST_DEVICE double iclv_pdf_slope(int logit, double x) {
  if (!logit) return -x;
  const double e = exp(-fabs(x)), t = (1.0 - e) / (1.0 + e);
  return x > 0.0 ? -t : t;
}

/* Ordered cell P = F(hi) - F(lo) from its standardised bounds (clamped, 0
 * where missing: iclv_cell_bound()) and its first derivatives in the
 * thresholds (d_tau_hi and d_tau_lo of iclv_ordered_cell_bounds()). With
 * u = f(hi)/P and v = f(lo)/P,
 * log P has derivatives u and -v in hi and lo, and
 *   d2/dhi2 = psi(hi) u - u^2,  d2/dlo2 = -psi(lo) v - v^2,  d2/dhi dlo = u v
 * (psi = f'/f); hi = (tau_hi - mu)/s and lo = (tau_lo - mu)/s carry them to
 * mu, s and the thresholds, with the second derivatives of hi and lo in s.
 * A missing bound has f = 0, and a floored cell zero first derivatives, so
 * their terms vanish. */
ICLV_INLINE_HOST_DEVICE iclv_cell2 iclv_ordered_cell_second(int logit, double lo, double hi,
                                                            double d_tau_lo, double d_tau_hi,
                                                            double inv_scale) {
  const double u = d_tau_hi / inv_scale, v = -d_tau_lo / inv_scale;
  const double l_b = u, l_a = -v;
  const double l_bb = iclv_pdf_slope(logit, hi) * u - u * u;
  const double l_aa = -iclv_pdf_slope(logit, lo) * v - v * v;
  const double l_ab = u * v;
  const double k2 = inv_scale * inv_scale;
  iclv_cell2 c;
  c.mm = k2 * (l_bb + l_aa + 2.0 * l_ab);
  c.ms = k2 * (hi * l_bb + lo * l_aa + (lo + hi) * l_ab + l_b + l_a);
  c.ss = k2 * (hi * hi * l_bb + lo * lo * l_aa + 2.0 * lo * hi * l_ab + 2.0 * (hi * l_b + lo * l_a));
  c.mh = -k2 * (l_bb + l_ab);
  c.ml = -k2 * (l_aa + l_ab);
  c.sh = -k2 * (hi * l_bb + lo * l_ab + l_b);
  c.sl = -k2 * (lo * l_aa + hi * l_ab + l_a);
  c.hh = k2 * l_bb;
  c.ll = k2 * l_aa;
  c.hl = k2 * l_ab;
  return c;
}

/* Continuous indicator, z = (y - mu)/s: d2/dmu2 = -1/s^2, d2/dmu ds =
 * -2z/s^2, d2/ds2 = (1 - 3z^2)/s^2; no thresholds. */
ICLV_INLINE_HOST_DEVICE iclv_cell2 iclv_normal_density_second(double z, double inv_scale) {
  const double k2 = inv_scale * inv_scale;
  iclv_cell2 c;
  c.mm = -k2;
  c.ms = -2.0 * z * k2;
  c.ss = (1.0 - 3.0 * z * z) * k2;
  c.mh = c.ml = c.sh = c.sl = c.hh = c.ll = c.hl = 0.0;
  return c;
}

#endif
