#!/usr/bin/env bash
# GPU check and benchmark of native/cuda-pfr, for a machine with nvcc and a GPU but no Node:
# builds the harness, builds the PTX with nvcc, then runs the vectors, the randomized
# cross-checks (CPU scalar vs every SIMD level vs CUDA) and the benchmark, through NVRTC and
# through the nvcc PTX. Run from the repository root:
#   [EMBED=1] native/cuda-pfr/scripts/device-check.sh [OUTDIR] [harness args...]
# EMBED=1 copies the fresh PTX to kernels/rcc_kernel.ptx (commit it from OUTDIR afterwards) and
# runs the harness (with the given args) through that embedded PTX.
set -euo pipefail
OUT=${1:-native/cuda-pfr/build/device}
shift || true
mkdir -p "$OUT"
HERE=native/cuda-pfr
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv || true
"$NVCC" --version | tail -2
# Portable PTX (JIT-compiled by the driver for the actual GPU) and an sm_90 cubin for the report.
FLAGS="-fmad=false -ftz=false -prec-div=true -prec-sqrt=true"
"$NVCC" -ptx -arch=compute_75 $FLAGS -o "$OUT/rcc_kernel.ptx.body" $HERE/src/rcc_kernel.cu
# First line: the FNV-1a 64 hash of the source, checked before the addon uses an embedded PTX.
python3 - "$HERE/src/rcc_kernel.cu" "$OUT/rcc_kernel.ptx.body" "$OUT/rcc_kernel.ptx" <<'PY'
import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], 'rb').read():
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
body = open(sys.argv[2]).read()
open(sys.argv[3], 'w').write('// rcc_kernel.cu fnv1a64 %016x\n' % h + body)
PY
rm -f "$OUT/rcc_kernel.ptx.body"
"$NVCC" -cubin -arch=sm_90 $FLAGS -Xptxas -v -o "$OUT/rcc_kernel.sm90.cubin" $HERE/src/rcc_kernel.cu 2>&1 | grep -E 'Function properties|registers|spill|Compiling entry' || true
cmake -S $HERE -B $HERE/build/cmake -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build $HERE/build/cmake -j"$(nproc)" 2>&1 | grep -E 'error|Built target' || true
H=$HERE/build/cmake/rcc_harness
rc=0
echo "== NVRTC path"
DIFFC_RCC_CUDA_JIT=nvrtc "$H" --cross 20 --bench --quick --no-cpu-bench || rc=1
echo "== fresh nvcc PTX path"
DIFFC_RCC_PTX_FILE="$OUT/rcc_kernel.ptx" "$H" --cross 10 || rc=1
if [ "${EMBED:-0}" = 1 ]; then
  # Embed the fresh PTX as the committed one would be, rebuild, and run everything through it.
  mkdir -p $HERE/kernels && cp "$OUT/rcc_kernel.ptx" $HERE/kernels/rcc_kernel.ptx
  cmake -S $HERE -B $HERE/build/cmake > /dev/null
  cmake --build $HERE/build/cmake -j"$(nproc)" 2>&1 | grep -E 'error' || true
  echo "== embedded PTX path"
  DIFFC_RCC_CUDA_JIT=ptx "$H" "$@" || rc=1
else
  echo "== embedded (committed) PTX path"
  DIFFC_RCC_CUDA_JIT=ptx "$H" "$@" || rc=1
fi
exit $rc
