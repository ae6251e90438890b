/* The CPU engine's Hessian steps (engine_hessian.c), called by the
 * evaluation of one person (engine.c) when a Hessian is asked for: before
 * the person's first block, after each block's gradient, when the running
 * maximum of the online softmax grows, and at the end. Host only. */
#ifndef ICLV_ENGINE_HESSIAN_H
#define ICLV_ENGINE_HESSIAN_H

#include "engine.h"

/* The person's slots (the wanted parameters its log-likelihood depends on)
 * and an empty accumulator. */
void iclv_hessian_person_begin(const iclv_engine *e, iclv_hess_workspace *hw, int n,
                               int with_choice);

/* Adds sum_r w_r (g_r g_r' + H_r) over the block's points, from the block's
 * arrays after its gradient pass (the latent variables, the cells' first
 * derivatives, the choices' 1[j = y] - P_j, the latent variables' final
 * adjoints, the weights). */
void iclv_hessian_block(const iclv_engine *e, const iclv_inputs *in, const iclv_workspace *ws,
                        iclv_hess_workspace *hw, int n, int r0, int nb, int with_choice);

/* Multiplies the accumulator by `factor` (the online softmax's rescaling). */
void iclv_hessian_rescale(iclv_hess_workspace *hw, double factor);

/* H_n = acc / S - s s' from the person's score s (n_par, already divided by
 * S) and the sum S of the weights; 0 when the weights are nonpositive. */
void iclv_hessian_person_end(iclv_hess_workspace *hw, const double *score, double sum,
                             int nonpositive);

/* Persons per chunk: the unit of the Hessian's work and of its ordered sum. */
#define ICLV_HESSIAN_CHUNK 8

/* Adds H_n to `chunk` (n_want x n_want, upper triangle: the sum over the
 * person's chunk) and clears the person's slots. */
void iclv_hessian_person_add(const iclv_engine *e, iclv_hess_workspace *hw, double *chunk);

/* The next chunk of persons to evaluate (-1: none left) and a buffer of the
 * pool for its sum (*buffer, zeroed); waits while the pool is empty. Chunks
 * and buffers are handed out together, in chunk order, so the lowest
 * unfinished chunk always holds a buffer and the pool cannot run dry for
 * good. Any thread; n_chunks = chunks in all. */
int iclv_hessian_next_chunk(iclv_hessian *h, int n_chunks, double **buffer);

/* Marks chunk `chunk` finished (its sum in `buffer`) and adds every finished
 * chunk that is next in order to the total, freeing their buffers: the
 * total is summed in chunk order whichever thread finishes first, so it is
 * the same bits for any thread count. Any thread. */
void iclv_hessian_chunk_done(iclv_hessian *h, int n_chunks, int chunk, double *buffer);

/* Empties the total and the pool before an evaluation. */
void iclv_hessian_reset(iclv_hessian *h, int n_chunks);

#endif
