#!/usr/bin/env bash
# The whole test suite: linters, type checks, layer rules, then pytest.
# Sets up .venv on first use. Extra arguments go to pytest (e.g. -k spec, -x).
# Docker tests need a running engine: they skip loudly without one, and fail when CI=true.
# pytest runs in LABCTL_TEST_WORKERS processes (pytest-xdist, default 2: most of the time
# goes to waiting on live instances, passes and timers, so two workers share two cores
# well; 0 runs in this process) and prints the 30 slowest tests at the end. Tests that
# share a module- or package-scoped fixture (a live class, a portal) run in one worker, in
# order (tests/conftest.py groups them; --dist loadgroup).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
labctl_venv dev

echo "==> ruff"
"$VENV_BIN/ruff" check .
"$VENV_BIN/ruff" format --check .
echo "==> mypy"
"$VENV_BIN/mypy"
echo "==> import-linter (layer rules, docs/architecture.md)"
"$VENV_BIN/lint-imports"
echo "==> pytest"
workers=${LABCTL_TEST_WORKERS:-2}
exec "$VENV_BIN/python" -m pytest -n "$workers" --dist loadgroup --durations=30 "$@"
