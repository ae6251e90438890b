/* Registration of the package's .Call routines (strict: no dynamic lookup). */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include "glue.h"
#include "memmon_glue.h"
#include "gpu_engine_glue.h"
#include "quadrature_glue.h"
#include "points_glue.h"
#include "shard_glue.h"

#define CALLDEF(name, n) {#name, (DL_FUNC) &name, n}

static const R_CallMethodDef call_methods[] = {
  CALLDEF(engine_create, 5),
  CALLDEF(engine_eval, 7),
  CALLDEF(engine_predict, 3),
  CALLDEF(engine_info, 1),
  CALLDEF(engine_free, 1),
  CALLDEF(kernel_on_cpu_eval, 4),
  CALLDEF(make_draws, 7),
  CALLDEF(gpu_backend_info, 0),
  CALLDEF(gpu_selftest, 3),
  CALLDEF(memmon_new, 1),
  CALLDEF(memmon_limits, 4),
  CALLDEF(memmon_usage, 5),
  CALLDEF(memmon_check, 3),
  CALLDEF(memmon_records, 1),
  CALLDEF(memmon_rss, 0),
  CALLDEF(memmon_release_unused, 0),
  CALLDEF(gpu_engine_new, 2),
  CALLDEF(gpu_engine_attach, 2),
  CALLDEF(gpu_engine_info, 1),
  CALLDEF(gpu_engine_release, 1),
  CALLDEF(gpu_engine_free, 1),
  CALLDEF(gpu_engine_fail_next, 2),
  CALLDEF(gpu_engine_attach_monitor, 2),
  CALLDEF(quadrature_gauss_hermite, 1),
  CALLDEF(quadrature_genz_keister, 0),
  CALLDEF(quadrature_grid, 4),
  CALLDEF(engine_set_points, 2),
  CALLDEF(engine_point_moments, 3),
  CALLDEF(engine_point_ess, 3),
  CALLDEF(standardise_draws, 1),
  CALLDEF(engine_shard_pieces, 4),
  CALLDEF(reduce_pieces, 3),
  {NULL, NULL, 0}
};

void R_init_iclv(DllInfo *dll) {
  R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
  R_forceSymbols(dll, TRUE);
}
