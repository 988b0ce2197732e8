#!/usr/bin/env bash
# The main job on one lab: set up labctl, check the labs, bring up one student's instance
# of the telecommand-replay lab (building the images on first use), run the reference
# attack and the reference fix, grade the instance with a sample audit report, and print
# where the score report is. Sets up .venv on first use. Needs a Docker engine: as root on
# Debian it installs and starts one (scripts/engine.sh, as .ci/run does), elsewhere it says
# what to run; and root the first time, to bootstrap the Debian base image offline.
# Re-running it replaces the demo instance.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
. scripts/engine.sh
echo "==> the Docker engine (scripts/engine.sh)"
ensure_engine
echo
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
instance="$lab-$student"
echo "==> labctl check $instance   (the student's self-check: nothing fixed yet)"
"$labctl" check "$instance"
echo
echo "==> labctl solve $instance   (reference attack while an operator works, then the fix)"
"$labctl" solve "$instance"
echo
scores="scores/$instance"
echo "==> labctl grade $instance --report labs/$lab/solution/sample-report.md -o $scores"
"$labctl" grade "$instance" --report "labs/$lab/solution/sample-report.md" --output "$scores"
echo
echo "Score report (HTML): $PWD/$scores/score.html"
echo "The instance keeps running: labctl shell $instance   |   labctl down $instance"
