#!/usr/bin/env bash
# The main job: set up labctl, check the labs, and bring up one student's instance of the
# telecommand-replay lab (building the images on first use), then say how to connect.
# Sets up .venv on first use. Needs a running Docker engine (and root the first time, to
# bootstrap the Debian base image offline). Re-running it replaces the demo instance.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
labctl_venv ""
labctl="$VENV_BIN/labctl"
lab=tc-replay
student=${LABCTL_DEMO_STUDENT:-demo}

echo "==> labctl labs validate   (every lab in labs/ and the documented example)"
"$labctl" labs validate labs docs/examples/example-lab
echo
echo "==> labctl labs list"
"$labctl" labs list
echo
if "$labctl" status "$lab-$student" >/dev/null 2>&1; then
    echo "==> labctl down $lab-$student   (the previous demo instance)"
    "$labctl" down "$lab-$student"
fi
echo "==> labctl up $lab --student $student   (builds the images on first use: several minutes)"
"$labctl" up "$lab" --student "$student"
echo
echo "==> labctl status $lab-$student"
"$labctl" status "$lab-$student"
echo
echo "The instance keeps running. Remove it with:  $labctl down $lab-$student"
