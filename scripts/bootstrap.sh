#!/usr/bin/env bash
# Prepare this checkout to run: system packages (when root), a .venv at the repo root, torch
# (pinned CPU build unless a torch is already there), and the project with its test extras.
# Safe to rerun: every step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(espeak-ng libportaudio2 libsndfile1 sox libgl1 libglib2.0-0 iproute2 xvfb xdotool)
# llama-cpp-python (the llama.cpp engine) is built from source
APT_PACKAGES+=(cmake g++)
# The stop word's voices and real human speech (tests, scripts/train_stop_spotter.py, scripts/make_stop_bench.py)
APT_PACKAGES+=(asterisk-core-sounds-en-wav flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "[setup] warning: missing system packages: ${missing[*]}" >&2
    echo "[setup]          install them with: sudo apt-get install ${missing[*]}" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  # ROBOT_BRAIN_SYSTEM_SITE=1 lets the venv see a torch that came with the machine (e.g. JetPack).
  if [ "${ROBOT_BRAIN_SYSTEM_SITE:-0}" = 1 ]; then
    "$PYTHON" -m venv --system-site-packages .venv
  else
    "$PYTHON" -m venv .venv
  fi
fi
VPY=.venv/bin/python

if ! "$VPY" -W ignore -c "import torch" 2>/dev/null; then
  torch_pin=$(grep -E '^torch==' constraints.txt)
  echo "[setup] pip install $torch_pin (CPU build)"
  "$VPY" -m pip install -q "$torch_pin" 2> >(grep -v "is ignored: it is neither" >&2)
fi
# Never let pip replace the torch that is there (a CUDA or JetPack build would be lost).
torch_version=$("$VPY" -W ignore -c "import torch; print(torch.__version__.split('+')[0])")
grep -v '^torch==' constraints.txt > .venv/constraints.txt || true
echo "torch==$torch_version" >> .venv/constraints.txt

stamp=.venv/.robot_brain-install
want=$(cat pyproject.toml .venv/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] pip install -e .[test]"
  if ! "$VPY" -c "import llama_cpp" 2>/dev/null; then
    # Only the shared libraries the engine loads; pip keeps the built wheel, so this happens once per machine.
    echo "[setup] llama-cpp-python builds llama.cpp from source: about 5 minutes on 2 cores, once"
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  fi
  "$VPY" -m pip install -q -c .venv/constraints.txt -e ".[test]" 2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want" > "$stamp"
fi
if "$VPY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torchvision') is None)"; then
  echo "[setup] warning: torchvision is installed in .venv; transformers' AutoProcessor breaks with a mismatched build." >&2
fi
