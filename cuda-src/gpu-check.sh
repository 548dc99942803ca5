#!/usr/bin/env bash
# One call on the GPU machine: the SASS check of grouped GEMM v4, its tests alone (a hang or a failure
# there turns v4 off for the rest, through -Dmoe4j.cuda.gg.v4=false), every other test tagged "gpu",
# then the MoE kernel benchmark with its HTML report and the MoE layer benchmark; logs under $OUT.
#
#   here:   cuda-src/prepare-gpu.sh   (build, ../shared/gpu/prepare.sh, trim to fit the carry limit)
#   device: command "bash cuda-src/gpu-check.sh", carry [".gpu"], timeout ~540 s
#   limits: GG_S (v4 tests, default 100 s), TESTS_S (other tests, 240 s), BENCH_S (benchmark, 200 s), LAYER_S (layer benchmark, 150 s);
#           TESTS="junit args" replaces the selection of the other tests; BENCH=0 skips the benchmark
#
# Prints the test summary and the benchmark table last.
set -uo pipefail
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
bash cuda-src/sass-check.sh > "$out/sass.txt" 2>&1
start=$(date +%s)
timeout "${GG_S:-100}" bash .gpu/run tests --include-classname '.*CudaGroupedGemmTest' > "$out/tests-gg.log" 2>&1
rc=$?
echo "grouped GEMM tests: exit $rc in $(( $(date +%s) - start )) s"
if [ "$rc" != 0 ]; then
  export JAVA_TOOL_OPTIONS="-Dmoe4j.cuda.gg.v4=false"
  echo "grouped GEMM v4 turned off for the rest of this run"
fi
start=$(date +%s)
# shellcheck disable=SC2086
timeout "${TESTS_S:-240}" bash .gpu/run tests ${TESTS:---exclude-classname .*CudaGroupedGemmTest} > "$out/tests.log" 2>&1
echo "gpu tests: exit $? in $(( $(date +%s) - start )) s"
if [ "${BENCH:-1}" != 0 ]; then
  start=$(date +%s)
  timeout "${BENCH_S:-200}" bash .gpu/run java dev.moe4j.bench.GpuMoeBenchmark --report "$out/gpu-report.html" > "$out/bench.log" 2>&1
  echo "benchmark: exit $? in $(( $(date +%s) - start )) s"
  start=$(date +%s)
  timeout "${LAYER_S:-150}" bash .gpu/run java dev.moe4j.bench.GpuMoeLayerBenchmark > "$out/layer.log" 2>&1
  echo "layer benchmark: exit $? in $(( $(date +%s) - start )) s"
fi
echo "---- SASS of grouped GEMM v4 (sm_90a)"
cat "$out/sass.txt"
echo "---- tests (failures and summary)"
grep -h -E "✘|tests (successful|failed|aborted|skipped)" "$out/tests-gg.log" "$out/tests.log" | head -80
echo "---- benchmark"
[ -f "$out/bench.log" ] && tail -n 34 "$out/bench.log"
[ -f "$out/layer.log" ] && tail -n 8 "$out/layer.log"
