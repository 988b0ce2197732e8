"""The JSON API in-process (TestClient) against a fake ground station on loopback."""

from __future__ import annotations

import itertools
import json
import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config
from fastapi.testclient import TestClient
from mc_fakes import FakeGroundStation, wait_until
from test_ui import hidden_csrf

from labctl.protocols.sdls_ep import EpPdu, KeyProcedure, SaProcedure
from labctl.range.hosts import catalog
from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.groundstation.conventions import Alert, StationStatus, UplinkMode
from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.settings import Settings, settings_from


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def token(client: TestClient, user: str, password: str) -> dict[str, str]:
    response = client.post("/api/login", json={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def linked(client: TestClient) -> None:
    wait_until(lambda: client.get("/api/health").json()["ground_link"], what="the ground link")


def send(client: TestClient, auth: dict[str, str], name: str, **args: int) -> dict[str, object]:
    response = client.post("/api/commands", json={"name": name, "args": args}, headers=auth)
    return {"code": response.status_code, **response.json()}


def status_of(client: TestClient, auth: dict[str, str], command_id: object) -> str:
    row = client.get(f"/api/commands/sent/{command_id}", headers=auth).json()
    return str(row["status"])


def audit_lines(settings: Settings) -> list[dict[str, object]]:
    return [json.loads(line) for line in settings.audit_log.read_text().splitlines()]


# --- health and login -----------------------------------------------------------------------


def test_health_needs_no_login_and_reports_link_and_telemetry_age(client: TestClient) -> None:
    linked(client)
    wait_until(lambda: client.get("/api/health").json()["last_telemetry_age"] is not None)
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["ground_link"] is True
    assert 0 <= health["last_telemetry_age"] < 5


def test_login_gives_a_bearer_token_and_logout_revokes_it(client: TestClient) -> None:
    auth = token(client, "op", "op-secret")
    assert client.get("/api/commands", headers=auth).status_code == 200
    assert client.post("/api/logout", headers=auth).json() == {"status": "logged out"}
    response = client.get("/api/commands", headers=auth)
    assert response.status_code == 401
    assert "POST /api/login" in response.json()["detail"]


def test_wrong_password_is_refused_and_audited(client: TestClient, settings: Settings) -> None:
    response = client.post("/api/login", json={"username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "wrong user name or password"}
    response = client.post("/api/login", json={"username": "nobody", "password": "x"})
    assert response.json() == {"detail": "wrong user name or password"}
    refused = [e for e in audit_lines(settings) if e["action"] == "login"]
    assert [(e["actor"], e["outcome"]) for e in refused] == [
        ("admin", "refused"),
        ("nobody", "refused"),
    ]
    assert refused[0]["detail"] == {"reason": "wrong password", "via": "api"}


def test_requests_without_a_session_get_401(client: TestClient) -> None:
    for path in ("/api/telemetry/latest", "/api/telemetry", "/api/events", "/api/audit"):
        assert client.get(path).status_code == 401, path
    forged = {"Authorization": "Bearer " + "A" * 43}
    assert client.get("/api/events", headers=forged).status_code == 401


def test_lockout_policy_locks_an_account_after_failed_logins(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    data = make_config(tmp_path, ground_station.port, login_lockout={"attempts": 2})
    with TestClient(create_app(settings_from(Config(data, "t.yaml")))) as client:
        for _ in range(2):
            client.post("/api/login", json={"username": "op", "password": "bad"})
        response = client.post("/api/login", json={"username": "op", "password": "op-secret"})
        assert response.status_code == 401
        audit = client.get("/api/audit", headers=token(client, "admin", "admin")).json()["audit"]
    assert audit[1]["detail"] == {"reason": "account locked after failed logins", "via": "api"}


# --- commanding -----------------------------------------------------------------------------


def test_ping_goes_out_as_pus_tc_and_reaches_completed(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "op", "op-secret")
    first, second = send(client, auth, "PING"), send(client, auth, "PING")
    assert first["code"] == 201
    assert first["status"] in {"sent", "accepted", "completed"}
    wait_until(lambda: status_of(client, auth, second["id"]) == "completed", what="completed")
    assert status_of(client, auth, first["id"]) == "completed"
    tcs = ground_station.received
    assert [(tc.apid, tc.service, tc.subtype) for tc in tcs] == [(catalog.PLATFORM_APID, 17, 1)] * 2
    assert tcs[1].seq_count == (tcs[0].seq_count + 1) & 0x3FFF


def test_viewer_may_not_send_anything(client: TestClient) -> None:
    linked(client)
    result = send(client, token(client, "guest", "guest"), "PING")
    assert result == {"code": 403, "detail": "sending commands needs role operator"}


def test_operator_is_refused_a_hazardous_command_with_an_audit_entry(
    client: TestClient, settings: Settings, ground_station: FakeGroundStation
) -> None:
    linked(client)
    result = send(client, token(client, "op", "op-secret"), "THRUSTER_FIRE", duration_ms=500)
    assert result == {"code": 403, "detail": "hazardous command needs role flight-director"}
    assert ground_station.received == []
    refusal = [e for e in audit_lines(settings) if e["action"] == "command.send"]
    assert len(refusal) == 1
    assert refusal[0]["outcome"] == "refused"
    assert refusal[0]["actor"] == "op"
    assert refusal[0]["detail"]["command"] == "THRUSTER_FIRE"  # type: ignore[index]
    admin = token(client, "admin", "admin")
    stored = client.get("/api/audit", headers=admin).json()["audit"]
    assert any(e["action"] == "command.send" and e["outcome"] == "refused" for e in stored)


def test_flight_director_sends_a_hazardous_command(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "admin", "admin")
    result = send(client, auth, "THRUSTER_FIRE", duration_ms=500)
    assert result["code"] == 201
    wait_until(lambda: status_of(client, auth, result["id"]) == "completed")
    (tc,) = ground_station.received
    assert (tc.service, tc.subtype) == (8, 1)
    assert struct.unpack(">HH", tc.app_data) == (catalog.Function.THRUSTER_FIRE, 500)


def test_weak_policy_lets_an_operator_send_hazardous_commands(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    data = make_config(tmp_path, ground_station.port, hazardous_requires="operator")
    with TestClient(create_app(settings_from(Config(data, "t.yaml")))) as client:
        linked(client)
        assert send(client, token(client, "op", "op-secret"), "SAFE_MODE")["code"] == 201


def test_failure_report_marks_the_command_failed_with_its_code(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    ground_station.failures["SET_MODE"] = (8, catalog.FailureCode.NOT_ALLOWED_IN_MODE)
    linked(client)
    auth = token(client, "op", "op-secret")
    result = send(client, auth, "SET_MODE", mode=2)
    wait_until(lambda: status_of(client, auth, result["id"]) == "failed")
    row = client.get(f"/api/commands/sent/{result['id']}", headers=auth).json()
    assert row["failure_code"] == catalog.FailureCode.NOT_ALLOWED_IN_MODE
    assert row["args"] == {"mode": 2}
    assert row["username"] == "op"


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"name": "NOPE"}, 404, "no command named 'NOPE'"),
        ({"name": "SET_MODE"}, 422, "SET_MODE arguments: expected mode"),
        ({"name": "SET_MODE", "args": {"mode": 300}}, 422, "SET_MODE: bad argument"),
        ({"name": "PING", "args": {"x": "y"}}, 422, "args.x: Input should be a valid integer"),
        ({"name": "PING", "extra": 1}, 422, "extra: Extra inputs are not permitted"),
    ],
)
def test_bad_command_requests_get_one_line_4xx(
    client: TestClient, body: dict[str, object], code: int, detail: str
) -> None:
    linked(client)
    response = client.post("/api/commands", json=body, headers=token(client, "op", "op-secret"))
    assert response.status_code == code
    assert response.json()["detail"].startswith(detail)
    assert "\n" not in response.json()["detail"]


def test_sending_while_the_link_is_down_is_503(settings: Settings) -> None:
    down = Settings(**{**settings.__dict__, "ground_port": 1})
    with TestClient(create_app(down)) as client:
        result = send(client, token(client, "op", "op-secret"), "PING")
    assert result["code"] == 503
    assert "ground link down" in str(result["detail"])


def test_catalog_lists_commands_with_hazard_and_permission(client: TestClient) -> None:
    commands = client.get("/api/commands", headers=token(client, "op", "op-secret")).json()
    by_name = {c["name"]: c for c in commands["commands"]}
    assert set(by_name) == set(catalog.BY_NAME)
    assert by_name["SAFE_MODE"]["hazardous"] is True
    assert by_name["SAFE_MODE"]["allowed"] is False
    assert by_name["SET_MODE"] | {"allowed": True} == by_name["SET_MODE"]
    assert by_name["SET_MODE"]["args"] == ["mode"]


# --- telemetry ingest -----------------------------------------------------------------------


def test_housekeeping_is_archived_and_served(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    auth = token(client, "guest", "guest")
    wait_until(lambda: len(client.get("/api/telemetry", headers=auth).json()["telemetry"]) >= 3)
    rows = client.get("/api/telemetry?limit=2", headers=auth).json()["telemetry"]
    assert len(rows) == 2
    assert rows[0]["id"] > rows[1]["id"]
    assert rows[0]["mode"] == "NOMINAL"
    assert rows[0]["battery_pct"] == 87
    assert rows[0]["payload_on"] is True
    assert rows[0]["ops_message"] == "nominal ops"
    older = client.get(f"/api/telemetry?before={rows[1]['id']}&limit=1", headers=auth).json()
    assert older["telemetry"][0]["id"] < rows[1]["id"]
    future = client.get("/api/telemetry?since=2999-01-01T00:00:00", headers=auth).json()
    assert future["count"] == 0
    latest = client.get("/api/telemetry/latest", headers=auth).json()
    assert latest["housekeeping"]["mode"] == "NOMINAL"
    assert latest["ground_link"]["connected"] is True


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=100000", "since=yesterday", "before=-1", "since=nan"]
)
def test_telemetry_queries_are_bounded(client: TestClient, query: str) -> None:
    response = client.get(f"/api/telemetry?{query}", headers=token(client, "guest", "guest"))
    assert response.status_code == 422
    assert "\n" not in response.json()["detail"]


def test_garbage_on_the_tm_stream_is_skipped(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "guest", "guest")
    event = ground_station.tm(5, 4, struct.pack(">H", catalog.Event.SECURITY_ALARM) + b"\x01")
    broken = bytearray(ground_station.tm(5, 1, struct.pack(">H", 1)))
    broken[-1] ^= 0xFF  # bad packet error control
    ground_station.push(b"\x00\xff garbage \x1f" * 40 + bytes(broken) + event + b"\xe0" * 7)
    wait_until(lambda: client.get("/api/events", headers=auth).json()["count"] == 1)
    (row,) = client.get("/api/events", headers=auth).json()["events"]
    assert (row["name"], row["severity"], row["aux_hex"]) == ("SECURITY_ALARM", 4, "01")
    link = client.get("/api/telemetry/latest", headers=auth).json()["ground_link"]
    assert link["garbage_octets"] >= 400
    assert ground_station.connections == 1
    count = client.get("/api/telemetry", headers=auth).json()["count"]
    wait_until(lambda: client.get("/api/telemetry", headers=auth).json()["count"] > count)


def test_sdls_replies_are_served_newest_first_and_malformed_ones_dropped(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "guest", "guest")
    arsn = EpPdu(1, SaProcedure.READ_ARSN, struct.pack(">HQI", 1, 41, 10), reply=True)
    inventory = EpPdu(0, KeyProcedure.INVENTORY, struct.pack(">HHBHB", 2, 7, 2, 8, 4), reply=True)
    status = EpPdu(1, SaProcedure.STATUS, struct.pack(">HB", 5, 3), reply=True)
    short = EpPdu(1, SaProcedure.READ_ARSN, b"\x00\x01", reply=True)  # hostile: too short
    command = EpPdu(1, SaProcedure.START, b"\x00\x01")  # not a reply
    ground_station.push(
        b"".join(
            ground_station.tm(129, 2, p.encode()) for p in (arsn, short, command, status, inventory)
        )
    )

    def served() -> list[dict[str, Any]]:
        return list(client.get("/api/sdls/replies", headers=auth).json()["replies"])

    wait_until(lambda: len(served()) == 3)
    newest, middle, oldest = served()
    assert (middle["procedure"], middle["spi"], middle["state"]) == ("SA_STATUS", 5, "operational")
    assert (oldest["procedure"], oldest["spi"], oldest["arsn"], oldest["window"]) == (
        "SA_READ_ARSN",
        1,
        41,
        10,
    )
    assert newest["keys"] == [{"id": 7, "state": "active"}, {"id": 8, "state": "destroyed"}]
    assert client.get("/api/sdls/replies").status_code == 401


def test_ground_station_status_packets_are_kept_as_latest_status(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    ground_station.send_status = False
    linked(client)
    status = StationStatus(UplinkMode.AD, 1, Alert.LOCKOUT, 5, 0, 3, 5, 0, 1, *range(9))
    directive_reply = ground_station.tm(1, 1, b"\x1f\xf0\xc0\x00", catalog.GROUND_STATION_APID)
    data = status.encode()
    ground_station.push(
        directive_reply + ground_station.tm(3, 25, data, catalog.GROUND_STATION_APID)
    )
    auth = token(client, "guest", "guest")

    def latest() -> Any:
        return client.get("/api/telemetry/latest", headers=auth).json()["ground_station"]

    wait_until(lambda: latest() and latest()["data_hex"] == data.hex())
    fields = latest()["fields"]
    assert (fields["uplink_mode"], fields["alert"], fields["lockout"]) == ("AD", "LOCKOUT", True)
    assert fields["sdls_rejections"] == 5


def test_the_client_reconnects_after_the_station_drops_it(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    ground_station.drop_clients()
    wait_until(lambda: ground_station.connections == 2, what="a reconnect")
    linked(client)


# --- audit ----------------------------------------------------------------------------------


def test_audit_is_for_flight_directors_and_goes_to_the_file(
    client: TestClient, settings: Settings
) -> None:
    linked(client)
    op = token(client, "op", "op-secret")
    send(client, op, "PING")
    assert client.get("/api/audit", headers=op).json() == {
        "detail": "this needs role flight-director"
    }
    entries = client.get("/api/audit?limit=50", headers=token(client, "admin", "admin")).json()
    actions = [(e["actor"], e["action"], e["outcome"]) for e in entries["audit"]]
    assert ("op", "command.send", "ok") in actions
    assert ("system", "server.start", "ok") in actions
    lines = audit_lines(settings)
    assert [line["id"] for line in lines] == sorted(e["id"] for e in entries["audit"])
    sent = next(line for line in lines if line["action"] == "command.send")
    assert sent["detail"]["command"] == "PING"  # type: ignore[index]


def test_a_forged_length_field_delays_but_does_not_swallow_telemetry(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "guest", "guest")
    forged = bytes.fromhex("0864c0000700")  # our APID, PUS TM, claims 1793 data octets
    event = ground_station.tm(5, 1, struct.pack(">H", catalog.Event.BOOT))
    ground_station.push(forged + event)
    wait_until(lambda: client.get("/api/events", headers=auth).json()["count"] == 1)
    assert client.get("/api/events", headers=auth).json()["events"][0]["name"] == "BOOT"


def test_sequence_count_continues_after_a_restart(
    settings: Settings, ground_station: FakeGroundStation
) -> None:
    for _ in range(2):
        with TestClient(create_app(settings)) as client:
            linked(client)
            assert send(client, token(client, "op", "op-secret"), "PING")["code"] == 201
    wait_until(lambda: len(ground_station.received) == 2)
    assert [tc.seq_count for tc in ground_station.received] == [0, 1]


def test_cop1_directives_need_the_flight_director_and_are_audited(
    client: TestClient, settings: Settings, ground_station: FakeGroundStation
) -> None:
    """Unlock and Set V(R) go to the ground station (APID 0x7F0, 128,1 and 128,2) when the
    role allows; an operator is refused with the role named; every attempt is audited."""
    linked(client)
    operator = token(client, "op", "op-secret")
    refused = client.post("/api/station/directives", json={"directive": "unlock"}, headers=operator)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "COP-1 directives need role flight-director"
    admin = token(client, "admin", "admin")
    for body in ({"directive": "unlock"}, {"directive": "set_vr", "vr": 7}):
        reply = client.post("/api/station/directives", json=body, headers=admin)
        assert reply.status_code == 202, reply.text
    for bad in ({"directive": "set_vr"}, {"directive": "set_vr", "vr": 256}, {"directive": "x"}):
        assert client.post("/api/station/directives", json=bad, headers=admin).status_code == 422
    wait_until(lambda: len(ground_station.received) == 2)
    unlock, set_vr = ground_station.received
    assert (unlock.apid, unlock.service, unlock.subtype) == (0x7F0, 128, 1)
    assert unlock.app_data == b""
    assert (set_vr.apid, set_vr.service, set_vr.subtype) == (0x7F0, 128, 2)
    assert set_vr.app_data == b"\x07"
    trail = [e for e in audit_lines(settings) if e["action"] == "station.directive"]
    assert [(e["actor"], e["outcome"]) for e in trail[:3]] == [
        ("op", "refused"),
        ("admin", "ok"),
        ("admin", "ok"),
    ]
    assert trail[2]["detail"] == {"directive": "set_vr", "vr": 7}


def test_parameter_reports_show_stored_and_in_use_values(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "guest", "guest")
    assert client.get("/api/parameters", headers=auth).json()["parameters"] == []
    good = struct.pack(catalog.PARAMETER_REPORT_FORMAT, 1, 1, 0) + struct.pack(
        catalog.PARAMETER_REPORT_FORMAT, 77, 5, 5
    )
    ground_station.push(ground_station.tm(20, 2, good[:-1]))  # cut short: rejected
    ground_station.push(ground_station.tm(20, 2, good))
    wait_until(lambda: client.get("/api/parameters", headers=auth).json()["parameters"])
    rows = client.get("/api/parameters", headers=auth).json()["parameters"]
    assert [(r["name"], r["stored"], r["in_use"], r["pending"]) for r in rows] == [
        ("UPLINK_ANTI_REPLAY", 1, 0, True),
        ("PARAMETER_77", 5, 5, False),
    ]
    latest = client.get("/api/telemetry/latest", headers=auth).json()
    assert latest["ground_link"]["rejected_packets"] >= 1


def test_the_operations_script_sends_routine_commands_under_its_own_name(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    data = make_config(tmp_path, ground_station.port)
    data["operations"] = {"enabled": True, "period_s": 2, "commands": ["PING", "PAYLOAD_OFF"]}
    with TestClient(create_app(settings_from(Config(data, "t.yaml")))) as client:
        linked(client)
        wait_until(lambda: len(ground_station.received) >= 2, timeout=10)
        auth = token(client, "admin", "admin")
        sent = client.get("/api/commands/sent", headers=auth).json()["commands"]
        assert [(c["username"], c["name"]) for c in reversed(sent[-2:])][:2] == [
            ("flight-ops-script", "PING"),
            ("flight-ops-script", "PAYLOAD_OFF"),
        ]
        trail = [
            e
            for e in audit_lines(settings_from(Config(data, "t.yaml")))
            if e["action"] == "command.send"
        ]
        assert trail[0]["actor"] == "flight-ops-script"


@pytest.mark.parametrize(
    ("operations", "names"),
    [
        ({"commands": ["THRUSTER_FIRE"]}, "operations.commands"),
        ({"commands": ["NOPE"]}, "operations.commands"),
        ({"comands": ["PING"]}, "operations.comands"),
        ({"user": "a b"}, "operations.user"),
    ],
)
def test_operations_mistakes_name_the_key(
    tmp_path: Path, operations: dict[str, object], names: str
) -> None:
    data = make_config(tmp_path, 1)
    data["operations"] = operations
    with pytest.raises(HostConfigError, match=re.escape(names)):
        settings_from(Config(data, "t.yaml"))


@pytest.mark.parametrize(
    ("section", "value", "named"),
    [
        ("polcy", {"hazardous_requires": "flight-director"}, "polcy"),
        ("policy", {"hazardous_require": "flight-director"}, "policy.hazardous_require"),
        ("policy", {"login_lockout": {"attempt": 5}}, "policy.login_lockout.attempt"),
        ("audit_log", {"enable": True}, "audit_log.enable"),
    ],
)
def test_a_misspelt_key_is_refused_naming_it(
    tmp_path: Path, section: str, value: dict[str, object], named: str
) -> None:
    """A hardening setting with a typo must not be silently ignored."""
    data = make_config(tmp_path, 1)
    data[section] = {**data.get(section, {}), **value}
    with pytest.raises(HostConfigError, match=re.escape(named)):
        settings_from(Config(data, "t.yaml"))


def test_shift_notes_reach_only_the_role_they_are_for_and_above(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    data = make_config(tmp_path, ground_station.port)
    data["notes"] = {"flight-director": "handover HANDOVER{00ff}", "operator": "pass at 14:02"}
    with TestClient(create_app(settings_from(Config(data, "t.yaml")))) as client:

        def notes(user: str, password: str) -> list[str]:
            body = {"username": user, "password": password}
            return list(client.post("/api/login", json=body).json()["notes"])

        assert notes("admin", "admin") == ["pass at 14:02", "handover HANDOVER{00ff}"]
        assert notes("op", "op-secret") == ["pass at 14:02"]
        assert notes("guest", "guest") == []
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        form = {"username": "op", "password": "op-secret", "csrf": csrf.group(1)}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        page = client.get("/dashboard").text
        assert "pass at 14:02" in page
        assert "HANDOVER{00ff}" not in page


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        (
            {"captain": "x"},
            "notes.captain: unknown key (allowed: flight-director, operator, viewer)",
        ),
        ({"operator": "x" * 501}, "notes.operator: text of at most 500 characters"),
        (["x"], "notes: a mapping of role to text"),
    ],
)
def test_a_bad_shift_note_is_refused_naming_the_key(
    tmp_path: Path, notes: object, message: str
) -> None:
    data = make_config(tmp_path, 1)
    data["notes"] = notes
    with pytest.raises(HostConfigError, match=re.escape(message)):
        settings_from(Config(data, "t.yaml"))


# --- passes ---------------------------------------------------------------------------------

ORBIT_BLOCK = {
    "tle": [
        "1 43013U 17073A   26338.50000000  .00000010  00000-0  10000-4 0  9992",
        "2 43013  98.7200 300.0000 0001000  90.0000 270.0000 14.19500000 45000",
    ],
    "station": {"name": "svalbard", "latitude": 78.23, "longitude": 15.41, "min_elevation": 5},
    "time_scale": 6,
}


def test_operators_see_the_next_passes_from_the_orbit(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    data = make_config(tmp_path, ground_station.port)
    plain = settings_from(Config(data, "test.yaml"))
    with TestClient(create_app(plain)) as client:
        auth = token(client, "guest", "guest")
        assert client.get("/api/passes", headers=auth).json() == {"passes": []}
    with_orbit = settings_from(Config({**data, "passes": {"orbit": ORBIT_BLOCK}}, "test.yaml"))
    with TestClient(create_app(with_orbit)) as client:
        assert client.get("/api/passes").status_code == 401
        auth = token(client, "guest", "guest")
        passes = client.get("/api/passes", headers=auth).json()["passes"]
        assert len(passes) == 4
        # about 2 minutes each; one cut by the simulated day's end may be shorter
        assert all(0 < p["duration_s"] <= 150 for p in passes)
        assert sum(p["duration_s"] >= 60 for p in passes) >= 3
        assert all(a["aos"] < b["aos"] for a, b in itertools.pairwise(passes))
        assert passes[0]["now"] or passes[0]["in_s"] > 0
        csrf = hidden_csrf(client.get("/login").text)
        client.post("/login", data={"username": "guest", "password": "guest", "csrf": csrf})
        dashboard = client.get("/dashboard").text
        assert "Passes" in dashboard
        assert passes[1]["aos"][11:19] in dashboard


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ({"orbit": {**ORBIT_BLOCK, "tle": ["1 x", "2 y"]}}, "passes.orbit"),
        ({"orbit": {**ORBIT_BLOCK, "tle": "one line"}}, "passes.orbit.tle"),
        ({"orbit": {**ORBIT_BLOCK, "station": {"latitude": 95, "longitude": 0}}}, "passes.orbit"),
        ({"orbit": {**ORBIT_BLOCK, "colour": "red"}}, "passes.orbit.colour"),
        ({"orbitt": ORBIT_BLOCK}, "passes.orbitt"),
    ],
)
def test_a_bad_pass_plan_names_its_key(tmp_path: Path, block: dict[str, Any], key: str) -> None:
    with pytest.raises(HostConfigError) as caught:
        settings_from(Config({**make_config(tmp_path, 1), "passes": block}, "test.yaml"))
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


def test_octet_arguments_travel_as_hex_text_and_wrong_lengths_are_refused(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    auth = token(client, "admin", "admin")
    listed = {c["name"]: c for c in client.get("/api/commands", headers=auth).json()["commands"]}
    assert listed["KEY_OTAR"]["octets"] == {"iv": 12, "encrypted_key": 18, "mac": 16}
    good = {"master_key_id": 1, "iv": "ab" * 12, "encrypted_key": "cd " * 18, "mac": "ef" * 16}
    sent = send(client, auth, "KEY_OTAR", **good)  # type: ignore[arg-type]
    assert sent["code"] == 201, sent
    packet = ground_station.received[-1]
    assert bytes.fromhex("ab" * 12 + "cd" * 18 + "ef" * 16) in packet.app_data
    for bad, detail in (
        ({**good, "iv": "ab" * 11}, "KEY_OTAR iv must be 12 octets as hex text"),
        ({**good, "iv": 5}, "KEY_OTAR iv must be 12 octets as hex text"),
        ({**good, "master_key_id": "01"}, "KEY_OTAR master_key_id must be an integer"),
    ):
        refused = send(client, auth, "KEY_OTAR", **bad)  # type: ignore[arg-type]
        assert (refused["code"], refused["detail"]) == (422, detail)
    garbage = client.post(
        "/api/commands", json={"name": "KEY_OTAR", "args": {"iv": "zz"}}, headers=auth
    )
    assert garbage.status_code == 422
    assert garbage.json()["detail"].startswith("args.iv: Input should be a valid integer, or")


def test_by_default_a_bad_packet_is_dropped_and_processing_goes_on(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    linked(client)
    ground_station.push(ground_station.tm(5, 1, b"\x01"))  # an event without its event id
    wait_until(lambda: client.get("/api/health").json()["ingest"]["rejected_packets"] == 1)
    ingest = client.get("/api/health").json()["ingest"]
    assert (ingest["on_bad_packet"], ingest["halted"], ingest["halts_recorded"]) == (
        "drop",
        False,
        0,
    )


def test_the_legacy_processing_halts_at_a_bad_packet_until_a_restart(
    settings: Settings, ground_station: FakeGroundStation
) -> None:
    legacy = Settings(**{**settings.__dict__, "on_bad_packet": "halt"})
    with TestClient(create_app(legacy)) as client:
        linked(client)
        auth = token(client, "guest", "guest")
        wait_until(lambda: client.get("/api/telemetry", headers=auth).json()["count"] > 0)
        ground_station.push(ground_station.tm(5, 1, b"\x01"))
        wait_until(lambda: client.get("/api/health").json()["ingest"]["halted"])
        ingest = client.get("/api/health").json()["ingest"]
        assert ingest["halts_recorded"] == 1
        assert "event report without an event id" in ingest["halted_reason"]
        assert ingest["halts"][0]["reason"] == ingest["halted_reason"]
        count = client.get("/api/telemetry", headers=auth).json()["count"]
        time.sleep(0.3)  # housekeeping keeps coming from the station: none is archived
        assert client.get("/api/telemetry", headers=auth).json()["count"] == count
        page = client.get("/api/telemetry/latest", headers=auth).json()["ground_link"]
        assert page["processing"].startswith("HALTED")
    with TestClient(create_app(legacy)) as client:  # the restart: running, the halt on record
        linked(client)
        ingest = client.get("/api/health").json()["ingest"]
        assert (ingest["halted"], ingest["halts_recorded"]) == (False, 1)


def test_on_bad_packet_accepts_drop_or_halt_only(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1)
    config["telemetry"] = {"on_bad_packet": "ignore"}
    with pytest.raises(HostConfigError, match="use one of drop, halt"):
        settings_from(Config(config, "test.yaml"))
