"""``audit_log.remote``: every audit record also goes to a remote log collector.

A real mission-control server (FastAPI, SQLite, audit file) ships to a real collector
(labctl's log-server service) on 127.0.0.1; the collector is also stopped and started to
show that records wait and are not lost, and the commands listing says what the
two-person rule holds.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config, two_person_settings
from fastapi.testclient import TestClient
from mc_fakes import FakeGroundStation, wait_until
from test_api import linked, send, token

from labctl.range.hosts import catalog
from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.logserver.config import LogServerConfig
from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.audit import Shipper
from labctl.range.hosts.missioncontrol.settings import Settings, settings_from

sys.path.insert(0, str(Path(__file__).parents[1] / "logserver"))
from logserver_running import Running, stored


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def collector_at(tmp_path: Path, port: int) -> Running:
    config = LogServerConfig(
        host="127.0.0.1", port=port, path=tmp_path / "collected.jsonl", status_file=None
    )
    return Running(config).start()


def shipping_to(tmp_path: Path, station: int, port: int) -> Settings:
    data = make_config(tmp_path, station)
    data["audit_log"]["remote"] = {"host": "127.0.0.1", "port": port}
    return settings_from(Config(data, "mission-control.yaml"))


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Running]:
    running = collector_at(tmp_path, free_port())
    yield running
    running.stop()


def records(tmp_path: Path) -> list[dict[str, Any]]:
    return [r["record"] for r in stored(tmp_path / "collected.jsonl")]


def test_every_record_reaches_the_collector_as_written_locally(
    tmp_path: Path, ground_station: FakeGroundStation, collector: Running
) -> None:
    settings = shipping_to(tmp_path, ground_station.port, collector.port)
    with TestClient(create_app(settings)) as client:
        linked(client)
        auth = token(client, "op", "op-secret")
        assert send(client, auth, "PING")["code"] == 201
        wait_until(lambda: any(r["action"] == "command.send" for r in records(tmp_path)))
        health = client.get("/api/health").json()["audit_remote"]
    assert health["target"] == f"127.0.0.1:{collector.port}"
    assert health["connected"] is True
    local = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    shipped = records(tmp_path)
    assert shipped == local[: len(shipped)]
    start = shipped[0]
    assert start["action"] == "server.start"
    assert start["detail"]["audit_remote"] == f"127.0.0.1:{collector.port}"
    assert start["detail"]["two_person"] is False


def test_records_wait_while_the_collector_is_down_and_none_is_lost(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    port = free_port()
    settings = shipping_to(tmp_path, ground_station.port, port)
    with TestClient(create_app(settings)) as client:
        linked(client)
        auth = token(client, "op", "op-secret")
        for _ in range(3):
            assert send(client, auth, "PING")["code"] == 201
        assert client.get("/api/health").json()["audit_remote"]["connected"] is False
        running = collector_at(tmp_path, port)
        try:
            wait_until(
                lambda: sum(r["action"] == "command.send" for r in records(tmp_path)) == 3,
                timeout=30,
            )
        finally:
            running.stop()


def test_the_shipper_counts_what_it_cannot_keep() -> None:
    shipper = Shipper("127.0.0.1", free_port(), connect_timeout=0.2)
    try:
        for _ in range(10_005):
            shipper.put(b"{}\n")
        assert 4 <= shipper.stats.dropped <= 6  # the thread may hold one line
    finally:
        shipper.close(flush_s=0.1)


def test_a_disabled_trail_ships_nothing(tmp_path: Path) -> None:
    data = make_config(tmp_path, 1)
    data["audit_log"].update(enabled=False, remote={"host": "log-server"})
    settings = settings_from(Config(data, "mission-control.yaml"))
    assert settings.audit_remote == ("log-server", 5140)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").json()["audit_remote"] is None


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ({"host": "log server"}, "audit_log.remote.host"),
        ({"host": "http://log-server"}, "audit_log.remote.host"),
        ({"host": "log-server", "port": 0}, "audit_log.remote.port"),
        ({"host": "log-server", "tls": True}, "audit_log.remote.tls"),
    ],
)
def test_bad_remote_settings_are_named(tmp_path: Path, remote: dict[str, Any], key: str) -> None:
    data = make_config(tmp_path, 1)
    data["audit_log"]["remote"] = remote
    with pytest.raises(HostConfigError) as caught:
        settings_from(Config(data, "mission-control.yaml"))
    assert caught.value.key == key


def test_no_remote_by_default(tmp_path: Path) -> None:
    assert settings_from(Config(make_config(tmp_path, 1), "x.yaml")).audit_remote is None
    data = make_config(tmp_path, 1)
    data["audit_log"]["remote"] = {"host": ""}
    assert settings_from(Config(data, "x.yaml")).audit_remote is None


def test_the_listing_says_which_commands_wait_for_a_second_person(
    tmp_path: Path, ground_station: FakeGroundStation
) -> None:
    hazardous = {c.name for c in catalog.COMMANDS if c.hazardous}
    assert {"THRUSTER_FIRE", "SAFE_MODE"} <= hazardous
    for rule, expected in ((False, set()), (True, hazardous)):
        settings = (
            two_person_settings(tmp_path, ground_station.port)
            if rule
            else settings_from(Config(make_config(tmp_path, ground_station.port), "x.yaml"))
        )
        with TestClient(create_app(settings)) as client:
            auth = token(client, "admin", "admin")
            listing = client.get("/api/commands", headers=auth).json()["commands"]
        assert {c["name"] for c in listing if c["two_person"]} == expected
