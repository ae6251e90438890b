/* .Call entry point for the draws generator (src/draws.c). The R wrapper
 * iclv_draws() validates the arguments with friendly messages; the checks
 * here only keep C safe when it is called directly. */
#include <string.h>

#include <R.h>
#include <Rinternals.h>

#include "draws.h"
#include "glue.h"

static int scalar_count(SEXP x, const char *name) {
  if (!isNumeric(x) || XLENGTH(x) != 1) error("make_draws: %s must be a single number", name);
  int value = asInteger(x);
  if (value == NA_INTEGER || value < 1) error("make_draws: %s must be a positive integer", name);
  return value;
}

static int scalar_flag(SEXP x, const char *name) {
  int value = asLogical(x);
  if (XLENGTH(x) != 1 || value == NA_LOGICAL) error("make_draws: %s must be TRUE or FALSE", name);
  return value;
}

static int draw_type_code(SEXP type) {
  if (!isString(type) || XLENGTH(type) != 1 || STRING_ELT(type, 0) == NA_STRING)
    error("make_draws: type must be a single string");
  const char *name = CHAR(STRING_ELT(type, 0));
  int code = iclv_draws_type_code(name);
  if (code < 0) error("make_draws: unknown draw type \"%s\"", name);
  return code;
}

SEXP make_draws(SEXP n_indiv, SEXP n_draws, SEXP n_dim, SEXP type, SEXP seed,
                SEXP antithetic, SEXP scramble) {
  iclv_draws_spec spec = {0};
  spec.n_indiv = scalar_count(n_indiv, "n_indiv");
  spec.n_draws = scalar_count(n_draws, "n_draws");
  spec.n_dim = scalar_count(n_dim, "n_dim");
  spec.type = draw_type_code(type);
  int seed_value = asInteger(seed);
  if (!isNumeric(seed) || XLENGTH(seed) != 1 || seed_value == NA_INTEGER)
    error("make_draws: seed must be a single integer");
  spec.seed = (uint64_t) (int64_t) seed_value;
  spec.antithetic = scalar_flag(antithetic, "antithetic");
  spec.scramble = scalar_flag(scramble, "scramble");
  /* One thread: the .Call interface has no thread count to respect the
   * user's choice and CRAN's limit with (the C core can use more). */
  spec.n_threads = 1;

  R_xlen_t length = (R_xlen_t) spec.n_indiv * spec.n_draws * spec.n_dim;
  SEXP draws = PROTECT(allocVector(REALSXP, length));
  SEXP dims = PROTECT(allocVector(INTSXP, 3));
  INTEGER(dims)[0] = spec.n_indiv;
  INTEGER(dims)[1] = spec.n_draws;
  INTEGER(dims)[2] = spec.n_dim;
  setAttrib(draws, R_DimSymbol, dims);

  int status = iclv_draws_fill(&spec, REAL(draws));
  if (status != ICLV_DRAWS_OK) {
    UNPROTECT(2);
    error("make_draws: %s", iclv_draws_message(status));
  }
  UNPROTECT(2);
  return draws;
}
