/* Placeholder: the engine lands next. */
#include <R.h>
#include <Rinternals.h>
#include "glue.h"
SEXP engine_create(SEXP plan, SEXP data, SEXP draws, SEXP draw_weights, SEXP n_threads) { error("engine: not yet"); return R_NilValue; }
SEXP engine_eval(SEXP engine, SEXP theta, SEXP gradient, SEXP scores, SEXP choice) { error("engine: not yet"); return R_NilValue; }
SEXP engine_predict(SEXP engine, SEXP theta, SEXP type) { error("engine: not yet"); return R_NilValue; }
SEXP engine_info(SEXP engine) { error("engine: not yet"); return R_NilValue; }
