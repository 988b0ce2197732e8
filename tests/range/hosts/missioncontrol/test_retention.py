"""Mission control's volumes stay bounded however hard they are pushed from outside.

Every growth path a student reaches without privilege is driven far past its bound: the
archive's tables (forged telemetry and events on a clear downlink, commands, audit rows
of a login brute force) and the audit trail's JSON-lines file. The files must stay under
the budget docs/ground-segment.md gives, and the newest entries must still be there.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config
from fastapi.testclient import TestClient
from mc_fakes import FakeGroundStation, wait_until

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.audit import MAX_DETAIL, AuditLog
from labctl.range.hosts.missioncontrol.db import Archive, Retention
from labctl.range.hosts.missioncontrol.settings import load_settings, settings_from

MIB = 1024 * 1024
TABLES = ("telemetry", "events", "commands", "audit")
#: The worst case per table at the default retention (docs/ground-segment.md, "Disk").
TELEMETRY_BUDGET = 24 * MIB
AUDIT_BUDGET = 48 * MIB
#: The WAL is truncated to this after each checkpoint (plus one transaction's pages).
WAL_BUDGET = 5 * MIB
#: An integer of 4,000 digits: what a JSON body may carry.
HUGE = 10**4000


def housekeeping(i: int) -> dict[str, Any]:
    """A telemetry row as large as ingest can make one (a 32-octet ops message of bytes that
    are not UTF-8 decodes to 32 replacement characters)."""
    return {
        "received_at": time.time(),
        "apid": 100,
        "seq_count": i & 0x3FFF,
        "spacecraft_time": "2026-12-04 15:57:13.123",
        "mode": "NOMINAL",
        "battery_pct": 100,
        "payload_on": 1,
        "commands_executed": 2**32 - 1,
        "commands_rejected": 65535,
        "frames_rejected": 65535,
        "ops_message": "\ufffd" * 32,
    }


def command(i: int) -> dict[str, Any]:
    return {
        "username": "u" * 64,
        "name": "THRUSTER_FIRE",
        "args": json.dumps({"duration_ms": 65535}),
        "hazardous": True,
        "seq_count": i & 0x3FFF,
        "packet_id": 0x1864,
        "seq_control": 0xC000 | (i & 0x3FFF),
        "status": "sent",
    }


def audit_row(i: int) -> dict[str, Any]:
    return {
        "at": time.time(),
        "actor": "a" * 200,
        "action": "login",
        "outcome": "refused",
        "remote": "10.0.0.1:40000",
        "detail": json.dumps({"n": i}),
    }


def sizes(folder: Path, prefix: str) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.iterdir() if p.name.startswith(prefix)}


def count(archive: Archive, table: str) -> int:
    return int(archive._rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])


def ids(archive: Archive, table: str) -> tuple[int, int]:
    row = archive._rows(f"SELECT min(id) AS low, max(id) AS high FROM {table}")[0]
    return int(row["low"]), int(row["high"])


def test_each_table_keeps_its_newest_rows_far_past_its_bound(tmp_path: Path) -> None:
    keep = 1000
    archive = Archive(tmp_path / "mc.db", Retention(keep, keep, keep, keep))
    for i in range(10 * keep):
        archive.add_housekeeping(housekeeping(i))
        archive.add_event(4, 1, "SECURITY_ALARM", bytes(64))
        archive.add_command(command(i))
        archive.add_audit(audit_row(i))
    for table in TABLES:
        low, high = ids(archive, table)
        assert high == 10 * keep, table  # the newest row is there
        assert keep <= count(archive, table) <= keep + Retention.batch(keep), table
        assert low > 10 * keep - keep - Retention.batch(keep), table  # only the newest
    assert archive.audit(None, 1)[0]["detail"] == json.dumps({"n": 10 * keep - 1})
    archive.close()


def test_the_archive_trims_what_it_finds_beyond_its_bound_when_it_opens(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "mc.db", Retention(audit=5000))
    for i in range(3000):
        archive.add_audit(audit_row(i))
    archive.close()
    reopened = Archive(tmp_path / "mc.db", Retention(audit=500))
    assert count(reopened, "audit") == 500
    assert ids(reopened, "audit")[1] == 3000
    reopened.close()


def test_200k_telemetry_rows_stay_within_the_telemetry_budget(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "mc.db")  # the default retention
    for i in range(200_000):
        archive.add_housekeeping(housekeeping(i))
    assert count(archive, "telemetry") <= Retention().telemetry + Retention.batch(
        Retention().telemetry
    )
    latest = archive.latest_housekeeping()
    assert latest is not None
    assert latest["id"] == 200_000
    found = sizes(tmp_path, "mc.db")  # while open: closing removes the WAL
    archive.close()
    assert found["mc.db"] <= TELEMETRY_BUDGET, found
    assert found.get("mc.db-wal", 0) <= WAL_BUDGET, found


def worst_detail(i: int) -> dict[str, Any]:
    """A refused command as large as a client can make its audit detail."""
    return {
        "command": "C" * 64,
        "args": {f"{'k' * 62}{j:02}": HUGE + i for j in range(16)},
        "role": "operator",
        "reason": "r" * 300,
    }


def test_50k_worst_case_audit_writes_stay_within_the_audit_budget(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "mc.db")  # the default retention
    trail = AuditLog(archive, tmp_path / "audit.jsonl")  # the default size
    for i in range(50_000):
        trail.record("\U0001f600" * 500, "command.send", "refused", "y" * 500, **worst_detail(i))
    newest = archive.audit(None, 1)[0]
    assert len(newest["detail"]) <= MAX_DETAIL
    assert json.loads(newest["detail"])  # still JSON, readable by GET /api/audit
    found = sizes(tmp_path, "")  # while open: closing removes the WAL
    archive.close()
    assert found["mc.db"] <= AUDIT_BUDGET, found
    assert found.get("mc.db-wal", 0) <= WAL_BUDGET, found
    assert found["audit.jsonl"] <= trail.max_bytes, found
    assert found["audit.jsonl.1"] <= trail.max_bytes, found
    assert set(found) <= {"mc.db", "mc.db-wal", "mc.db-shm", "audit.jsonl", "audit.jsonl.1"}
    last = (tmp_path / "audit.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["id"] == newest["id"]  # the file keeps the newest entries


def test_the_trail_file_rotates_at_its_size_keeping_one_old_file(tmp_path: Path) -> None:
    archive = Archive(Path(":memory:"))
    trail = AuditLog(archive, tmp_path / "audit.jsonl", max_bytes=65536)
    for i in range(5000):
        trail.record("op", "login", "refused", "10.0.0.1", n=i)
    current = (tmp_path / "audit.jsonl").read_text().splitlines()
    previous = (tmp_path / "audit.jsonl.1").read_text().splitlines()
    assert (tmp_path / "audit.jsonl").stat().st_size <= 65536
    assert (tmp_path / "audit.jsonl.1").stat().st_size <= 65536
    numbers = [json.loads(line)["detail"]["n"] for line in previous + current]
    assert numbers == list(range(numbers[0], 5000))  # contiguous, the newest last
    assert not (tmp_path / "audit.jsonl.2").exists()


def brute_force_settings(tmp_path: Path, port: int) -> Any:
    config = make_config(tmp_path, port)
    config["database"]["keep"] = {"audit": 500}
    config["audit_log"]["max_bytes"] = 65536
    return settings_from(Config(config, "test.yaml"))


def test_a_login_brute_force_leaves_the_bounded_newest_trail(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    settings = brute_force_settings(tmp_path, ground_station.port)
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/api/health").json()["ground_link"], what="the link")
        for i in range(3000):
            wrong = {"username": "admin", "password": f"guess{i}"}
            assert client.post("/api/login", json=wrong).status_code == 401
        login = client.post("/api/login", json={"username": "admin", "password": "admin"})
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        rows = client.get("/api/audit?limit=500", headers=admin).json()["audit"]
    assert (rows[0]["actor"], rows[0]["outcome"]) == ("admin", "ok")
    assert rows[1]["outcome"] == "refused"
    assert len(rows) == 500
    assert (tmp_path / "audit.jsonl").stat().st_size <= 65536
    assert (tmp_path / "audit.jsonl.1").stat().st_size <= 65536
    assert not any(r["action"] == "server.start" for r in rows)  # the oldest went first


def test_the_bounds_come_from_the_configuration_with_defaults(tmp_path: Path) -> None:
    defaults = settings_from(Config(make_config(tmp_path, 1), "test.yaml"))
    assert defaults.retention == Retention()
    assert defaults.audit_max_bytes == 8 * MIB
    example = load_settings(
        Path(__file__).parents[4] / "containers/mission-control/mission-control.yaml"
    )
    assert (example.retention, example.audit_max_bytes) == (Retention(), 8 * MIB)
    configured = brute_force_settings(tmp_path, 1)
    assert configured.retention == Retention(audit=500)
    assert configured.audit_max_bytes == 65536


@pytest.mark.parametrize(
    ("section", "key", "value", "where"),
    [
        ("database", "keep", {"audit": 499}, "database.keep.audit"),
        ("database", "keep", {"telemetry": "many"}, "database.keep.telemetry"),
        ("database", "keep", {"logins": 1000}, "database.keep.logins"),
        ("audit_log", "max_bytes", 1000, "audit_log.max_bytes"),
    ],
)
def test_a_bound_out_of_range_is_one_line_naming_its_key(
    tmp_path: Path, section: str, key: str, value: Any, where: str
) -> None:
    config = make_config(tmp_path, 1)
    config[section][key] = value
    with pytest.raises(HostConfigError) as error:
        settings_from(Config(config, "test.yaml"))
    assert where in str(error.value)
