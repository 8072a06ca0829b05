#!/usr/bin/env bash
# Assembles every crates/cuda/ptx/*.ptx with the pinned ptxas (from
# scripts/cuda-tools.sh) for sm_80 (Ampere) and sm_90 (Hopper) and prints one
# table of what the driver's JIT will produce per kernel: registers, spill
# bytes and static shared memory, as reported by `ptxas -v`. The cubins are
# thrown away; this only proves the PTX assembles and shows register pressure.
# Exit 1 if ptxas fails on any file; exit 3 (skipped) as cuda-tools.sh does.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env_dir="$("$root/scripts/cuda-tools.sh")"
ptxas="$(find "$env_dir" -path '*/nvidia/cuda_nvcc/bin/ptxas' -print -quit)"
[[ -x "$ptxas" ]] || { echo "cuda-ptxas: ptxas not found under $env_dir" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

shopt -s nullglob
status=0
printf '%-20s %-32s %-6s %5s %8s %8s %6s %6s\n' file kernel arch regs spill_st spill_ld smem stack
for ptx in "$root"/crates/cuda/ptx/*.ptx; do
  name="$(basename "$ptx")"
  for arch in sm_80 sm_90; do
    if ! "$ptxas" -v -arch="$arch" -o "$tmp/out.cubin" "$ptx" 2>"$tmp/log"; then
      echo "cuda-ptxas: ptxas failed on $name for $arch:" >&2
      cat "$tmp/log" >&2
      status=1
      continue
    fi
    grep -i 'warning' "$tmp/log" >&2 || true
    # Lines per entry: "Compiling entry function 'K' for 'sm_XX'", then
    # "N bytes stack frame, N bytes spill stores, N bytes spill loads" and
    # "Used N registers, [N bytes smem, ]N bytes cmem[0]".
    awk -v file="$name" -v arch="$arch" '
      function flush() { if (k != "") printf "%-20s %-32s %-6s %5d %8d %8d %6d %6d\n", file, k, arch, regs, st, ld, smem, stack }
      /Compiling entry function/ { flush(); k = $0; sub(/^[^\047]*\047/, "", k); sub(/\047.*/, "", k); regs = st = ld = smem = stack = 0 }
      /Function properties for/ { props = $NF }
      /bytes stack frame/ && props == k { stack = $1; st = $5; ld = $9 }
      /Used [0-9]+ registers/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^registers/) regs = $i; if ($(i + 2) ~ /^smem/) smem = $i } }
      END { flush() }' "$tmp/log"
  done
done
exit "$status"
