/* .Call entry points of src/shard_glue.c. */
#ifndef ICLV_SHARD_GLUE_H
#define ICLV_SHARD_GLUE_H

#include <Rinternals.h>

SEXP engine_shard_pieces(SEXP engine, SEXP first_indiv, SEXP n_total, SEXP gradient);
SEXP reduce_pieces(SEXP rows, SEXP block, SEXP complete);

#endif
