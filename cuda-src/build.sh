#!/usr/bin/env bash
# Compiles every .cu file in this folder into a fatbin: sm_80 and sm_90a machine code plus compute_80
# PTX (which the driver compiles for any later GPU), with -lineinfo for the profilers.
#
#   cuda-src/build.sh OUT_DIR [REPORT_DIR]
#
# OUT_DIR receives NAME.fatbin per NAME.cu and cuda-build.properties, which the runtime reads: either
# the list of kernels and the nvcc version, or (no nvcc on the PATH) the reason there are none. A
# fatbin newer than its source and the shared header is kept, so a rebuild without changes costs
# nothing. The files compile in parallel, two at a time. REPORT_DIR (optional) receives NAME.txt per
# compiled file: ptxas's resource report (registers, shared memory, spills per kernel and target, and its
# C75xx notes, such as wgmma instructions it had to serialise).
#
# Never fails the build for want of nvcc: without it the CUDA device reports itself unavailable.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR [REPORT_DIR]}
report=${2:-}
mkdir -p "$out"
props="$out/cuda-build.properties"

if ! command -v nvcc >/dev/null 2>&1; then
  echo "[cuda-src] nvcc not on the PATH: no CUDA kernels built (the CUDA device will report itself unavailable)"
  rm -f "$out"/*.fatbin
  printf 'built=false\nreason=nvcc was not on the PATH when the kernels module was built\n' > "$props"
  exit 0
fi

gencode="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_80,code=compute_80"
flags="-O3 -lineinfo -std=c++17 -Xptxas -v"
version=$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -n 1)
start=$(date +%s)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

names=()
pids=()
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  names+=("$name")
  fb="$out/$name.fatbin"
  if [ -f "$fb" ] && [ "$fb" -nt "$cu" ] && [ "$fb" -nt "$src/common.cuh" ] && [ "$fb" -nt "$0" ]; then
    continue
  fi
  # at most two compilations at once (CI has two cores)
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 0.2; done
  ( nvcc $flags $gencode -fatbin -o "$fb.tmp" "$cu" > "$logs/$name.log" 2>&1 && mv "$fb.tmp" "$fb" ) &
  pids+=("$!:$name")
done

failed=0
for entry in ${pids[@]+"${pids[@]}"}; do
  pid=${entry%%:*}; name=${entry#*:}
  if ! wait "$pid"; then
    echo "[cuda-src] nvcc failed on $name.cu:" >&2
    cat "$logs/$name.log" >&2
    failed=1
  fi
  if [ -n "$report" ] && [ -f "$logs/$name.log" ]; then
    mkdir -p "$report"
    grep -E 'Compiling entry|registers|spill|C75[0-9][0-9]' "$logs/$name.log" | sed 's/ptxas info    : //' > "$report/$name.txt"
  fi
done
[ "$failed" = 0 ] || exit 1

{
  echo "built=true"
  echo "nvcc=$version"
  echo "targets=sm_80,sm_90a,compute_80"
  echo "modules=$(IFS=,; echo "${names[*]}")"
} > "$props"
echo "[cuda-src] fatbins for ${names[*]} in $out ($(( $(date +%s) - start )) s, nvcc $version)"
