#!/usr/bin/env bash
# CI entry for the CUDA kernels (no GPU needed): installs the pinned NVRTC and
# ptxas wheels, checks that every committed crates/cuda/ptx/*.ptx is exactly
# what NVRTC makes of its .cu (and that none is stale), then assembles each for
# sm_80 and sm_90 and prints registers/spills/shared memory.
# Exit 0: passed; 3: skipped (PyPI unreachable or host not x86_64); else failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

echo "== cuda-check: installing pinned CUDA tools (scripts/cuda-tools.sh)"
rc=0
env_dir="$("$root/scripts/cuda-tools.sh")" || rc=$?
if [[ $rc -eq 3 ]]; then
  echo "== cuda-check: SKIPPED (tools unavailable)"
  exit 3
elif [[ $rc -ne 0 ]]; then
  echo "== cuda-check: FAILED installing tools (exit $rc)"
  exit "$rc"
fi
python="$env_dir/bin/python"
[[ -x "$python" ]] || python=python3 # pip --target fallback: cuda-ptx.py finds it

echo "== cuda-check: PTX up to date with kernels (scripts/cuda-ptx.py --check)"
"$python" "$root/scripts/cuda-ptx.py" --check ||
  { echo "== cuda-check: FAILED: regenerate with scripts/cuda-ptx.py and commit"; exit 1; }

echo "== cuda-check: cubins up to date with the PTX (scripts/cuda-cubin.sh --check)"
"$root/scripts/cuda-cubin.sh" --check ||
  { echo "== cuda-check: FAILED: regenerate with scripts/cuda-cubin.sh and commit"; exit 1; }

echo "== cuda-check: ptxas sm_80/sm_90, no spill, PTXAS.md up to date (scripts/cuda-ptxas.sh --check)"
"$root/scripts/cuda-ptxas.sh" --check || { echo "== cuda-check: FAILED: ptxas"; exit 1; }

echo "== cuda-check: OK"
