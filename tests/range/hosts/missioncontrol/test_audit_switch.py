"""``audit_log.enabled``: the audit trail can be switched off (a lab's weakness), on by default."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_config
from fastapi.testclient import TestClient
from mc_fakes import FakeGroundStation, wait_until

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.settings import Settings, settings_from


def configured(tmp_path: Path, port: int, audit: dict[str, object]) -> Settings:
    config = make_config(tmp_path, port)
    config["audit_log"] = {"path": str(tmp_path / "audit.jsonl"), **audit}
    return settings_from(Config(config, "test.yaml"))


def act_and_read_audit(settings: Settings) -> list[tuple[str, str, str]]:
    """Refused login, a sent command, a refused hazardous command; the trail as admin sees it."""
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/api/health").json()["ground_link"], what="the link")
        client.post("/api/login", json={"username": "admin", "password": "wrong"})
        login = client.post("/api/login", json={"username": "op", "password": "op-secret"})
        op = {"Authorization": f"Bearer {login.json()['token']}"}
        assert client.post("/api/commands", json={"name": "PING"}, headers=op).status_code == 201
        fire = {"name": "THRUSTER_FIRE", "args": {"duration_ms": 10}}
        assert client.post("/api/commands", json=fire, headers=op).status_code == 403
        login = client.post("/api/login", json={"username": "admin", "password": "admin"})
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        rows = client.get("/api/audit", headers=admin).json()["audit"]
    return [(row["actor"], row["action"], row["outcome"]) for row in rows]


def test_the_audit_trail_is_on_by_default(tmp_path: Path) -> None:
    assert configured(tmp_path, 1, {}).audit_enabled is True
    assert configured(tmp_path, 1, {"enabled": False}).audit_enabled is False


def test_enabled_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(HostConfigError) as error:
        configured(tmp_path, 1, {"enabled": "no"})
    assert "audit_log.enabled" in str(error.value)


def test_an_enabled_trail_records_every_action(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    actions = act_and_read_audit(configured(tmp_path, ground_station.port, {"enabled": True}))
    assert ("admin", "login", "refused") in actions
    assert ("op", "command.send", "ok") in actions
    assert ("op", "command.send", "refused") in actions
    assert (tmp_path / "audit.jsonl").read_text().count("\n") >= len(actions)


def test_a_disabled_trail_records_nothing_anywhere(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    settings = configured(tmp_path, ground_station.port, {"enabled": False})
    assert act_and_read_audit(settings) == []
    assert not (tmp_path / "audit.jsonl").exists()
