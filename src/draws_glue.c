/* Placeholder until src/draws.c lands (draws helper replaces this file). */
#include <R.h>
#include <Rinternals.h>
#include "glue.h"

SEXP make_draws(SEXP n_indiv, SEXP n_draws, SEXP n_dim, SEXP type, SEXP seed,
                SEXP antithetic, SEXP scramble) {
  error("make_draws: not yet implemented");
  return R_NilValue;
}
