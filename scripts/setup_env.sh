#!/usr/bin/env bash
# Create or reuse .venv in the repository and install what the project needs.
# Idempotent: a second run with nothing changed takes a few seconds.
#   scripts/setup_env.sh          # runtime: the engine, the plugin, napari with PyQt5
#   scripts/setup_env.sh test     # and PyQt6, the test tools, Xvfb and the reference sam2==1.1.0
# Install output goes to .venv/setup.log; the console gets one line a step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-run}"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
LOG=".venv/setup.log"

# Run an install step with its output in $LOG; on failure show the end of it.
quiet() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "[setup] failed: $* (last lines of $LOG):" >&2
    tail -n 25 "$LOG" >&2
    return 1
  fi
}

stamp=".venv/.installed-$MODE"
want="$(cat pyproject.toml scripts/setup_env.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[setup] .venv is up to date ($MODE)"
else
  quiet pip install --upgrade pip setuptools wheel
  if ! python -c "import torch, torchvision" 2>/dev/null; then
    echo "[setup] installing torch"
    # On this project's machines torch 2.14.1 / torchvision 0.29.1 lie on local disk.
    quiet pip install "torch==2.14.1" "torchvision==0.29.1" || quiet pip install torch torchvision
  fi
  echo "[setup] installing napari-sam2 (editable) and its dependencies (log: $LOG)"
  if [ "$MODE" = "test" ]; then extras="pyqt5,pyqt6,testing"; else extras="pyqt5"; fi
  quiet pip install -e ".[$extras]"
  if [ "$MODE" = "test" ]; then
    quiet pip install import-linter
    if ! python -c "import sam2" 2>/dev/null; then
      echo "[setup] installing the reference implementation sam2==1.1.0 (test oracle, CPU build)"
      quiet pip install hydra-core iopath pillow tqdm
      SAM2_BUILD_CUDA=0 quiet pip install --no-build-isolation "sam2==1.1.0"
    fi
  fi
  echo "$want" > "$stamp"
fi

# A display for napari: Xvfb (installed with apt-get when we are root and it is missing).
if ! command -v xvfb-run >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing xvfb and the Qt xcb libraries with apt-get"
    quiet apt-get update -qq
    DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq xvfb xauth libxcb-icccm4 \
      libxcb-keysyms1 libxcb-xinerama0 libxcb-image0 libxcb-render-util0 libxcb-shape0 \
      libxcb-xkb1 libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1 libfontconfig1 libdbus-1-3
  else
    echo "[setup] note: xvfb-run is missing; GUI tests need a display (install xvfb)" >&2
  fi
fi
