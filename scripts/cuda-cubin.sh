#!/usr/bin/env bash
# Assembles every crates/cuda/ptx/*.ptx with the pinned ptxas (scripts/cuda-tools.sh) into
# crates/cuda/cubin/<module>.sm_80.cubin and .sm_90.cubin: the machine code the driver loads
# on Ampere/Ada (8.x) and Hopper (9.0) GPUs without JIT-compiling the PTX at first use. ptxas
# output is deterministic, so the committed cubins must be what it makes of the committed PTX.
#
#   scripts/cuda-cubin.sh          write them
#   scripts/cuda-cubin.sh --check  compare with the work tree; exit 1 on any difference
# Exit 3 (skipped) as cuda-tools.sh does.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env_dir="$("$root/scripts/cuda-tools.sh")"
ptxas="$(find "$env_dir" -path '*/nvidia/cuda_nvcc/bin/ptxas' -print -quit)"
[[ -x "$ptxas" ]] || { echo "cuda-cubin: ptxas not found under $env_dir" >&2; exit 1; }
out="$root/crates/cuda/cubin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
check=0
[[ "${1:-}" == "--check" ]] && check=1

shopt -s nullglob
status=0
for ptx in "$root"/crates/cuda/ptx/*.ptx; do
  name="$(basename "$ptx" .ptx)"
  for arch in sm_80 sm_90; do
    file="$name.$arch.cubin"
    "$ptxas" -arch="$arch" -o "$tmp/$file" "$ptx"
    if [[ $check == 1 ]]; then
      cmp -s "$tmp/$file" "$out/$file" || { echo "cuda-cubin: crates/cuda/cubin/$file is not what ptxas makes of ptx/$name.ptx" >&2; status=1; }
    else
      mkdir -p "$out"
      cmp -s "$tmp/$file" "$out/$file" 2>/dev/null || { cp "$tmp/$file" "$out/$file"; echo "cuda-cubin: wrote crates/cuda/cubin/$file"; }
    fi
  done
done
# No cubin without its PTX.
for cubin in "$out"/*.cubin; do
  stem="$(basename "$cubin")"; stem="${stem%%.*}"
  [[ -f "$root/crates/cuda/ptx/$stem.ptx" ]] || { echo "cuda-cubin: $cubin has no ptx/$stem.ptx" >&2; status=1; [[ $check == 1 ]] || rm -f "$cubin"; }
done
exit "$status"
