/* The engine's integration points, made where they live: the engine fills
 * its own array of points from their source (a draws recipe, the user's
 * array, a quadrature rule), standardises each person's draws when the
 * integration is adaptive, and moves them to each person's posterior
 * (eta_nr = m_n + C_n z_r, with weights w_r |det C_n| phi(eta_nr) /
 * phi(z_r); vignette "likelihood", section 3), all in place, so that no
 * copy of the points exists outside the engine. Pure C: no R headers; the
 * R crossing is points_glue.c.
 *
 * The arithmetic is that of the R code it replaced, operation by operation
 * (sums in long double, as R's rowSums() and rowMeans() do), so that the
 * points and weights are bitwise those of before. */
#ifndef ICLV_POINTS_H
#define ICLV_POINTS_H

#include "draws.h"
#include "engine.h"

#define ICLV_POINTS_DRAWS 0 /* generated from a recipe */
#define ICLV_POINTS_ARRAY 1 /* the user's array */
#define ICLV_POINTS_RULE 2  /* a quadrature rule: the same nodes for everyone */

/* Return codes of iclv_points_fill() and iclv_points_standardise_array();
 * a draws generator's error code e comes back as ICLV_POINTS_DRAWS_FAILED + e. */
#define ICLV_POINTS_OK 0
#define ICLV_POINTS_DEGENERATE 1     /* a person's draws have a singular covariance */
#define ICLV_POINTS_BAD_WEIGHT 2     /* a moved weight is not finite */
#define ICLV_POINTS_NO_MEMORY 3
#define ICLV_POINTS_DRAWS_FAILED 100

typedef struct iclv_points_source {
  int kind;              /* ICLV_POINTS_DRAWS, _ARRAY or _RULE */
  iclv_draws_spec spec;  /* DRAWS: the recipe (its layout and threads are set here) */
  const double *array;   /* ARRAY: N x R x D in R's layout */
  const double *nodes;   /* RULE: R x D, column-major */
  const double *weights; /* the R base weights w_r (negative for some sparse-grid nodes) */
  int standardise;       /* each person's points to mean 0 and covariance I */
} iclv_points_source;

/* A centre of adaptive integration in R's layout, or NULL pointers for none:
 * mean[n + N * d] = m_n[d], chol[n + N * (d + D * k)] = C_n[d, k] (lower
 * triangular, positive diagonal). */
typedef struct iclv_centre {
  const double *mean, *chol;
} iclv_centre;

/* Fills dr (eta: N x D x R; log_weight: R, or N x R when dr->weight_stride
 * is R; weight_sign when not NULL) for N people from `source`, moved by
 * `centre` when it has one (which needs per-person weights). On
 * ICLV_POINTS_DEGENERATE, *bad is the first such person (0-based). Allocates
 * only scratch space, freed on every path; threads do not change the
 * result. */
int iclv_points_fill(iclv_draws *dr, int n_indiv, const iclv_points_source *source,
                     const iclv_centre *centre, int n_threads, int *bad);

/* Standardises each person's draws of an N x R x D array in R's layout, in
 * place (what iclv_points_fill() does with `standardise`). */
int iclv_points_standardise_array(double *x, int n_indiv, int n_draws, int n_dim, int *bad);

/* The posterior moments that move a person's centre: with the log weights
 * loglik[r] = log(|w_r| p(y | eta_r)) of the person's points eta (D x R,
 * [d][r]), weights tempered to an effective sample size of at least
 * `target` (w_r^beta, the largest beta <= 1 found by bisection that keeps
 * it), normalised; mean[d] and cov[d + D * k] (both triangles) of eta under
 * them. `work` holds R doubles. */
void iclv_points_moments(const double *eta, int n_draws, int n_dim, const double *loglik,
                         double target, double *work, double *mean, double *cov);

/* The effective sample size (sum v)^2 / sum v^2 of the weights
 * v_r = exp(loglik[r]) of a person's R points (computed from exp(loglik -
 * max), which does not change it). */
double iclv_points_ess(const double *loglik, int n_draws);

#endif
