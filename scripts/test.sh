#!/usr/bin/env bash
# Set up .venv (idempotent) and run the whole test suite: ruff, the layering check, pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not reference" -x
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
echo "[test] pytest"
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1600x1200x24" python -m pytest "$@"
else
  exec python -m pytest "$@"
fi
