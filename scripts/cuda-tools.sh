#!/usr/bin/env bash
# Installs the pinned CUDA compiler wheels from PyPI into .cache/cuda-tools/venv
# (idempotent; pip is skipped when the pins are already installed) and prints
# that path on stdout. Used by cuda-ptx.py (NVRTC) and cuda-ptxas.sh (ptxas).
#
# Pins:
#   nvidia-cuda-nvrtc-cu12==12.0.76  emits PTX ISA 8.0, which every CUDA 12
#     driver can JIT; a newer NVRTC writes a newer PTX ISA that older 12.x
#     drivers reject, so the committed PTX must come from the oldest 12.x.
#   nvidia-cuda-nvcc-cu12==12.0.76   ships bin/ptxas (knows sm_80 and sm_90),
#     used only to report registers/spills; it never produces shipped code.
# Both pins exist as x86_64 wheels only.
#
# Exit 3 (one line on stderr): PyPI unreachable or host not x86_64, i.e.
# "skipped"; any other non-zero exit is a real failure.
# Without ensurepip (Debian without python3-venv) it falls back to
# `pip install --target .cache/cuda-tools/site` and prints that path instead.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.cache/cuda-tools"
python="${PYTHON:-python3}"
pins=(nvidia-cuda-nvrtc-cu12==12.0.76 nvidia-cuda-nvcc-cu12==12.0.76)

if [[ "$(uname -m)" != x86_64 ]]; then
  echo "cuda-tools: skipped: pinned CUDA wheels exist for x86_64 only (host: $(uname -m))" >&2
  exit 3
fi

# pins_ok PYTHON: true when every pin is installed at exactly its version.
pins_ok() {
  "$@" - "${pins[@]}" <<'EOF' 2>/dev/null
import sys, importlib.metadata as md
sys.exit(any(md.version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
EOF
}

# install TARGET PYTHON...: pip-installs the pins (into TARGET if non-empty);
# exits 3 if PyPI is unreachable.
install() {
  local target=() start=$SECONDS
  if [[ -n "$1" ]]; then target=(--target "$1" --upgrade); fi
  shift
  if ! "$@" -m pip index versions "${pins[0]%%==*}" --retries 1 --timeout 20 >/dev/null 2>&1; then
    echo "cuda-tools: skipped: PyPI unreachable" >&2
    exit 3
  fi
  echo "cuda-tools: installing ${pins[*]}" >&2
  PIP_ROOT_USER_ACTION=ignore "$@" -m pip install --quiet --no-deps --only-binary=:all: "${target[@]}" "${pins[@]}" >&2
  echo "cuda-tools: installed in $((SECONDS - start))s" >&2
}

mkdir -p "$dir"
venv="$dir/venv"
if [[ ! -x "$venv/bin/python" ]] && ! [[ -d "$dir/site" ]]; then
  rm -rf "$venv"
  if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    echo "cuda-tools: python3 -m venv unavailable, using pip --target" >&2
    rm -rf "$venv"
    mkdir -p "$dir/site"
  fi
fi

if [[ -x "$venv/bin/python" ]]; then
  pins_ok "$venv/bin/python" || install "" "$venv/bin/python"
  echo "$venv"
else
  pins_ok env PYTHONPATH="$dir/site" "$python" || install "$dir/site" "$python"
  echo "$dir/site"
fi
