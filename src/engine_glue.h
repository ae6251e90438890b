/* What the glue files share about the host engine (engine_glue.c): the
 * engine behind an R pointer, named list elements, the check of theta, and
 * the R list of an evaluation's results, built once for every backend. */
#ifndef ICLV_ENGINE_GLUE_H
#define ICLV_ENGINE_GLUE_H

#include <Rinternals.h>
#include "engine.h"

/* The host engine of an engine pointer (an R error when it is not one, or
 * freed). */
iclv_engine *engine_from(SEXP ptr);

/* An element of a named list (an R error when it is missing). */
SEXP list_get(SEXP list, const char *name);

/* An R error unless theta is a finite double vector of length n_par. */
void engine_check_theta(const iclv_engine *e, SEXP theta);

/* list(loglik, gradient, loglik_indiv, scores, n_nonpositive, nonpositive,
 * hessian = NULL)
 * from the engine's per-individual arrays (loglik_indiv, nonpositive and
 * n_nonpositive; with `want_scores`, the row-major scores in grad_indiv,
 * returned individuals x parameters). `grad` is the gradient or NULL. */
SEXP score_columns(const iclv_engine *e, SEXP columns);
SEXP engine_result(const iclv_engine *e, double loglik, SEXP grad, SEXP columns);

#endif
