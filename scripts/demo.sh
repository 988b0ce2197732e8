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
session=demo
instance="$lab-$session-$student"
if "$labctl" session status "$session" >/dev/null 2>&1; then
    echo "==> labctl session stop $session   (the previous demo class)"
    "$labctl" session stop "$session"
fi
roster=$(mktemp --suffix=.csv)
trap 'rm -f "$roster"' EXIT
printf 'id,name,email\n%s,Demo Student,%s@example.edu\n' "$student" "$student" >"$roster"
echo "==> labctl session start $lab --roster (one student, $student) --name $session   (builds the images on first use: several minutes)"
"$labctl" session start "$lab" --roster "$roster" --name "$session"
echo
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
handouts="handouts/$session"
"$labctl" session handout "$session" --portal "https://localhost:8443/" -o "$handouts" >/dev/null
echo "Score report (HTML): $PWD/$scores/score.html"
echo
echo "The class portal for the demo student (students use only a browser):"
echo "    $labctl serve --session $session --port 8443"
echo "    then open https://localhost:8443/ (a self-signed certificate: its fingerprint is printed)"
grep -E '^\| (portal login|password) \|' "$handouts/$student.md" | sed 's/^/    /'
echo "    the instructor's login is printed by the first labctl serve"
echo "The class keeps running: labctl session status $session   |   labctl session stop $session"
