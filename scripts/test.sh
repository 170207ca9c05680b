#!/usr/bin/env bash
# Set up .venv (idempotent) and run the whole test suite: ruff, the layering check, pytest
# (Qt 5 binding, PyQt5), then the GUI tests again under the Qt 6 binding (PyQt6).
# Extra arguments go to pytest and skip the Qt 6 pass, e.g. scripts/test.sh -m "not reference" -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup_env.sh test
# shellcheck disable=SC1091
. .venv/bin/activate
echo "[test] ruff"
ruff check src training tests benchmarks scripts
echo "[test] layering (import-linter)"
lint-imports

display() {  # run "$@" with a display: the session's, else a virtual one
  if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
    xvfb-run -a -s "-screen 0 1600x1200x24" "$@"
  else
    "$@"
  fi
}

echo "[test] pytest (PyQt5)"
QT_API=pyqt5 display python -m pytest "$@"
if [ "$#" -eq 0 ]; then
  echo "[test] GUI tests under PyQt6"
  QT_API=pyqt6 display python -m pytest -q -m gui tests/plugin
fi
