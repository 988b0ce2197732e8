"""The remote log collector on the real engine (labs/insider adds one): mission control
ships its audit trail there; the student's workstation cannot reach it; a hostile sender
on the ground network cannot rewrite what it holds; it runs unprivileged."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from live import REPO, eventually, login, mission_control_url

from labctl.backends.docker import DockerBackend
from labctl.instances import Instances, InstanceStore
from labctl.range import wiring
from labctl.spec import load_lab

pytestmark = pytest.mark.docker

#: Run on mission control (it is on the ground network): raw lines to the collector.
SEND = """
import socket, sys
sock = socket.create_connection(("log-server", 5140), timeout=5)
sock.sendall(sys.argv[1].encode())
sock.settimeout(5)
try:
    print("closed" if sock.recv(1) == b"" else "open")
except TimeoutError:
    print("open")
"""


def store(backend: DockerBackend, instance: str) -> list[dict[str, Any]]:
    result = backend.exec(
        instance, wiring.LOG_SERVER, ["cat", wiring.LOG_SERVER_STORE], user="labctl"
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_the_collector_keeps_the_trail_out_of_everyone_elses_reach(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    manager = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    loaded = load_lab(REPO / "labs" / "insider")
    record = manager.up(loaded, f"logs{uuid.uuid4().hex[:8]}")
    try:
        # Mission control ships once it is told where (here the engine edits the file a
        # student edits with sudoedit, then the server restarts in place).
        edit = [
            "python3", "-m", "labctl.range.yamledit",
            'audit_log.remote.host="log-server"', wiring.MISSION_CONTROL_CONFIG,
        ]  # fmt: skip
        done = lab_backend.exec(record.id, wiring.MISSION_CONTROL, edit, user="labctl")
        assert done.exit_code == 0, done.output
        restart = lab_backend.exec(record.id, wiring.MISSION_CONTROL, ["labctl-service", "restart"])
        assert restart.exit_code == 0, restart.output
        client = login(mission_control_url(record))
        assert client.post("/api/commands", json={"name": "PING"}).status_code == 201

        def shipped_ping() -> bool:
            return any(
                r["record"].get("action") == "command.send"
                and r["record"].get("actor") == "operator"
                for r in store(lab_backend, record.id)
            )

        eventually(shipped_ping, 20, "the operator's PING in the collector's store")
        health = client.get("/api/health").json()["audit_remote"]
        assert health["connected"] is True
        assert health["dropped"] == 0

        # The student's workstation (corp) has no route to it: the name does not even resolve.
        probe = lab_backend.exec(
            record.id, wiring.ATTACKER, ["getent", "hosts", wiring.LOG_SERVER], user="student"
        )
        assert probe.exit_code != 0, probe.output

        # Anyone on mission control's server can send lines: a hostile one is dropped or
        # ends its connection, and what was stored stays as it was.
        before = store(lab_backend, record.id)
        for line, expected in (
            ("not json\n", "open"),
            ('{"x": "' + "y" * 20000 + '"}\n', "closed"),
        ):
            sent = lab_backend.exec(
                record.id, wiring.MISSION_CONTROL, ["python3", "-c", SEND, line], user="labctl"
            )
            assert sent.output.strip().endswith(expected), sent.output
        assert store(lab_backend, record.id)[: len(before)] == before

        # Unprivileged: no capabilities, a read-only root, a memory limit.
        info = lab_backend.container(record.id, wiring.LOG_SERVER).attrs["HostConfig"]
        assert info["Privileged"] is False
        assert info["ReadonlyRootfs"] is True
        assert "ALL" in (info["CapDrop"] or [])
        assert info["Memory"] > 0
    finally:
        manager.down(record.id)
