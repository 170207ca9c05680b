#!/usr/bin/env bash
# Set up .venv (idempotent) and open napari with the SAM 2 widget docked on a sample,
# the model loaded, ready to click. Extra arguments go to `python -m napari_sam2.demo`:
#   scripts/demo.sh                        # dividing-nuclei time-lapse
#   scripts/demo.sh --sample 2d            # 2D nuclei image (also: zstack)
#   scripts/demo.sh --model sam2.1_hiera_small --device cuda
#   scripts/demo.sh --headless-check       # build everything, segment one nucleus, exit
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup_env.sh
# shellcheck disable=SC1091
. .venv/bin/activate
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  case " $* " in
    *" --headless-check "*) exec xvfb-run -a python -m napari_sam2.demo "$@" ;;
    *) echo "[demo] no display found: run with --headless-check, or from a desktop session" >&2; exit 2 ;;
  esac
fi
exec python -m napari_sam2.demo "$@"
