#!/usr/bin/env bash
# Here, before a device call: builds the project (with the fatbins), lays out .gpu/ with the shared
# prepare.sh, and drops what the GPU run never loads (the OpenBLAS natives of the CPU benchmarks,
# about 20 MiB), so that the work tree and .gpu/ stay under the device's 64 MiB carry limit.
#
#   cuda-src/prepare-gpu.sh            then device: "bash cuda-src/gpu-check.sh", carry [".gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q package -DskipTests
"${SHARED_GPU:-../shared/gpu}/prepare.sh"
rm -f .gpu/lib/openblas-*-linux-*.jar .gpu/lib/openblas-*-macosx-*.jar .gpu/lib/openblas-*-windows-*.jar
du -sh .gpu | awk '{print "trimmed: .gpu " $1}'
