/* The R crossing of the engine's integration points (src/points.c): a new
 * engine fills its points from the list points_input() makes in
 * R/points.R, an engine refills them for a new centre in place, and gives
 * the posterior moments that move the centre. */
#include <stdlib.h>
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include "engine_glue.h"
#include "omp_compat.h"
#include "points.h"
#include "points_glue.h"

/* A double array with the given dimensions (NULL when the element is NULL
 * and `optional`). */
static const double *real_array(SEXP input, const char *name, int optional, int n_dims,
                                const int *want) {
  SEXP x = list_get(input, name);
  if (optional && x == R_NilValue) return NULL;
  SEXP dim = getAttrib(x, R_DimSymbol);
  int ok = TYPEOF(x) == REALSXP && (n_dims == 1 || XLENGTH(dim) == n_dims);
  R_xlen_t length = 1;
  for (int i = 0; i < n_dims; i++) {
    length *= want[i];
    if (ok && n_dims > 1) ok = INTEGER(dim)[i] == want[i];
  }
  if (!ok || XLENGTH(x) != length)
    error("points input '%s' must be a double array of %d dimension(s) (%d x %d x %d)", name,
          n_dims, want[0], n_dims > 1 ? want[1] : 1, n_dims > 2 ? want[2] : 1);
  return REAL(x);
}

static int flag(SEXP input, const char *name) { return asLogical(list_get(input, name)) == TRUE; }

/* The points list as a source and a centre, checked against N people and D
 * dimensions. Returns the number of points R; *per_person: whether the
 * weights differ between people (adaptive points). */
static int parse_points(SEXP input, int N, int D, iclv_points_source *source,
                        iclv_centre *centre, int *per_person) {
  memset(source, 0, sizeof *source);
  const char *kind = CHAR(asChar(list_get(input, "kind")));
  const int R = asInteger(list_get(input, "n_draws"));
  if (R == NA_INTEGER || R < 1) error("points input: n_draws must be a positive integer");
  int dims[3] = {R, 0, 0};
  source->weights = real_array(input, "weights", 0, 1, dims);
  for (int r = 0; r < R; r++)
    if (!R_FINITE(source->weights[r]) || source->weights[r] == 0.0)
      error("draw weight %d is zero or not finite", r + 1);
  source->standardise = flag(input, "standardise");
  *per_person = flag(input, "per_person");
  if (strcmp(kind, "draws") == 0) {
    source->kind = ICLV_POINTS_DRAWS;
    iclv_draws_spec *spec = &source->spec;
    spec->n_indiv = N;
    spec->n_draws = R;
    spec->n_dim = D;
    spec->type = iclv_draws_type_code(CHAR(asChar(list_get(input, "draw_type"))));
    if (spec->type < 0) error("points input: unknown draw type");
    int seed = asInteger(list_get(input, "seed"));
    if (seed == NA_INTEGER) error("points input: seed must be an integer");
    spec->seed = (uint64_t) (int64_t) seed;
    spec->scramble = flag(input, "scramble");
    /* A shard's people: their draws are those of their places in the whole
     * sample (R/cluster.R). */
    spec->first_indiv = asInteger(list_get(input, "first"));
    if (spec->first_indiv == NA_INTEGER || spec->first_indiv < 0)
      error("points input: first must be a non-negative integer");
  } else if (strcmp(kind, "array") == 0) {
    source->kind = ICLV_POINTS_ARRAY;
    int want[3] = {N, R, D};
    source->array = real_array(input, "array", 0, 3, want);
  } else if (strcmp(kind, "rule") == 0) {
    source->kind = ICLV_POINTS_RULE;
    int want[2] = {R, D};
    source->nodes = real_array(input, "nodes", 0, 2, want);
  } else {
    error("points input: unknown kind \"%s\"", kind);
  }
  int want_mean[2] = {N, D}, want_chol[3] = {N, D, D};
  centre->mean = real_array(input, "mean", 1, 2, want_mean);
  centre->chol = real_array(input, "chol", 1, 3, want_chol);
  if ((centre->mean == NULL) != (centre->chol == NULL))
    error("points input: a centre needs both its mean and its Cholesky factor");
  if (centre->mean != NULL && !*per_person)
    error("points input: moved points need per-person weights");
  return R;
}

