/* Helpers of engine_glue.c that the other engine glue files share. */
#ifndef ICLV_ENGINE_ACCESS_H
#define ICLV_ENGINE_ACCESS_H

#include <Rinternals.h>
#include "engine.h"

/* The engine behind an external pointer (an R error when it is not one, or
 * has been freed). */
iclv_engine *engine_from(SEXP ptr);
/* An element of a named list (an R error when it is missing). */
SEXP list_get(SEXP list, const char *name);
/* An R error unless theta is a finite double vector of the engine's length. */
void check_theta(const iclv_engine *e, SEXP theta);

#endif
