/* The R crossing of the engine's integration points (points_glue.c). */
#ifndef ICLV_POINTS_GLUE_H
#define ICLV_POINTS_GLUE_H

#include <Rinternals.h>
#include "engine.h"

/* Allocates and fills a new engine's points from the list made by
 * points_input() in R/points.R (engine_create() calls it). */
void points_read(iclv_engine *e, SEXP input, int n_threads);

/* .Call entry points. */
SEXP engine_set_points(SEXP engine, SEXP input);
SEXP engine_point_moments(SEXP engine, SEXP theta, SEXP target);
SEXP engine_point_ess(SEXP engine, SEXP theta, SEXP spend);
SEXP standardise_draws(SEXP draws);

#endif