static int any_negative(const double *w, int R) {
  for (int r = 0; r < R; r++)
    if (w[r] < 0.0) return 1;
  return 0;
}

/* Fills the engine's points; an R error saying why it failed. */
static void fill_or_fail(iclv_engine *e, const iclv_points_source *source,
                         const iclv_centre *centre, int n_threads) {
  int bad = 0;
  int status = iclv_points_fill(&e->draws, e->data.n_indiv, source, centre, n_threads, &bad);
  switch (status) {
  case ICLV_POINTS_OK: return;
  case ICLV_POINTS_DEGENERATE:
    error("the draws of some individuals are degenerate (rows %d)", bad + 1);
  case ICLV_POINTS_BAD_WEIGHT:
    error("a weight of the moved integration points is not finite");
  case ICLV_POINTS_NO_MEMORY: error("out of memory making the integration points");
  default: error("cannot make the draws: %s", iclv_draws_message(status - ICLV_POINTS_DRAWS_FAILED));
  }
}

void points_read(iclv_engine *e, SEXP input, int n_threads) {
  iclv_draws *dr = &e->draws;
  const int N = e->data.n_indiv, D = e->plan.n_lv;
  iclv_points_source source;
  iclv_centre centre;
  int per_person;
  const int R = parse_points(input, N, D, &source, &centre, &per_person);
  dr->n_draws = R;
  dr->n_dim = D;
  dr->weight_stride = per_person ? (size_t) R : 0;
  dr->signed_weights = any_negative(source.weights, R);
  char msg[256];
  if (iclv_draws_alloc(e, msg, sizeof msg) != 0) error("%s", msg);
  fill_or_fail(e, &source, &centre, n_threads);
}

SEXP engine_set_points(SEXP engine, SEXP input) {
  iclv_engine *e = engine_from(engine);
  iclv_draws *dr = &e->draws;
  iclv_points_source source;
  iclv_centre centre;
  int per_person;
  const int R = parse_points(input, e->data.n_indiv, e->plan.n_lv, &source, &centre,
                             &per_person);
  if (R != dr->n_draws || (per_person != 0) != (dr->weight_stride != 0) ||
      (any_negative(source.weights, R) && !dr->signed_weights))
    error("new points must have the engine's number of points, weights and signs");
  fill_or_fail(e, &source, &centre, e->n_threads);
  return R_NilValue;
}

/* The log weights log(|w_r| p(y_n | eta_nr)) of the moved points go into the
 * engine's own array of log weights |w_r| (N x R, as large as a fifth of the
 * points): the engine reads each block of log weights before it writes the
 * block's log weights of the prediction, at the same place (src/engine.c,
 * evaluate_individual()), so no second people x points array is needed.
 * The points' weights are then spent: engine_set_points() must move them
 * again before the engine is evaluated (adapt_points() does). */
