"""Fixtures for the mission-control tests: a fake ground station and a configured server.

Everything listens on 127.0.0.1. The suite runs with --import-mode=importlib, so the
helpers next to this file (mc_fakes.py) are put on sys.path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mc_fakes import FakeGroundStation

from labctl.range.hosts.config import Config
from labctl.range.hosts.missioncontrol.passwords import hash_password
from labctl.range.hosts.missioncontrol.settings import Settings, settings_from

#: Computed once: scrypt is deliberately slow.
OPERATOR_HASH = hash_password("op-secret")


@pytest.fixture
def ground_station() -> Iterator[FakeGroundStation]:
    station = FakeGroundStation().start()
    yield station
    station.stop()


def make_config(tmp_path: Path, port: int, **policy: Any) -> dict[str, Any]:
    return {
        "users": {
            "admin": {"role": "flight-director", "password": "admin"},
            "op": {"role": "operator", "password_hash": OPERATOR_HASH},
            "guest": {"role": "viewer", "password": "guest"},
        },
        "policy": policy,
        "ground_station": {
            "host": "127.0.0.1",
            "port": port,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.2,
        },
        "database": {"path": str(tmp_path / "mc.db")},
        "audit_log": {"path": str(tmp_path / "audit.jsonl")},
    }


@pytest.fixture
def settings(tmp_path: Path, ground_station: FakeGroundStation) -> Settings:
    return settings_from(Config(make_config(tmp_path, ground_station.port), "test.yaml"))


def two_person_settings(tmp_path: Path, port: int, **rule: Any) -> Settings:
    """Mission control under the two-person rule, with a second flight director."""
    data = make_config(tmp_path, port, two_person={"enabled": True, **rule})
    data["users"]["second"] = {"role": "flight-director", "password": "second"}
    return settings_from(Config(data, "mission-control.yaml"))


@pytest.fixture
def two_person(tmp_path: Path, ground_station: FakeGroundStation) -> Settings:
    return two_person_settings(tmp_path, ground_station.port)
