"""In a container a host program with a bad configuration waits for the fix and starts
again by itself; outside one it exits with status 2 (exit_or_wait)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labctl.range.hosts.config import WAIT_ENV

PROGRAM = """
import sys
from pathlib import Path
from labctl.range.hosts.config import HostConfigError, exit_or_wait
path = Path(sys.argv[1])
if path.read_text().strip() != "good":
    error = HostConfigError(str(path), "key", "bad value")
    print(error, file=sys.stderr)
    sys.exit(exit_or_wait(error, path, "test-host"))
print("started with a good configuration")
"""


def _run(config: Path, wait: bool) -> subprocess.Popen[str]:
    env = (
        {**os.environ, WAIT_ENV: "1"}
        if wait
        else {k: v for k, v in os.environ.items() if k != WAIT_ENV}
    )
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_outside_a_container_a_bad_configuration_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "host.yaml"
    config.write_text("bad\n")
    process = _run(config, wait=False)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "key: bad value" in err


def test_in_a_container_it_waits_for_the_fix_and_starts_again(tmp_path: Path) -> None:
    config = tmp_path / "host.yaml"
    config.write_text("bad\n")
    process = _run(config, wait=True)
    try:
        time.sleep(3)
        assert process.poll() is None, "it must keep running while the file is bad"
        config.write_text("good\n")
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "waiting for" in err
    assert "started with a good configuration" in out
