#!/usr/bin/env bash
# One call on the GPU machine: every test tagged "gpu", then the MoE benchmark; logs and the
# benchmark's HTML report (gpu-report.html) under $OUT.
#
#   here:   cuda-src/prepare-gpu.sh   (build, ../shared/gpu/prepare.sh, trim to fit the carry limit)
#   device: command "bash cuda-src/gpu-check.sh", carry [".gpu"], timeout ~540 s
#
# Prints the test summary and the benchmark table last.
set -uo pipefail
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
bash cuda-src/sass-check.sh > "$out/sass.txt" 2>&1
start=$(date +%s)
timeout 240 bash .gpu/run tests > "$out/tests.log" 2>&1
echo "gpu tests: exit $? in $(( $(date +%s) - start )) s"
start=$(date +%s)
timeout 280 bash .gpu/run java dev.moe4j.bench.GpuMoeBenchmark --report "$out/gpu-report.html" > "$out/bench.log" 2>&1
echo "benchmark: exit $? in $(( $(date +%s) - start )) s"
echo "---- SASS of grouped GEMM v4 (sm_90a)"
cat "$out/sass.txt"
echo "---- tests (failures and summary)"
grep -E "✘|MethodSource|tests (successful|failed|aborted|skipped)|Exception" "$out/tests.log" | head -60
echo "---- benchmark"
tail -n 34 "$out/bench.log"
