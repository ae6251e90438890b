#!/bin/sh
# The test command: builds the package (vignettes included), runs
# R CMD check --no-manual (which runs the testthat suite), and prints
# testthat's counts as the last line: "N passed, N failed".
# Usage (from the package root): sh tools/check.sh
set -u
cd "$(dirname "$0")/.." || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
R CMD build . >"$work/build.log" 2>&1
status=$?
tail -n 5 "$work/build.log"
tarball=$(ls -t iclv_*.tar.gz 2>/dev/null | head -n 1)
if [ $status -ne 0 ] || [ -z "$tarball" ]; then
  cat "$work/build.log"
  echo "0 passed, 1 failed"
  exit 1
fi
mv "$tarball" "$work/"
_R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual -o "$work" "$work/$tarball"
check_status=$?
rout=$(ls "$work"/iclv.Rcheck/tests/testthat.Rout* 2>/dev/null | head -n 1)
[ -n "$rout" ] && tail -n 30 "$rout"
counts=$(grep -E '\[ FAIL [0-9]+ \| WARN [0-9]+ \| SKIP [0-9]+ \| PASS [0-9]+ \]' "$rout" 2>/dev/null | tail -n 1)
passed=$(echo "$counts" | sed -n 's/.*PASS \([0-9]*\).*/\1/p')
failed=$(echo "$counts" | sed -n 's/.*FAIL \([0-9]*\).*/\1/p')
[ -z "$passed" ] && passed=0
[ -z "$failed" ] && failed=1
if [ $check_status -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
echo "$passed passed, $failed failed"
[ $check_status -eq 0 ] && [ "$failed" -eq 0 ]
