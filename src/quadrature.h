/* Quadrature rules for integrals against the standard normal density:
 * Gauss-Hermite rules (Golub-Welsch), the nested Genz-Keister rules, and the
 * d-dimensional tensor-product and Smolyak sparse-grid rules built from
 * them. Pure C (no R headers); the R crossing is quadrature_glue.c.
 *
 * Every rule integrates against phi(x) = exp(-x^2 / 2) / sqrt(2 pi) (per
 * dimension), so its weights sum to 1. Layout of a d-dimensional rule with R
 * points: point r, dimension k at points[r + R * k] (an R x d matrix, as R
 * stores it). Sparse-grid weights may be negative. */
#ifndef ICLV_QUADRATURE_H
#define ICLV_QUADRATURE_H

#include <stddef.h>

/* Return codes. */
#define ICLV_QUAD_OK 0
#define ICLV_QUAD_BAD_ARG 1          /* a count or a level out of range */
#define ICLV_QUAD_NO_CONVERGENCE 2   /* the eigenvalue or root search failed */
#define ICLV_QUAD_NO_MEMORY 3
#define ICLV_QUAD_TOO_MANY_POINTS 4  /* the rule would pass the caller's max_points */

/* Gauss-Hermite rules: 1 .. ICLV_GH_MAX_NODES nodes. */
#define ICLV_GH_MAX_NODES 200

/* The Genz-Keister (1996) nested sequence: rules of 1, 3, 9, 19 and 35
 * points, each containing the previous one, exact for polynomials of degree
 * 1, 5, 15, 29 and 51. The 35 distinct nodes are numbered in the order they
 * join the sequence (0; +-sqrt(3); the 6 new nodes of the 9-point rule; ...),
 * so the rule with n points uses nodes 0 .. n - 1. */
#define ICLV_GK_N_RULES 5
#define ICLV_GK_MAX_POINTS 35

/* Sparse grids: accuracy level 1 .. ICLV_SPARSE_MAX_LEVEL (exact for total
 * degree 2 * level - 1; level 26 needs degree 51, the 35-point rule), in
 * 1 .. ICLV_SPARSE_MAX_DIM dimensions. */
#define ICLV_SPARSE_MAX_LEVEL 26
#define ICLV_SPARSE_MAX_DIM 10

/* The n-node Gauss-Hermite rule for phi: nodes ascending, exactly symmetric
 * about 0, weights summing to 1; exact for polynomials of degree 2n - 1.
 * Nodes from the eigenvalues of the Jacobi matrix (implicit QL), polished by
 * Newton steps on the orthonormal Hermite polynomial; weights from the
 * Christoffel function, so even the smallest carry full relative accuracy. */
int iclv_gauss_hermite(int n_nodes, double *nodes, double *weights);

/* The Genz-Keister sequence: nodes[ICLV_GK_MAX_POINTS] in joining order,
 * sizes[ICLV_GK_N_RULES], degrees[ICLV_GK_N_RULES] and
 * weights[ICLV_GK_N_RULES * ICLV_GK_MAX_POINTS], where rule i gives node j
 * weight weights[i * ICLV_GK_MAX_POINTS + j] (0 for j >= sizes[i]). The
 * nodes are tabulated (Genz and Keister 1996); the weights are computed as
 * the interpolatory weights on them. Any pointer may be NULL. */
int iclv_genz_keister(double *nodes, double *weights, int *sizes, int *degrees);

/* A d-dimensional rule: the tensor product of the n-node Gauss-Hermite rule
 * (sparse = 0; n^d points, the first dimension varying fastest), or the
 * Smolyak sparse grid of accuracy level n built from the Genz-Keister rules
 * (sparse = 1), with coinciding points merged and points whose weights cancel
 * dropped; sparse points come in the order of their Genz-Keister node
 * numbers. On success *points and *weights are malloc'ed arrays (the caller
 * frees them) of *n_points rows. max_points bounds the number of points
 * (for sparse grids, the distinct points before cancelled ones are dropped);
 * sparse grids whose combination sum has over 5e8 terms are refused too. */
int iclv_quadrature_grid(int n_dim, int n, int sparse, size_t max_points, double **points,
                         double **weights, int *n_points);

/* A short English description of a return code. */
const char *iclv_quadrature_message(int code);

#endif
