#!/usr/bin/env bash
# Here, before a device call: builds the project (with the fatbins), lays out .gpu/ with the shared
# prepare.sh, and drops what the GPU run never loads, so that the work tree and .gpu/ stay under the
# device's 64 MiB carry limit:
#   - OpenBLAS, JavaCPP and JMH with its helpers, which only the CPU benchmarks load (about 24 MiB);
#   - the sm_80 machine code and compute_80 PTX of the fatbins: the lent machines are Hopper GPUs,
#     so .gpu/ gets fatbins rebuilt for GPU_ARCH only (default sm_90a) and without line tables.
#
#   cuda-src/prepare-gpu.sh            then device: "bash cuda-src/gpu-check.sh", carry [".gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q package -DskipTests
"${SHARED_GPU:-../shared/gpu}/prepare.sh"
rm -f .gpu/lib/openblas-*.jar .gpu/lib/javacpp-*.jar .gpu/lib/jmh-*.jar .gpu/lib/commons-math3-*.jar .gpu/lib/jopt-simple-*.jar
arch=${GPU_ARCH:-sm_90a}
dest=$(find .gpu/cp -path "*kernels_target_classes/dev/moe4j/kernels/cuda" -type d | head -n 1)
if [ -n "$dest" ] && command -v nvcc >/dev/null 2>&1; then
  pids=()
  for cu in cuda-src/*.cu; do
    name=$(basename "$cu" .cu)
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 0.2; done
    nvcc -O3 -std=c++17 -gencode "arch=compute_${arch#sm_},code=$arch" -fatbin -o "$dest/$name.fatbin" "$cu" &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p"; done
  sed -i "s/^targets=.*/targets=$arch/" "$dest/cuda-build.properties"
fi
du -sh .gpu | awk '{print "trimmed: .gpu " $1}'
