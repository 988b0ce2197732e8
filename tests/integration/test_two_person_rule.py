"""The two-person rule on the real engine: a flight director's hazardous command waits in
mission control (nothing reaches the spacecraft), its requester cannot approve it, and a
second flight director's approval sends it through the ground station to the spacecraft,
which executes it (ground truth); the audit trail names both people."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from live import eventually, mission_control_url, tc_replay_instance, tc_replay_with, truth

from labctl.backends.docker import DockerBackend
from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.scenario import parameters

pytestmark = pytest.mark.docker

SECOND = secrets.token_urlsafe(12)
INJECTS = (
    "  - {kind: set_config, host: mission-control, args: {file: /etc/labctl/mission-control.yaml,"
    " key: policy.two_person, value: {enabled: true, expiry_s: 300}}}\n"
    "  - {kind: set_config, host: mission-control, args: {file: /etc/labctl/mission-control.yaml,"
    f" key: users.second, value: {{role: flight-director, password: {SECOND}}}}}}}\n"
)


def fired(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in document["executed_commands"] if e.get("name") == "THRUSTER_FIRE"]


def test_a_hazardous_command_needs_a_second_flight_director(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    loaded = tc_replay_with(tmp_path, INJECTS)
    with tc_replay_instance(lab_backend, tmp_path, "twop", loaded) as (_, record):
        url = mission_control_url(record)
        password = parameters(loaded.spec, record.student, record.seed).values["flight_password"]
        first = MissionControl("student", password, url)
        first.login()
        held = first.send("THRUSTER_FIRE", duration_ms=1200)
        assert held["status"] == "pending", held
        with pytest.raises(MissionControlError, match="403"):
            first.approve(held["pending_id"])
        time.sleep(3)  # long enough for a sent command to have executed
        assert fired(truth(lab_backend, record)) == []

        second = MissionControl("second", SECOND, url)
        second.login()
        (waiting,) = second.pending()
        assert (waiting["name"], waiting["requested_by"]) == ("THRUSTER_FIRE", "student")
        row = second.approve(held["pending_id"])
        assert row["status"] == "completed", row
        assert row["username"] == "student"
        eventually(lambda: fired(truth(lab_backend, record)), 20, "THRUSTER_FIRE on board")
        trail = second.request("GET", "/api/audit?limit=50")["audit"]
        done = {(e["actor"], e["action"], e["outcome"]) for e in trail}
        assert {
            ("student", "command.send", "pending"),
            ("student", "command.approve", "refused"),
            ("second", "command.approve", "ok"),
            ("student", "command.send", "ok"),
        } <= done
