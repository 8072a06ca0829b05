#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for bench/gpu-run.sh on a GPU machine that has no Node.js,
# cargo or registry: this Node.js binary (xz), the release addon, dist/, and the kernel timer
# (crates/cuda/examples/gpu_bench.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build
cargo build --release -p tripletkit-cuda --example gpu_bench
rm -rf .gpu && mkdir -p .gpu
xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
cp tripletkit.*.node .gpu/
cp -r dist .gpu/dist
cp target/release/examples/gpu_bench .gpu/
du -sh .gpu
