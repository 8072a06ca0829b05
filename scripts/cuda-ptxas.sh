#!/usr/bin/env bash
# Assembles every crates/cuda/ptx/*.ptx with the pinned ptxas (from
# scripts/cuda-tools.sh) for sm_80 (Ampere) and sm_90 (Hopper) and makes the
# table of crates/cuda/PTXAS.md: per kernel, registers, spill bytes, static
# shared memory and stack, as `ptxas -v` reports them, and the occupancy of a
# 256-thread block (what every launch uses) that those allow on an A100 (sm_80:
# 64K registers, 164 KiB shared memory, 2048 threads and 32 blocks an SM) and
# an H100/H200 (sm_90: the same, 228 KiB shared memory), with 1 KiB of shared
# memory reserved a block and registers allocated 256 a warp.
#
#   scripts/cuda-ptxas.sh           print the table
#   scripts/cuda-ptxas.sh --write   write crates/cuda/PTXAS.md
#   scripts/cuda-ptxas.sh --check   exit 1 if PTXAS.md is stale or a kernel spills
# Exit 1 if ptxas fails on any file; exit 3 (skipped) as cuda-tools.sh does.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env_dir="$("$root/scripts/cuda-tools.sh")"
ptxas="$(find "$env_dir" -path '*/nvidia/cuda_nvcc/bin/ptxas' -print -quit)"
[[ -x "$ptxas" ]] || { echo "cuda-ptxas: ptxas not found under $env_dir" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mode="${1:-}"
shopt -s nullglob
status=0
rows="$tmp/rows"
: >"$rows"
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
      function occupancy(   perwarp, byregs, bysmem, smemsm, b) {
        perwarp = int((regs * 32 + 255) / 256) * 256
        byregs = int(65536 / (perwarp * 8))
        smemsm = arch == "sm_90" ? 233472 : 167936
        bysmem = int(smemsm / (smem + 1024))
        b = byregs; if (bysmem < b) b = bysmem; if (8 < b) b = 8; if (32 < b) b = 32
        return sprintf("%d%% (%d blocks)", b * 8 * 100 / 64, b)
      }
      function flush() { if (k != "") printf "| %s | %s | %s | %d | %d | %d | %d | %d | %s |\n", file, k, arch, regs, st, ld, smem, stack, occupancy() }
      /Compiling entry function/ { flush(); k = $0; sub(/^[^\047]*\047/, "", k); sub(/\047.*/, "", k); regs = st = ld = smem = stack = 0 }
      /Function properties for/ { props = $NF }
      /bytes stack frame/ && props == k { stack = $1; st = $5; ld = $9 }
      /Used [0-9]+ registers/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^registers/) regs = $i; if ($(i + 2) ~ /^smem/) smem = $i } }
      END { flush() }' "$tmp/log" >>"$rows"
  done
done
table="$tmp/PTXAS.md"
{
  echo "# ptxas: the kernels' resources"
  echo
  echo "Written by \`scripts/cuda-ptxas.sh --write\` from the committed PTX with ptxas 12.0; CI fails when it is"
  echo "stale or when a kernel spills. Occupancy is that of a 256-thread block (every launch's) on an SM of"
  echo "the architecture: 64K registers allocated 256 a warp, 2,048 threads, 32 blocks, and 164 KiB (sm_80)"
  echo "or 228 KiB (sm_90) of shared memory with 1 KiB reserved a block."
  echo
  echo "| file | kernel | arch | registers | spill stores | spill loads | shared bytes | stack bytes | occupancy |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
  sort "$rows"
} >"$table"
spills="$(awk -F'|' '$6 + 0 > 0 || $7 + 0 > 0 { print $3 " (" $4 ")" }' "$rows")"
if [[ -n "$spills" ]]; then
  echo "cuda-ptxas: kernels spill registers:" >&2
  echo "$spills" >&2
  status=1
fi
case "$mode" in
  --write) cp "$table" "$root/crates/cuda/PTXAS.md" ;;
  --check)
    if ! cmp -s "$table" "$root/crates/cuda/PTXAS.md"; then
      echo "cuda-ptxas: crates/cuda/PTXAS.md is stale; run scripts/cuda-ptxas.sh --write and commit" >&2
      diff "$root/crates/cuda/PTXAS.md" "$table" >&2 || true
      status=1
    fi ;;
  *) cat "$table" ;;
esac
exit "$status"
