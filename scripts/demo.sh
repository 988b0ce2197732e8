#!/usr/bin/env bash
# The main job: set up labctl and walk through what it does today.
# Sets up .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
labctl_venv ""
labctl="$VENV_BIN/labctl"

echo "==> labctl labs validate   (every lab in labs/ and the documented example)"
"$labctl" labs validate labs docs/examples/example-lab
echo
echo "==> labctl labs list"
"$labctl" labs list
echo
echo "==> labctl labs show tc-replay"
"$labctl" labs show tc-replay
