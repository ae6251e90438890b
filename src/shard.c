/* Sums over people that do not depend on the sharding (src/shard.h). */
#include "shard.h"

/* One block's sum of column j: 0 + x_lo + ... + x_{hi-1}, in order. Every
 * path (one process, a shard's whole blocks, the master's shared blocks)
 * sums a block with this function. */
static double column_block_sum(const double *x, size_t stride, int j, int lo, int hi) {
  double acc = 0.0;
  for (int r = lo; r < hi; r++) acc += x[(size_t) r * stride + (size_t) j];
  return acc;
}

void iclv_block_sum(const double *x, size_t stride, int width, int lo, int hi, double *out) {
  for (int j = 0; j < width; j++) out[j] = column_block_sum(x, stride, j, lo, hi);
}

void iclv_blocked_total(const double *x, size_t stride, int width, int n_rows, double *out) {
  for (int j = 0; j < width; j++) out[j] = 0.0;
  /* Block by block, so that a block's rows stay in cache across the columns. */
  for (int lo = 0; lo < n_rows; lo += ICLV_SUM_BLOCK) {
    const int hi = n_rows - lo < ICLV_SUM_BLOCK ? n_rows : lo + ICLV_SUM_BLOCK;
    for (int j = 0; j < width; j++) out[j] += column_block_sum(x, stride, j, lo, hi);
  }
}
