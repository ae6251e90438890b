/* Sums over people that do not depend on how the people are split between
 * processes (estimation sharded over a cluster, R/cluster.R): the people,
 * in their global order, fall into fixed blocks of ICLV_SUM_BLOCK; each
 * block's values are summed in order starting from 0, and the block sums
 * are summed in order starting from 0. A shard sends the sums of the blocks
 * it holds whole and the rows of the people of the blocks it shares with a
 * neighbour; the master sums those rows in order and then all blocks in
 * order: the very additions of one process, so the totals are bitwise equal
 * for any number of workers. Pure C: no R headers. */
#ifndef ICLV_SHARD_H
#define ICLV_SHARD_H

#include <stddef.h>

#define ICLV_SUM_BLOCK 64

/* out[j] (j < width) = the blocked sum over rows 0 .. n_rows - 1 of
 * x[row * stride + j], rows being people 0 .. n_rows - 1 of the whole
 * sample. */
void iclv_blocked_total(const double *x, size_t stride, int width, int n_rows, double *out);

/* out[j] = 0 + x[lo * stride + j] + ... + x[(hi - 1) * stride + j], in order:
 * one block's sum. */
void iclv_block_sum(const double *x, size_t stride, int width, int lo, int hi, double *out);

#endif
