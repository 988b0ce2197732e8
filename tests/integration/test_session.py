"""``labctl session`` on the real engine, as an instructor runs it (the command, as a
subprocess): a class of five on tc-replay started three at a time, its status, one
student reset, the class stopped with nothing left behind; and a start killed (SIGKILL)
once its first instance is up, which `session status` explains and the next `session
start` repairs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest
from live import eventually, labctl, labctl_env, roster

from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceStore
from labctl.sessions.store import RUNNING, SessionStore

pytestmark = pytest.mark.docker
LABCTL = [sys.executable, "-m", "labctl"]
TC_REPLAY_HOSTS = sorted(
    ["attacker", "ground-station", "labctl-gateway", "mission-control", "rf-link", "spacecraft"]
)


def _leftovers(client: docker.DockerClient, idents: list[str]) -> list[str]:
    found = []
    for ident in idents:
        selector: dict[str, str | list[str] | bool] = {"label": f"{INSTANCE_LABEL}={ident}"}
        found += [f"container {c.name}" for c in client.containers.list(all=True, filters=selector)]
        found += [f"network {n.name}" for n in client.networks.list(filters=selector)]
        found += [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
    return found


def _cleanup(home: Path, name: str, client: docker.DockerClient, idents: list[str]) -> None:
    """After a failed assertion: remove what the test made, by label."""
    labctl(home, "session", "stop", name, timeout=300)
    backend = DockerBackend(client)
    for ident in idents:
        backend.down(ident)


def test_a_class_of_five(lab_backend: DockerBackend, tmp_path: Path) -> None:
    home = tmp_path / "home"
    class_csv, ids = roster(tmp_path, 5)
    name = f"c{uuid.uuid4().hex[:5]}"
    idents = [f"tc-replay-{name}-{s}" for s in ids]
    try:
        began = time.monotonic()
        start = labctl(
            home,
            "session",
            "start",
            "tc-replay",
            "--roster",
            str(class_csv),
            "--name",
            name,
            "--parallel",
            "3",
        )
        seconds = time.monotonic() - began
        assert start.returncode == 0, start.stdout + start.stderr
        assert f"session {name}: 5 started, 0 kept running, 0 repaired, 0 failed" in start.stdout
        print(f"labctl session start of 5 with --parallel 3: {seconds:.0f} s")
        store = SessionStore(InstanceStore(home / "labctl.db"))
        members = store.members(name)
        assert [m.instance for m in members] == idents
        assert {m.status for m in members} == {RUNNING}
        seeds = {store.instances.get(i).seed for i in idents}  # type: ignore[union-attr]
        assert len(seeds) == 1
        assert [store.instances.get(i).slot for i in idents] == list(range(5))  # type: ignore[union-attr]

        status = labctl(home, "session", "status", name)
        assert status.returncode == 0, status.stderr
        for student in ids:
            line = next(ln for ln in status.stdout.splitlines() if student in ln)
            assert "running" in line
            assert "ssh -p" in line

        before = store.instances.get(idents[1])
        reset = labctl(home, "session", "reset", name, ids[1])
        assert reset.returncode == 0, reset.stdout + reset.stderr
        after = store.instances.get(idents[1])
        assert before is not None
        assert after is not None
        assert after.created > before.created
        assert after.ports != before.ports  # a new gateway, new published ports
        assert after.access == before.access
        assert (after.seed, after.slot) == (before.seed, before.slot)

        stop = labctl(home, "session", "stop", name)
        assert stop.returncode == 0, stop.stderr
        assert "5 instance(s)" in stop.stdout
        assert _leftovers(lab_backend.client, idents) == []
        assert store.all() == []
        assert store.instances.all() == []
    except BaseException:
        _cleanup(home, name, lab_backend.client, idents)
        raise


def test_a_start_killed_midway_is_explained_and_repaired(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    class_csv, ids = roster(tmp_path, 3)
    name = f"k{uuid.uuid4().hex[:5]}"
    idents = [f"tc-replay-{name}-{s}" for s in ids]
    store = SessionStore(InstanceStore(home / "labctl.db"))
    try:
        child = subprocess.Popen(
            [
                *LABCTL,
                "session",
                "start",
                "tc-replay",
                "--roster",
                str(class_csv),
                "--name",
                name,
                "--parallel",
                "2",
            ],
            env=labctl_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def first_up() -> bool:
                try:
                    return any(m.status == RUNNING for m in store.members(name))
                except Exception:  # the database may not exist yet
                    return False

            eventually(first_up, 600, "the first instance of the session running")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        statuses = {m.student: m.status for m in store.members(name)}
        assert RUNNING in statuses.values()
        assert set(statuses.values()) != {RUNNING}, statuses  # the kill came midway

        status = labctl(home, "session", "status", name)
        assert status.returncode == 0, status.stderr
        unfinished = [s for s, st in statuses.items() if st != RUNNING]
        for student in unfinished:
            line = next(ln for ln in status.stdout.splitlines() if student in ln)
            assert "interrupted" in line or "pending" in line, status.stdout
        assert "session start" in status.stdout  # what to do about it

        again = labctl(
            home, "session", "start", "tc-replay", "--roster", str(class_csv), "--name", name
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert {m.status for m in store.members(name)} == {RUNNING}
        assert f"{len(unfinished)} started" in again.stdout
        for ident in idents:
            hosts = lab_backend.status(ident)
            # exactly tc-replay's five hosts and the gateway: nothing doubled by the repair
            assert sorted(h.host for h in hosts) == TC_REPLAY_HOSTS, (ident, hosts)
            assert all(h.state == "running" for h in hosts), (ident, hosts)
        checked = labctl(home, "session", "status", name, "--checks")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for student in ids:  # availability holds on a fresh instance, the attack has not run
            line = next(ln for ln in checked.stdout.splitlines() if student in ln)
            assert "mission-flies" in line, checked.stdout
            assert "replay-executed" not in line

        stop = labctl(home, "session", "stop", name)
        assert stop.returncode == 0, stop.stderr
        assert _leftovers(lab_backend.client, idents) == []
    except BaseException:
        _cleanup(home, name, lab_backend.client, idents)
        raise
