#!/bin/sh
# Runs test files of the package under valgrind (memcheck, full leak check)
# and reports the errors that involve the package's compiled code.
#
# Usage (from the package root):
#   sh tools/valgrind.sh [test-file ...]
# Default test files: test-engine.R and test-estimate.R (when present).
# Environment:
#   ICLV_VALGRIND_OPT   compiler flags for the package build (default "-O0 -g";
#                       "normal" keeps R's own flags and only adds -g)
#   ICLV_VALGRIND_OUT   folder for the build, the logs and the summary
#                       (default: a new temporary folder, kept)
#
# The package is installed into a private library with ICLV_CUDA=no (valgrind
# does not run CUDA). Each test file runs in its own R process under
#   R -d "valgrind --error-exitcode=1 --leak-check=full ..."
# and its log is searched for "Invalid read", "Invalid write" and
# "definitely lost" records whose stack names iclv.so or a file of src/.
# Exit status: 0 when no such record was found, 1 otherwise.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
out=${ICLV_VALGRIND_OUT:-$(mktemp -d /tmp/iclv-valgrind-XXXXXX)}
mkdir -p "$out/lib"
opt=${ICLV_VALGRIND_OPT:--O0 -g}

# A private copy of the sources, so that object files never land in the tree.
rm -rf "$out/iclv"
mkdir -p "$out/iclv"
tar --exclude=.git --exclude='*.o' --exclude='*.so' -cf - . | tar -xf - -C "$out/iclv"
if [ "$opt" = "normal" ]; then
  printf 'CFLAGS += -g\n' > "$out/Makevars"
else
  printf 'CFLAGS = %s\n' "$opt" > "$out/Makevars"
fi
echo "building iclv with CFLAGS '$opt' into $out/lib"
if ! ICLV_CUDA=no R_MAKEVARS_USER="$out/Makevars" R CMD INSTALL --no-test-load \
     -l "$out/lib" "$out/iclv" > "$out/install.log" 2>&1; then
  tail -n 30 "$out/install.log"
  echo "build failed"
  exit 1
fi

if [ $# -eq 0 ]; then
  set --
  for f in test-engine.R test-estimate.R; do
    [ -f "tests/testthat/$f" ] && set -- "$@" "$f"
  done
fi

found=0
summary="$out/summary.txt"
: > "$summary"
for test in "$@"; do
  name=$(basename "$test" .R)
  log="$out/$name.valgrind.log"
  echo "running $test under valgrind (log: $log)"
  start=$(date +%s)
  (cd "$root/tests/testthat" && OMP_NUM_THREADS=2 R -d "valgrind --error-exitcode=1 \
      --leak-check=full --track-origins=no --log-file=$log" --vanilla --no-echo -e "
    .libPaths(c('$out/lib', .libPaths()))
    library(testthat)
    library(iclv)
    res <- as.data.frame(test_file('$(basename "$test")', reporter = 'summary'))
    cat('\nTESTS:', sum(res\$nb), 'expectations,', sum(res\$failed), 'failed,',
        sum(res\$error), 'errors\n')
  ") > "$out/$name.out" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - start ))
  # One record per blank-line-separated block of the log; keep the blocks
  # with an error kind we look for and a frame in the package.
  awk -v RS='==[0-9]+== \n' '
    /Invalid read|Invalid write|definitely lost/ && /iclv\.so|engine[a-z_]*\.[ch]|iclv_math\.h|kernel_on_cpu\.c|draws[a-z_]*\.c|memmon[a-z_]*\.c|quadrature\.c|init\.c|gpu_glue\.c/ {
      print; print "----"
    }' "$log" > "$out/$name.iclv-errors.txt"
  n_ours=$(grep -c '^----$' "$out/$name.iclv-errors.txt")
  errors=$(grep -E 'ERROR SUMMARY' "$log" | tail -n 1 | sed 's/==[0-9]*== //')
  definitely=$(grep -E 'definitely lost:' "$log" | tail -n 1 | sed 's/==[0-9]*== *//')
  tests=$(grep '^TESTS:' "$out/$name.out" | tail -n 1)
  {
    echo "$test: ${elapsed}s, R exit status $status"
    echo "  $tests"
    echo "  valgrind (whole R process): $errors"
    echo "  $definitely"
    echo "  records involving iclv: $n_ours (see $out/$name.iclv-errors.txt)"
  } | tee -a "$summary"
  [ "$n_ours" -gt 0 ] && found=1
done
echo "summary: $summary"
exit $found
