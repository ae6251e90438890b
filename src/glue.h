/* The .Call entry points: the only functions that take and return SEXPs. */
#ifndef ICLV_GLUE_H
#define ICLV_GLUE_H

#include <Rinternals.h>

/* engine_glue.c */
SEXP engine_create(SEXP plan, SEXP data, SEXP draws, SEXP draw_weights, SEXP n_threads);
SEXP engine_eval(SEXP engine, SEXP theta, SEXP gradient, SEXP scores, SEXP choice,
                 SEXP columns, SEXP hessian);
SEXP engine_predict(SEXP engine, SEXP theta, SEXP type);
SEXP engine_info(SEXP engine);
SEXP engine_free(SEXP engine);

/* draws_glue.c */
SEXP make_draws(SEXP n_indiv, SEXP n_draws, SEXP n_dim, SEXP type, SEXP seed,
                SEXP antithetic, SEXP scramble);

/* kernel_on_cpu.c */
SEXP kernel_on_cpu_eval(SEXP engine, SEXP theta, SEXP choice, SEXP lanes);

/* gpu_glue.c */
SEXP gpu_backend_info(void);
SEXP gpu_selftest(SEXP lo, SEXP hi, SEXP logit);

#endif
