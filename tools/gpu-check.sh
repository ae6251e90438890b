#!/bin/sh
# The GPU check, for the device machine (nvcc and gcc, R from the bundle):
# builds and installs iclv with CUDA into a temporary library, prints
# iclv_backends(), runs the GPU tests (test-gpu.R, test-engine.R, test-backends.R) and
# bench/gpu.R, and prints a short table last. Logs go under $OUT when set.
# Usage (from the package root): sh tools/gpu-check.sh
sh .rbundle/unpack.sh && export PATH=/usr/lib/R/bin:$PATH
set -u
cd "$(dirname "$0")/.." || exit 1
logs=${OUT:-$(mktemp -d)}
mkdir -p "$logs"
lib=$(mktemp -d)
echo "gpu-check: logs in $logs"

# At most 7 files under $OUT (the device tool brings back 8).
{ nvidia-smi; nvcc --version; } >"$logs/system.txt" 2>&1
head -n 12 "$logs/system.txt"

start=$(date +%s)
R CMD INSTALL -l "$lib" . >"$logs/install.log" 2>&1
install_status=$?
echo "install: status $install_status in $(($(date +%s) - start)) s"
grep -E "^configure:" "$logs/install.log"
if [ $install_status -ne 0 ]; then
  tail -n 40 "$logs/install.log"
  exit 1
fi
export R_LIBS="$lib${R_LIBS:+:$R_LIBS}"

Rscript -e 'print(iclv::iclv_backends())' 2>&1 | tee -a "$logs/system.txt"

# The tests: one line of counts per file in $logs/tests.csv.
ICLV_GPU_LOGS="$logs" Rscript - >"$logs/tests.log" 2>&1 <<'EOF'
library(testthat)
library(iclv)
logs <- Sys.getenv("ICLV_GPU_LOGS")
counts <- lapply(c("test-gpu.R", "test-engine.R", "test-backends.R"), function(file) {
  res <- as.data.frame(test_file(file.path("tests", "testthat", file), reporter = "progress",
                                 stop_on_failure = FALSE))
  data.frame(file = file, passed = sum(res$passed), failed = sum(res$failed),
             skipped = sum(res$skipped), errors = sum(res$error))
})
counts <- do.call(rbind, counts)
print(counts, row.names = FALSE)
utils::write.csv(counts, file.path(logs, "tests.csv"), row.names = FALSE)
EOF
tail -n 60 "$logs/tests.log"

ICLV_BENCH_CSV="$logs/bench.csv" Rscript bench/gpu.R >"$logs/bench.log" 2>&1
echo "bench: status $?"
tail -n 20 "$logs/bench.log"

echo
echo "==== summary ===="
[ -f "$logs/tests.csv" ] && cat "$logs/tests.csv" || echo "tests: no results (see tests.log)"
[ -f "$logs/bench.csv" ] && cat "$logs/bench.csv" || echo "bench: no results (see bench.log)"
[ -f "$logs/bench-estimation.txt" ] && cat "$logs/bench-estimation.txt"
