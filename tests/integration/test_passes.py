"""Passes from an orbit on the real engine: a copy of tc-replay whose rf-link and mission
control get the same orbit block (compressed 30 times: a pass about every 200 s, about 20
s long). The rf-link and mission control agree on every pass, nothing crosses the link
between two passes, and an operator's command round trip is judged over a pass."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import eventually, login, tc_replay_with

from graders.checks.base import Status
from graders.checks.uplink import CommandRoundTrip, CommandRoundTripArgs
from graders.live.probe import open_probe
from graders.live.target import target_of
from labctl.backends.docker import DockerBackend
from labctl.instances import Instances, InstanceStore
from labctl.range import wiring

pytestmark = pytest.mark.docker

ORBIT = (
    '{tle: ["1 43013U 17073A   26338.50000000  .00000010  00000-0  10000-4 0  9992",'
    ' "2 43013  98.7200 300.0000 0001000  90.0000 270.0000 14.19500000 45000"],'
    " station: {name: svalbard, latitude: 78.23, longitude: 15.41, altitude_m: 450,"
    " min_elevation: 0}, time_scale: 30}"
)
INJECTS = (
    "  - {kind: set_config, host: rf-link, args: {file: /etc/labctl/rf-link.yaml,"
    f" key: channel.passes.orbit, value: {ORBIT}}}}}\n"
    "  - {kind: set_config, host: mission-control, args: {file:"
    f" /etc/labctl/mission-control.yaml, key: passes.orbit, value: {ORBIT}}}}}\n"
)


def rf_status(backend: DockerBackend, ident: str) -> dict[str, Any]:
    result = backend.exec(ident, "rf-link", ["cat", wiring.RF_LINK_STATUS])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def test_the_link_follows_the_orbit_and_availability_is_judged_over_a_pass(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    loaded = tc_replay_with(tmp_path, INJECTS)
    manager = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    record = manager.up(loaded, f"orbit{uuid.uuid4().hex[:8]}")
    try:
        status = eventually(lambda: rf_status(lab_backend, record.id), 20, "rf-link status")
        assert len(status["passes"]) == 3
        ports = [p["8080/tcp"] for p in record.ports.values() if "8080/tcp" in p]
        url = f"http://127.0.0.1:{ports[0]}"
        eventually(lambda: httpx.get(f"{url}/api/health", timeout=5).status_code == 200, 30, "mc")
        client = login(url)
        plan = client.get("/api/passes").json()["passes"]
        aos = [p["aos"] for p in status["passes"]]
        shown = [datetime.fromisoformat(p["aos"]).timestamp() for p in plan]
        # the same passes, computed on both hosts (mission control shows whole seconds)
        assert all(any(abs(a - b) < 1.01 for b in shown) for a in aos), (aos, shown)
        # Between two passes nothing crosses: the spacecraft's housekeeping is dropped.
        if not rf_status(lab_backend, record.id)["in_contact"]:
            time.sleep(4)
            later = rf_status(lab_backend, record.id)
            if not later["in_contact"]:
                assert later["dropped"].get("downlink_no_pass", 0) > 0, later["dropped"]
        # Judged over a pass: the check waits for one (up to ~200 s here) and passes.
        with open_probe(lab_backend, target_of(loaded, manager.current(record.id))) as probe:
            result = CommandRoundTrip().run(CommandRoundTripArgs(within=15), probe)
        assert result.status is Status.PASS, result.evidence
        assert "judged during a pass" in result.evidence
    finally:
        manager.down(record.id)
