"""A `labctl up` killed (SIGKILL) while it waits for its hosts to be healthy, on the real
engine: the hosts come up healthy on their own, yet `labctl status` must not pass the
instance off as healthy; it says the start was interrupted and how to repair it, and
running `labctl up` again finishes it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from live import REPO, eventually

from labctl.backends.docker import DockerBackend
from labctl.errors import BackendError
from labctl.instances import InstanceStore

pytestmark = pytest.mark.docker
LABCTL = [sys.executable, "-m", "labctl"]
HOSTS = 6  # tc-replay's five hosts and the gateway


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LABCTL_HOME": str(home),
        "LABCTL_LABS_DIR": str(REPO / "labs"),
        "COLUMNS": "250",
    }


def _labctl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LABCTL, *args], env=_env(home), capture_output=True, text=True, timeout=600, check=False
    )


def _kill_during_the_health_wait(
    backend: DockerBackend, store: InstanceStore, home: Path, student: str, ident: str
) -> None:
    child = subprocess.Popen(
        [*LABCTL, "up", "tc-replay", "--student", student],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)
            try:
                hosts = backend.status(ident)
            except BackendError:  # a container removed while listed (up's seed sidecar)
                continue
            if len(hosts) == HOSTS and all(h.state == "running" for h in hosts):
                break  # every host started: up is waiting for their health checks
    finally:
        child.kill()
        child.wait()
    record = store.get(ident)
    assert record is not None
    assert record.status == "starting", "up finished before it could be killed"
    assert record.ports == {}


def test_status_after_a_killed_up_says_interrupted_and_up_repairs_it(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    student = f"kill{uuid.uuid4().hex[:6]}"
    ident = f"tc-replay-{student}"
    store = InstanceStore(home / "labctl.db")
    try:
        _kill_during_the_health_wait(lab_backend, store, home, student, ident)

        def all_healthy() -> bool:
            hosts = lab_backend.status(ident)
            return len(hosts) == HOSTS and all(h.health in {"healthy", "none"} for h in hosts)

        eventually(all_healthy, 120, "the orphaned hosts healthy on their own")
        status = _labctl(home, "status", ident)
        assert status.returncode == 0, status.stderr
        assert f"{ident} (interrupted)" in status.stdout
        said = " ".join(status.stdout.split())
        assert f"re-run `labctl up tc-replay --student {student}`" in said
        assert f"`labctl down {ident}`" in said

        again = _labctl(home, "up", "tc-replay", "--student", student)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"instance {ident} is up" in again.stdout
        record = store.get(ident)
        assert record is not None
        assert record.status == "running"
        assert record.ports
        status = _labctl(home, "status", ident)
        assert "interrupted" not in status.stdout
        assert len(lab_backend.status(ident)) == HOSTS  # nothing doubled by the repair

        down = _labctl(home, "down", ident)
        assert down.returncode == 0, down.stderr
        assert lab_backend.status(ident) == []
        assert store.get(ident) is None
    finally:
        lab_backend.down(ident)
