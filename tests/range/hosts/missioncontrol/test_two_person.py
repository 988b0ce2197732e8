"""The two-person rule: a hazardous command waits for a second person's approval.

A real mission-control server (FastAPI), a real SQLite archive and audit file, and the
fake ground station that records what reaches the uplink.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config, two_person_settings
from fastapi.testclient import TestClient
from mc_fakes import FakeGroundStation, wait_until
from test_api import audit_lines, linked, send, status_of, token
from test_ui import ui_login

from labctl.range.hosts import catalog
from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.commanding import MAX_PENDING
from labctl.range.hosts.missioncontrol.settings import Settings, settings_from


@pytest.fixture
def rule(two_person: Settings) -> Settings:
    return two_person


@pytest.fixture
def client(rule: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(rule)) as test_client:
        linked(test_client)
        yield test_client


def actions(settings: Settings) -> list[tuple[object, object, object]]:
    return [(e["actor"], e["action"], e["outcome"]) for e in audit_lines(settings)]


def test_a_hazardous_command_waits_and_a_second_person_sends_it(
    client: TestClient, rule: Settings, ground_station: FakeGroundStation
) -> None:
    first, second = token(client, "admin", "admin"), token(client, "second", "second")
    held = send(client, first, "THRUSTER_FIRE", duration_ms=500)
    assert held["code"] == 202
    assert held["status"] == "pending"
    assert ground_station.received == []  # nothing reached the uplink
    (waiting,) = client.get("/api/commands/pending", headers=second).json()["pending"]
    assert waiting["id"] == held["pending_id"]
    assert waiting["requested_by"] == "admin"
    assert waiting["args"] == {"duration_ms": 500}

    approved = client.post(f"/api/commands/pending/{held['pending_id']}/approve", headers=second)
    assert approved.status_code == 201, approved.text
    wait_until(lambda: status_of(client, second, approved.json()["id"]) == "completed")
    (tc,) = ground_station.received
    assert struct.unpack(">HH", tc.app_data) == (catalog.Function.THRUSTER_FIRE, 500)
    row = client.get(f"/api/commands/sent/{approved.json()['id']}", headers=first).json()
    assert row["username"] == "admin"  # sent as the requester's command
    assert client.get("/api/commands/pending", headers=first).json()["pending"] == []
    assert ("admin", "command.send", "pending") in actions(rule)
    assert ("second", "command.approve", "ok") in actions(rule)
    assert ("admin", "command.send", "ok") in actions(rule)


def test_the_requester_cannot_approve_their_own_command(
    client: TestClient, rule: Settings, ground_station: FakeGroundStation
) -> None:
    first = token(client, "admin", "admin")
    held = send(client, first, "SAFE_MODE")
    answer = client.post(f"/api/commands/pending/{held['pending_id']}/approve", headers=first)
    assert answer.status_code == 403
    assert "second person" in answer.json()["detail"]
    assert ground_station.received == []
    assert ("admin", "command.approve", "refused") in actions(rule)
    assert len(client.get("/api/commands/pending", headers=first).json()["pending"]) == 1


def test_an_operator_cannot_approve_and_nothing_routine_waits(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    first, op = token(client, "admin", "admin"), token(client, "op", "op-secret")
    held = send(client, first, "SAFE_MODE")
    answer = client.post(f"/api/commands/pending/{held['pending_id']}/approve", headers=op)
    assert answer.status_code == 403
    assert "flight-director" in answer.json()["detail"]
    routine = send(client, op, "PING")
    assert routine["code"] == 201  # not hazardous: sent at once
    wait_until(lambda: status_of(client, op, routine["id"]) == "completed")
    assert [(tc.service, tc.subtype) for tc in ground_station.received] == [(17, 1)]


def test_a_rejected_command_is_never_sent(
    client: TestClient, rule: Settings, ground_station: FakeGroundStation
) -> None:
    first, second = token(client, "admin", "admin"), token(client, "second", "second")
    held = send(client, first, "SAFE_MODE")
    answer = client.post(f"/api/commands/pending/{held['pending_id']}/reject", headers=second)
    assert answer.status_code == 200
    assert answer.json()["rejected"]["name"] == "SAFE_MODE"
    again = client.post(f"/api/commands/pending/{held['pending_id']}/approve", headers=second)
    assert again.status_code == 404
    assert ground_station.received == []
    assert ("second", "command.reject", "ok") in actions(rule)


def test_an_unapproved_command_lapses(tmp_path: Path, ground_station: FakeGroundStation) -> None:
    settings = two_person_settings(tmp_path, ground_station.port, expiry_s=0.2)
    with TestClient(create_app(settings)) as client:
        linked(client)
        first, second = token(client, "admin", "admin"), token(client, "second", "second")
        held = send(client, first, "SAFE_MODE")
        wait_until(
            lambda: client.get("/api/commands/pending", headers=second).json()["pending"] == [],
            what="the request to lapse",
        )
        late = client.post(f"/api/commands/pending/{held['pending_id']}/approve", headers=second)
        assert late.status_code == 404
        assert "lapsed" in late.json()["detail"]
    assert ground_station.received == []
    assert ("admin", "command.lapse", "ok") in actions(settings)


def test_the_oldest_request_lapses_when_too_many_wait(client: TestClient) -> None:
    first = token(client, "admin", "admin")
    ids = [send(client, first, "SAFE_MODE")["pending_id"] for _ in range(MAX_PENDING + 1)]
    waiting = [
        p["id"] for p in client.get("/api/commands/pending", headers=first).json()["pending"]
    ]
    assert waiting == ids[1:]


def test_the_rule_is_off_by_default(settings: Settings, ground_station: FakeGroundStation) -> None:
    assert settings.policy.two_person is False
    with TestClient(create_app(settings)) as client:
        linked(client)
        assert send(client, token(client, "admin", "admin"), "SAFE_MODE")["code"] == 201


@pytest.mark.parametrize(
    ("rule_config", "message"),
    [
        ({"enabled": "yes"}, "policy.two_person.enabled"),
        ({"enabled": True, "expiry_s": 0}, "policy.two_person.expiry_s"),
        ({"enabled": True, "expires": 60}, "policy.two_person.expires"),
    ],
)
def test_bad_rule_settings_name_the_key(
    tmp_path: Path, rule_config: dict[str, Any], message: str
) -> None:
    data = make_config(tmp_path, 1, two_person=rule_config)
    with pytest.raises(HostConfigError, match=message.replace(".", r"\.")):
        settings_from(Config(data, "mission-control.yaml"))


def test_in_the_browser_pages_a_second_flight_director_approves(
    rule: Settings, ground_station: FakeGroundStation
) -> None:
    """The commands page: the request shows as waiting, its requester's Approve button is
    disabled, and the second flight director's form sends it."""
    with TestClient(create_app(rule), follow_redirects=False) as browser:
        linked(browser)
        csrf = ui_login(browser, "admin", "admin")
        browser.post("/commands/send", data={"csrf": csrf, "name": "SAFE_MODE"})
        page = browser.get("/commands").text
        assert "SAFE_MODE waits for a second person&#39;s approval (request #1)." in page
        assert 'disabled title="A second person must approve your request">Approve #1' in page
        refused = browser.post(
            "/commands/pending/decide",
            data={"csrf": csrf, "pending_id": "1", "decision": "approve"},
        )
        assert refused.status_code == 303
        assert "a second person must approve" in browser.get("/commands").text
        assert ground_station.received == []

        browser.cookies.clear()  # the second flight director, at another desk
        other = ui_login(browser, "second", "second")
        browser.post(
            "/commands/pending/decide",
            data={"csrf": other, "pending_id": "1", "decision": "approve"},
        )
        assert "Request #1 approved: sent as command #1." in browser.get("/commands").text
        wait_until(lambda: len(ground_station.received) == 1)
        assert "Nothing waits for approval." in browser.get("/commands").text
