/* .Call entry points for the quadrature rules (src/quadrature.c). The R
 * wrapper quadrature_rule() validates the arguments with friendly messages;
 * the checks here only keep C safe when it is called directly. */
#include <stdlib.h>
#include <string.h>

#include <R.h>
#include <Rinternals.h>

#include "quadrature.h"
#include "quadrature_glue.h"

static int scalar_count(SEXP x, const char *name) {
  if (!isNumeric(x) || XLENGTH(x) != 1) error("quadrature: %s must be a single number", name);
  const int value = asInteger(x);
  if (value == NA_INTEGER || value < 1) error("quadrature: %s must be a positive integer", name);
  return value;
}

SEXP quadrature_gauss_hermite(SEXP n_nodes) {
  const int n = scalar_count(n_nodes, "n_nodes");
  if (n > ICLV_GH_MAX_NODES)
    error("quadrature: Gauss-Hermite rules have at most %d nodes, got %d", ICLV_GH_MAX_NODES, n);
  const char *names[] = {"nodes", "weights", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SEXP nodes = allocVector(REALSXP, n);
  SET_VECTOR_ELT(out, 0, nodes);
  SEXP weights = allocVector(REALSXP, n);
  SET_VECTOR_ELT(out, 1, weights);
  const int status = iclv_gauss_hermite(n, REAL(nodes), REAL(weights));
  if (status != ICLV_QUAD_OK) {
    UNPROTECT(1);
    error("quadrature: %s", iclv_quadrature_message(status));
  }
  UNPROTECT(1);
  return out;
}

/* list(nodes = 35 nodes in joining order, weights = 35 x 5 matrix (rule i in
 * column i, 0 for nodes it does not use), sizes, degrees). */
SEXP quadrature_genz_keister(void) {
  const char *names[] = {"nodes", "weights", "sizes", "degrees", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SEXP nodes = allocVector(REALSXP, ICLV_GK_MAX_POINTS);
  SET_VECTOR_ELT(out, 0, nodes);
  SEXP weights = allocMatrix(REALSXP, ICLV_GK_MAX_POINTS, ICLV_GK_N_RULES);
  SET_VECTOR_ELT(out, 1, weights);
  SEXP sizes = allocVector(INTSXP, ICLV_GK_N_RULES);
  SET_VECTOR_ELT(out, 2, sizes);
  SEXP degrees = allocVector(INTSXP, ICLV_GK_N_RULES);
  SET_VECTOR_ELT(out, 3, degrees);
  const int status = iclv_genz_keister(REAL(nodes), REAL(weights), INTEGER(sizes),
                                       INTEGER(degrees));
  if (status != ICLV_QUAD_OK) {
    UNPROTECT(1);
    error("quadrature: %s", iclv_quadrature_message(status));
  }
  UNPROTECT(1);
  return out;
}

/* The C arrays of a rule while it is copied into R memory: held by an
 * external pointer whose finalizer frees them should an allocation fail. */
typedef struct {
  double *points, *weights;
} rule_arrays;

static void rule_arrays_free(rule_arrays *arrays) {
  free(arrays->points);
  free(arrays->weights);
  arrays->points = arrays->weights = NULL;
}

static void rule_arrays_finalize(SEXP holder) {
  rule_arrays *arrays = R_ExternalPtrAddr(holder);
  if (arrays == NULL) return;
  R_ClearExternalPtr(holder);
  rule_arrays_free(arrays);
  free(arrays);
}

/* list(points = R x n_dim matrix, weights = length R) of the tensor-product
 * Gauss-Hermite rule (sparse = FALSE, `nodes` per dimension) or the sparse
 * grid of accuracy level `nodes` (sparse = TRUE). */
SEXP quadrature_grid(SEXP n_dim, SEXP nodes, SEXP sparse, SEXP max_points) {
  const int d = scalar_count(n_dim, "n_dim"), n = scalar_count(nodes, "nodes");
  const int is_sparse = asLogical(sparse);
  if (XLENGTH(sparse) != 1 || is_sparse == NA_LOGICAL)
    error("quadrature: sparse must be TRUE or FALSE");
  const double limit = asReal(max_points);
  if (!(limit >= 1.0)) error("quadrature: max_points must be at least 1");

  rule_arrays *arrays = calloc(1, sizeof(rule_arrays));
  if (arrays == NULL) error("quadrature: out of memory");
  SEXP holder = PROTECT(R_MakeExternalPtr(arrays, R_NilValue, R_NilValue));
  R_RegisterCFinalizerEx(holder, rule_arrays_finalize, TRUE);
  int n_points = 0;
  const size_t most = limit > 2147483647.0 ? (size_t) 2147483647 : (size_t) limit;
  const int status = iclv_quadrature_grid(d, n, is_sparse, most, &arrays->points,
                                          &arrays->weights, &n_points);
  if (status != ICLV_QUAD_OK) {
    UNPROTECT(1); /* the finalizer frees whatever was allocated */
    error("quadrature: %s", iclv_quadrature_message(status));
  }

  const char *names[] = {"points", "weights", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SEXP points = allocMatrix(REALSXP, n_points, d);
  SET_VECTOR_ELT(out, 0, points);
  SEXP weights = allocVector(REALSXP, n_points);
  SET_VECTOR_ELT(out, 1, weights);
  if (n_points > 0) {
    memcpy(REAL(points), arrays->points, sizeof(double) * (size_t) n_points * (size_t) d);
    memcpy(REAL(weights), arrays->weights, sizeof(double) * (size_t) n_points);
  }
  rule_arrays_finalize(holder);
  UNPROTECT(2);
  return out;
}
