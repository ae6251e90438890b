/* .Call entry points of the quadrature rules (quadrature_glue.c). */
#ifndef ICLV_QUADRATURE_GLUE_H
#define ICLV_QUADRATURE_GLUE_H

#include <Rinternals.h>

SEXP quadrature_gauss_hermite(SEXP n_nodes);
SEXP quadrature_genz_keister(void);
SEXP quadrature_grid(SEXP n_dim, SEXP nodes, SEXP sparse, SEXP max_points);

#endif
