/* Simulation draws: standard normal values for N individuals x R draws x D
 * dimensions from Halton, modified Latin hypercube (MLHS), Sobol or
 * pseudo-random uniforms. Pure C (no R headers); the R crossing is
 * draws_glue.c.
 *
 * Layout of `out`: with ICLV_DRAWS_LAYOUT_R (column-major, as R stores an
 * N x R x D array) the value of individual i, draw r, dimension d is
 * out[i + N * (r + R * d)]; with ICLV_DRAWS_LAYOUT_ENGINE (the engine's
 * [individual][dimension][draw], so that it fills its own array) it is
 * out[(i * D + d) * R + r]. The values do not depend on the layout.
 *
 * Determinism: every random choice (pseudo-random values, MLHS shifts and
 * shuffles, Halton digit permutations, Sobol scrambling matrices and shifts)
 * comes from xoshiro256** streams seeded by splitmix64 from (seed, dimension,
 * individual), so the output depends only on the arguments, bitwise. */
#ifndef ICLV_DRAWS_H
#define ICLV_DRAWS_H

#include <stdint.h>

#define ICLV_DRAWS_PSEUDO 0
#define ICLV_DRAWS_HALTON 1
#define ICLV_DRAWS_MLHS 2
#define ICLV_DRAWS_SOBOL 3

#define ICLV_DRAWS_LAYOUT_R 0
#define ICLV_DRAWS_LAYOUT_ENGINE 1

/* Halton: sequence indices 1..ICLV_HALTON_SKIP are discarded (index 0, the
 * all-zero point, always is), so individual 1 starts at index 11. */
#define ICLV_HALTON_SKIP 10
/* Sobol: dimension 1 is the van der Corput sequence, dimensions 2..1111 use
 * the 1110 primitive polynomials of degree 1 to 13 in order. */
#define ICLV_SOBOL_MAX_DIM 1111

/* Return codes of iclv_draws_fill(). */
#define ICLV_DRAWS_OK 0
#define ICLV_DRAWS_BAD_COUNT 1      /* n_indiv, n_draws or n_dim < 1 */
#define ICLV_DRAWS_BAD_TYPE 2       /* type not one of ICLV_DRAWS_* */
#define ICLV_DRAWS_ODD_ANTITHETIC 3 /* antithetic with an odd n_draws */
#define ICLV_DRAWS_BAD_SCRAMBLE 4   /* scramble for mlhs or pseudo */
#define ICLV_DRAWS_TOO_MANY_DIMS 5  /* sobol with n_dim > ICLV_SOBOL_MAX_DIM */
#define ICLV_DRAWS_TOO_MANY_POINTS 6 /* n_indiv * n_draws >= 2^52 */
#define ICLV_DRAWS_NO_MEMORY 7

typedef struct {
  int n_indiv;      /* N >= 1 */
  int n_draws;      /* R >= 1, even when antithetic */
  int n_dim;        /* D >= 1 */
  int type;         /* ICLV_DRAWS_PSEUDO, _HALTON, _MLHS or _SOBOL */
  uint64_t seed;    /* ignored by unscrambled Halton and Sobol */
  int antithetic;   /* draws R/2 .. R-1 of an individual are minus draws 0 .. R/2-1 */
  int scramble;     /* Halton: random digit permutations; Sobol: linear matrix
                       scrambling plus a digital shift */
  int n_threads;    /* OpenMP threads (< 1 means 1); the output does not depend on it */
  int layout;       /* ICLV_DRAWS_LAYOUT_R (0) or ICLV_DRAWS_LAYOUT_ENGINE */
  int first_indiv;  /* the place of out's first individual in the whole sample (0-based):
                       out holds the draws of individuals first_indiv .. first_indiv +
                       n_indiv - 1 of it, the same values as when all are made (a shard
                       of a cluster makes only its own) */
} iclv_draws_spec;

/* Fills out[N * R * D] (allocated by the caller) with standard normal draws.
 * Returns ICLV_DRAWS_OK or an error code; on error `out` is unspecified and
 * nothing is left allocated. */
int iclv_draws_fill(const iclv_draws_spec *spec, double *out);

/* ICLV_DRAWS_* of a type's name ("pseudo", "halton", "mlhs", "sobol"); -1
 * when unknown. */
int iclv_draws_type_code(const char *name);

/* A short English description of an iclv_draws_fill() return code. */
const char *iclv_draws_message(int code);

/* Standard normal quantile, accurate to about 1e-16 relative (Wichura 1988,
 * algorithm AS 241, PPND16). Returns -Inf at 0, +Inf at 1, NaN outside [0, 1]. */
double iclv_qnorm(double u);

#endif
