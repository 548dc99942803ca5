#!/usr/bin/env bash
# On the GPU machine (its image has cuobjdump; the development machine has none): disassembles the
# sm_90a machine code of grouped_gemm_sm90 and counts, per kernel, the instructions that tell whether
# grouped GEMM v4 is on Hopper's fast path:
#   HGMMA             warpgroup MMA (wgmma.mma_async); 4 per k step and consumer in the source
#   UTMALDG           bulk tensor copy global -> shared (cp.async.bulk.tensor)
#   SYNCS             mbarrier operations (init, arrive, expect-tx, try-wait)
#   WARPGROUP.DEPBAR  wgmma.wait_group (more than the source's 2 means ptxas serialised the MMAs)
#   LDL / STL         local memory (must be 0: the 128 accumulators stay in registers)
#
#   bash cuda-src/sass-check.sh [FATBIN]    (default: the first grouped_gemm_sm90.fatbin under .)
# Writes the full disassembly to $OUT/sass-grouped_gemm_sm90.txt (or /tmp) and prints one line per kernel.
set -uo pipefail
fb=${1:-$(find . -path '*dev/moe4j/kernels/cuda/grouped_gemm_sm90.fatbin' 2>/dev/null | head -n 1)}
[ -n "$fb" ] && [ -f "$fb" ] || { echo "sass-check: no grouped_gemm_sm90.fatbin found" >&2; exit 1; }
command -v cuobjdump >/dev/null 2>&1 || { echo "sass-check: no cuobjdump on this machine" >&2; exit 1; }
out=${OUT:-/tmp}/sass-grouped_gemm_sm90.txt
cuobjdump -sass -arch sm_90a "$fb" > "$out" 2>&1 || { echo "sass-check: cuobjdump failed:"; head -n 5 "$out"; exit 1; }
for k in gg_v4_rows_nk_bf16 gg_v4_rows_kn_bf16 gg_v4_reduce_bf16; do
  body=$(awk -v k="$k" '/Function : /{on = (index($0, k) > 0)} on' "$out")
  count() { printf '%s\n' "$body" | grep -c -E "$1"; }
  echo "$k: HGMMA $(count '[^A-Z]HGMMA'), UTMALDG $(count 'UTMALDG'), SYNCS $(count 'SYNCS'),"\
       "WARPGROUP.DEPBAR $(count 'WARPGROUP\.DEPBAR'), WARPGROUP.ARRIVE $(count 'WARPGROUP\.ARRIVE'),"\
       "LDL/STL $(count '[^A-Z](LDL|STL)[. ]')"
done