SEXP engine_point_moments(SEXP engine, SEXP theta, SEXP target) {
  iclv_engine *e = engine_from(engine);
  engine_check_theta(e, theta);
  const int N = e->data.n_indiv, R = e->draws.n_draws, D = e->draws.n_dim;
  if (e->draws.weight_stride != (size_t) R)
    error("the centring moments need moved points (per-person weights)");
  const int n_threads = e->n_threads;
  const double want = asReal(target);
  const char *names[] = {"mean", "cov", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, allocMatrix(REALSXP, N, D));
  SET_VECTOR_ELT(out, 1, alloc3DArray(REALSXP, N, D, D));
  double *mean = REAL(VECTOR_ELT(out, 0)), *cov = REAL(VECTOR_ELT(out, 1));
  /* No R call from here until the buffer is freed. */
  const size_t per_thread = (size_t) R + D + (size_t) D * D;
  double *work = malloc(sizeof(double) * per_thread * (size_t) n_threads);
  if (work == NULL) error("out of memory measuring the posterior moments of the points");
  double *loglik = e->draws.log_weight;
  iclv_predict_out pred = {NULL, NULL, NULL, NULL, NULL, NULL, 0};
  pred.loglik_draw = loglik;
  iclv_engine_predict(e, REAL(theta), n_threads, &pred);
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (int n = 0; n < N; n++) {
    double *w = work + per_thread * (size_t) iclv_thread_num(), *m = w + R, *c = m + D;
    iclv_points_moments(e->draws.eta + (size_t) n * D * R, R, D, loglik + (size_t) n * R,
                        want, w, m, c);
    for (int d = 0; d < D; d++) {
      mean[n + (size_t) N * d] = m[d];
      for (int k = 0; k < D; k++) cov[n + (size_t) N * (d + (size_t) D * k)] = c[d + D * k];
    }
  }
  free(work);
  UNPROTECT(1);
  return out;
}

/* With `spend` and moved points, the log weights go into the engine's own
 * (as in engine_point_moments(), which says why that works), whose points
 * are then spent: for an engine that is freed next. */
/* People measured at a time when the engine's own weights may not be spent:
 * a chunk's log weights (ess_chunk x n_draws) instead of everyone's, which
 * at 3,260 people x 1,000 draws would be 26 MB next to the engine. */
#define ESS_CHUNK 256

SEXP engine_point_ess(SEXP engine, SEXP theta, SEXP spend) {
  iclv_engine *e = engine_from(engine);
  engine_check_theta(e, theta);
  const int N = e->data.n_indiv, R = e->draws.n_draws;
  const int in_place = asLogical(spend) == TRUE && e->draws.weight_stride == (size_t) R;
  const int chunk = in_place ? N : (N < ESS_CHUNK ? N : ESS_CHUNK);
  SEXP out = PROTECT(allocVector(REALSXP, N));
  double *ess = REAL(out);
  /* No R call from here until the buffer is freed. */
  double *loglik = in_place ? e->draws.log_weight : malloc(sizeof(double) * (size_t) chunk * R);
  if (loglik == NULL) error("out of memory measuring the effective sample sizes");
  iclv_predict_out pred = {NULL, NULL, NULL, NULL, NULL, NULL, 0};
  pred.loglik_draw = loglik;
  for (int first = 0; first < N; first += chunk) {
    const int count = N - first < chunk ? N - first : chunk;
    pred.loglik_draw_first = first;
    iclv_engine_predict_people(e, REAL(theta), e->n_threads, &pred, first, count);
#pragma omp parallel for num_threads(e->n_threads) schedule(static)
    for (int n = first; n < first + count; n++)
      ess[n] = iclv_points_ess(loglik + (size_t) (n - first) * R, R);
  }
  if (!in_place) free(loglik);
  UNPROTECT(1);
  return out;
}

SEXP standardise_draws(SEXP draws) {
  SEXP dim = getAttrib(draws, R_DimSymbol);
  if (TYPEOF(draws) != REALSXP || XLENGTH(dim) != 3)
    error("draws must be a double array (individuals x draws x dimensions)");
  SEXP out = PROTECT(duplicate(draws));
  int bad = 0;
  int status = iclv_points_standardise_array(REAL(out), INTEGER(dim)[0], INTEGER(dim)[1],
                                             INTEGER(dim)[2], &bad);
  if (status == ICLV_POINTS_DEGENERATE)
    error("the draws of some individuals are degenerate (rows %d)", bad + 1);
  if (status != ICLV_POINTS_OK) error("out of memory standardising the draws");
  UNPROTECT(1);
  return out;
}
