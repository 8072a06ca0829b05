#!/usr/bin/env bash
# The one script for a machine with an NVIDIA GPU and no build tools (see docs/GPU.md): takes
# what `bench/gpu-pack.sh` prepared in .gpu/ (a Node.js binary, the built addon and dist/, the
# kernel timer), checks that the addon loads and sees the GPU, then runs the API check, the
# kernel timings and PyTorch's timings of the same work. Results go to $OUT (default .gpu/out).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
out="${OUT:-.gpu/out}"
mkdir -p "$out"
status=0

xz -dc .gpu/node.xz > .gpu/node && chmod +x .gpu/node
nvidia-smi -L | tee "$out/gpu.txt"
cp .gpu/tripletkit.*.node . 2>/dev/null || true
[ -d dist ] || cp -r .gpu/dist dist

# Before anything long: the addon loads here and reports the GPU.
.gpu/node -e "const b=require('./dist/index.js').backends(); console.log(JSON.stringify(b)); process.exit(b.cuda.available && !b.cuda.emulated ? 0 : 2)" \
  | tee "$out/backends.json" || { echo 'CUDA is not available to the addon'; exit 2; }

OUT="$out" timeout 240 .gpu/node bench/gpu-check.mjs "$@" 2>&1 | tee "$out/gpu-check.txt" || status=1
timeout 240 .gpu/gpu_bench --json "$out/gpu_bench.json" "$@" 2>&1 | tee "$out/gpu_bench.txt" || status=1
OUT="$out" timeout 240 python3 bench/gpu_baseline.py "$@" 2>&1 | tee "$out/gpu_baseline.txt" || status=1
exit "$status"
