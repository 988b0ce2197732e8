"""Lifetimes, idle stops, caps and the queue on the real engine, as an instructor runs
them (the commands, as subprocesses): a class of two with room for one, the second
queued; the first stopped (`labctl suspend`, as an idle period would) so `labctl gc`
starts the queued one; the first started again with its student's home; a lifetime that
ends, `labctl gc` removing the instance, and `labctl resume` making it anew with the same
password and the home back. Nothing is left on the engine."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import docker
import pytest
from live import labctl, roster

from labctl.backends.base import INSTANCE_LABEL
from labctl.instances import InstanceStore
from labctl.instances.homes import Homes
from labctl.instances.leases import Leases

pytestmark = pytest.mark.docker


def _run(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = labctl(home, *args, timeout=600)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _state(client: docker.DockerClient, instance: str) -> set[str]:
    found = client.containers.list(all=True, filters={"label": f"{INSTANCE_LABEL}={instance}"})
    return {c.status for c in found}


def _home_file(client: docker.DockerClient, instance: str) -> str:
    container = client.containers.get(f"labctl-{instance}-attacker")
    code, out = container.exec_run(["cat", "/home/student/notes.txt"], user="student")
    return out.decode() if code == 0 else ""


def test_a_capped_class_queues_stops_resumes_and_expires_without_losing_the_home(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    class_csv, ids = roster(tmp_path, 2, prefix="q")
    name = f"lease{ids[0][1:5]}"
    first, second = (f"tc-replay-{name}-{s}" for s in ids)
    try:
        started = _run(
            home,
            "session",
            "start",
            "tc-replay",
            "--roster",
            str(class_csv),
            "--name",
            name,
            "--max-running",
            "1",
            "--lifetime",
            "2h",
            "--idle-stop",
            "30m",
        )
        assert "1 started" in started.stdout, started.stdout
        assert "1 queued" in started.stdout, started.stdout
        assert _state(docker_client, first) == {"running"}
        assert _state(docker_client, second) == set()
        status = _run(home, "session", "status", name).stdout
        assert "queued" in status

        code, _ = docker_client.containers.get(f"labctl-{first}-attacker").exec_run(
            ["sh", "-c", "echo field notes > /home/student/notes.txt"], user="student"
        )
        assert code == 0
        _run(home, "suspend", first)
        assert _state(docker_client, first) == {"exited"}
        collected = _run(home, "gc").stdout
        assert "1 started from the queue" in collected, collected
        assert _state(docker_client, second) == {"running"}

        # the class is over its cap now: starting the first again is the instructor's call
        _run(home, "resume", first)
        assert _state(docker_client, first) == {"running"}
        assert _home_file(docker_client, first) == "field notes\n"
        # the mission flies again: the two availability objectives hold (the two security
        # ones wait for the student's fix)
        check = _run(home, "check", first, ok=False)
        assert "2 of 4 objective(s) hold" in check.stdout, check.stdout + check.stderr

        # a lifetime that ends: removed by gc, made anew by resume with home and password
        store = InstanceStore(home / "labctl.db")
        password = store.get(first).access["password"]  # type: ignore[union-attr]
        _run(home, "renew", first, "--for", "1h")  # never shortens: still about 2 h
        shown = _run(home, "status", first).stdout
        assert any(f"ends in {t}" in shown for t in ("1 h 59 min", "2 h 00 min")), shown
        leases = Leases(store)
        with store.transaction() as db:  # the lifetime ended a minute ago
            db.execute(
                "UPDATE leases SET expires = ? WHERE instance = ?",
                ("2000-01-01T00:00:00+00:00", first),
            )
        collected = _run(home, "gc").stdout
        assert "1 removed (lifetime ended)" in collected, collected
        assert _state(docker_client, first) == set()
        assert store.get(first).status == "expired"  # type: ignore[union-attr]
        assert Homes(store).get(first) is not None
        time.sleep(1)
        _run(home, "resume", first)
        assert _home_file(docker_client, first) == "field notes\n"
        assert store.get(first).access["password"] == password  # type: ignore[union-attr]
        assert leases.get(first).lifetime == 7200  # type: ignore[union-attr]
    finally:
        _run(home, "session", "stop", name, ok=False)
    for instance in (first, second):
        assert _state(docker_client, instance) == set()
