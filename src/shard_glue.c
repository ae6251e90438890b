/* The R crossing of the sharded sums (src/shard.h): what a cluster worker
 * sends back from its engine after an evaluation, and the master's total of
 * what the workers sent. */
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include "engine_glue.h"
#include "shard.h"
#include "shard_glue.h"

/* The pieces of the last evaluation of a shard's engine, whose people are
 * first .. first + N - 1 (0-based) of n_total: for each block of
 * ICLV_SUM_BLOCK people it touches, its sum when it holds the whole block,
 * else the rows of its people in the block. Columns: the log-likelihood and,
 * with `gradient`, the gradient (the engine's grad_indiv: a CPU evaluation
 * with the gradient must come first). Returns list(rows, block (0-based),
 * complete). */
SEXP engine_shard_pieces(SEXP engine, SEXP first_indiv, SEXP n_total, SEXP gradient) {
  const iclv_engine *e = engine_from(engine);
  const int N = e->data.n_indiv, P = e->plan.n_par, B = ICLV_SUM_BLOCK;
  const int first = asInteger(first_indiv), total = asInteger(n_total);
  if (first == NA_INTEGER || total == NA_INTEGER || first < 0 || first + N > total)
    error("shard pieces: people %d..%d are not within 1..%d", first + 1, first + N, total);
  const int with_grad = asLogical(gradient) == TRUE;
  const int width = 1 + (with_grad ? P : 0);
  const int k0 = first / B, k1 = (first + N - 1) / B, end = first + N;
  int n_rows = 0;
  for (int k = k0; k <= k1; k++) {
    const int lo = k * B, hi = lo + B < total ? lo + B : total;
    if (lo >= first && hi <= end) n_rows++;
    else n_rows += (hi < end ? hi : end) - (lo > first ? lo : first);
  }
  const char *names[] = {"rows", "block", "complete", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SEXP rows = allocMatrix(REALSXP, n_rows, width);
  SET_VECTOR_ELT(out, 0, rows);
  SEXP block = allocVector(INTSXP, n_rows);
  SET_VECTOR_ELT(out, 1, block);
  SEXP complete = allocVector(LGLSXP, n_rows);
  SET_VECTOR_ELT(out, 2, complete);
  double *x = REAL(rows), *sum = (double *) R_alloc(width, sizeof(double));
  int row = 0;
  for (int k = k0; k <= k1; k++) {
    const int lo = k * B, hi = lo + B < total ? lo + B : total;
    const int from = (lo > first ? lo : first) - first, to = (hi < end ? hi : end) - first;
    if (lo >= first && hi <= end) {
      iclv_block_sum(e->loglik_indiv, 1, 1, from, to, sum);
      if (with_grad) iclv_block_sum(e->grad_indiv, (size_t) P, P, from, to, sum + 1);
      for (int j = 0; j < width; j++) x[row + (size_t) n_rows * j] = sum[j];
      INTEGER(block)[row] = k;
      LOGICAL(complete)[row] = TRUE;
      row++;
      continue;
    }
    for (int n = from; n < to; n++, row++) {
      x[row] = e->loglik_indiv[n];
      for (int j = 1; j < width; j++)
        x[row + (size_t) n_rows * j] = e->grad_indiv[(size_t) n * P + (j - 1)];
      INTEGER(block)[row] = k;
      LOGICAL(complete)[row] = FALSE;
    }
  }
  UNPROTECT(1);
  return out;
}

/* The total of the workers' pieces, stacked in the people's order: a whole
 * block's sum is added to the total, the rows of a shared block are summed
 * in order (from 0) and then added, as one process sums them
 * (iclv_blocked_total()). */
SEXP reduce_pieces(SEXP rows, SEXP block, SEXP complete) {
  SEXP dim = getAttrib(rows, R_DimSymbol);
  if (TYPEOF(rows) != REALSXP || XLENGTH(dim) != 2) error("pieces: rows must be a matrix");
  const int n_rows = INTEGER(dim)[0], width = INTEGER(dim)[1];
  if (TYPEOF(block) != INTSXP || TYPEOF(complete) != LGLSXP || XLENGTH(block) != n_rows ||
      XLENGTH(complete) != n_rows)
    error("pieces: block and complete must have one entry per row");
  SEXP out = PROTECT(allocVector(REALSXP, width));
  double *total = REAL(out), *acc = (double *) R_alloc(width, sizeof(double));
  const double *x = REAL(rows);
  memset(total, 0, sizeof(double) * width);
  int open = 0, open_block = 0;
  for (int r = 0; r < n_rows; r++) {
    const int whole = LOGICAL(complete)[r] == TRUE, k = INTEGER(block)[r];
    if (open && (whole || k != open_block)) {
      for (int j = 0; j < width; j++) total[j] += acc[j];
      open = 0;
    }
    if (whole) {
      for (int j = 0; j < width; j++) total[j] += x[r + (size_t) n_rows * j];
      continue;
    }
    if (!open) {
      for (int j = 0; j < width; j++) acc[j] = 0.0;
      open = 1;
      open_block = k;
    }
    for (int j = 0; j < width; j++) acc[j] += x[r + (size_t) n_rows * j];
  }
  if (open)
    for (int j = 0; j < width; j++) total[j] += acc[j];
  UNPROTECT(1);
  return out;
}
