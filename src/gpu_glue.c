/* R side of the CUDA backend's device queries (gpu.h). */
#include <R.h>
#include <Rinternals.h>
#include "glue.h"
#include "cuda/gpu.h"

/* list(compiled, n_devices, reason, name, major, minor, total_mb, free_mb) for
 * device 0; the R wrapper turns it into iclv_backends()'s data frame. */
SEXP gpu_backend_info(void) {
  char err[ICLV_GPU_ERRLEN] = "";
  int count = 0;
  gpu_device_count(&count, err, sizeof err);
  gpu_device_info info = {"", 0, 0, 0.0, 0.0};
  int have_info = 0;
  if (count > 0) {
    if (gpu_device_info_get(0, &info, err, sizeof err) == 0) have_info = 1;
    else count = 0;
  }
  const char *names[] = {"compiled", "n_devices", "reason", "name", "major", "minor",
                         "total_mb", "free_mb", ""};
  SEXP out = PROTECT(mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, ScalarLogical(gpu_compiled()));
  SET_VECTOR_ELT(out, 1, ScalarInteger(count));
  SET_VECTOR_ELT(out, 2, mkString(have_info ? "" : err));
  SET_VECTOR_ELT(out, 3, have_info ? mkString(info.name) : ScalarString(NA_STRING));
  SET_VECTOR_ELT(out, 4, ScalarInteger(have_info ? info.major : NA_INTEGER));
  SET_VECTOR_ELT(out, 5, ScalarInteger(have_info ? info.minor : NA_INTEGER));
  SET_VECTOR_ELT(out, 6, ScalarReal(have_info ? info.total_mb : NA_REAL));
  SET_VECTOR_ELT(out, 7, ScalarReal(have_info ? info.free_mb : NA_REAL));
  UNPROTECT(1);
  return out;
}

SEXP gpu_selftest(SEXP lo, SEXP hi, SEXP logit) {
  R_xlen_t n = XLENGTH(lo);
  if (TYPEOF(lo) != REALSXP || TYPEOF(hi) != REALSXP || XLENGTH(hi) != n || n > INT_MAX)
    error("gpu_selftest: lo and hi must be double vectors of one length");
  SEXP out = PROTECT(allocVector(REALSXP, n));
  char err[ICLV_GPU_ERRLEN] = "";
  if (gpu_selftest_cells((int) n, asLogical(logit), REAL(lo), REAL(hi), REAL(out), err,
                         sizeof err) != 0) {
    UNPROTECT(1);
    error("GPU self-test failed: %s", err);
  }
  UNPROTECT(1);
  return out;
}
