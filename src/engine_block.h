/* Helpers of the CPU engine's loops over a block of draws, shared by the
 * evaluation (engine.c) and the Hessian (engine_hessian.c): weighted sums
 * and updates over the draws of a block, written as SIMD loops. Host only. */
#ifndef ICLV_ENGINE_BLOCK_H
#define ICLV_ENGINE_BLOCK_H

#include "iclv_math.h"

/* The per-draw work is compiled twice, for the x86-64 baseline and for
 * AVX2 + FMA (4 draws per vector instruction, glibc's 4-wide erfc/exp/log),
 * and the loader picks the one the CPU runs. configure defines
 * ICLV_HAVE_TARGET_CLONES when the compiler and the C library support it.
 * Only the function that carries it is cloned: what it calls must be
 * inlined into it (ICLV_ALWAYS_INLINE) to run as AVX2 too. */
#ifdef ICLV_HAVE_TARGET_CLONES
#define ICLV_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ICLV_TARGET_CLONES
#endif

/* sum_r w_r x_r */
ICLV_ALWAYS_INLINE double weighted_sum(const double *restrict w, const double *restrict x, int nb) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int r = 0; r < nb; r++) s += w[r] * x[r];
  return s;
}

/* sum_r w_r x_r y_r */
ICLV_ALWAYS_INLINE double weighted_sum2(const double *restrict w, const double *restrict x,
                                        const double *restrict y, int nb) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int r = 0; r < nb; r++) s += w[r] * x[r] * y[r];
  return s;
}

/* acc_r += coef x_r */
ICLV_ALWAYS_INLINE void add_to(double *restrict acc, double coef, const double *restrict x,
                               int nb) {
#pragma omp simd
  for (int r = 0; r < nb; r++) acc[r] += coef * x[r];
}

#endif
