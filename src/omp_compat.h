/* OpenMP when the compiler has it; one thread otherwise. */
#ifndef ICLV_OMP_COMPAT_H
#define ICLV_OMP_COMPAT_H

#ifdef _OPENMP
#include <omp.h>
static inline int iclv_thread_num(void) { return omp_get_thread_num(); }
static inline int iclv_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int iclv_thread_num(void) { return 0; }
static inline int iclv_max_threads(void) { return 1; }
#endif

#endif
