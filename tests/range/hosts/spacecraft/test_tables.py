"""On-board tables: TABLE_LOAD, the limits table's hold on THRUSTER_FIRE, Ed25519
verification of loads and of the kept table at a reset, and anti-rollback.

The flight software is driven frame by frame (no sockets); the signatures are real
Ed25519 (labctl.protocols.table, the same code the graders and students use).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sc_scaffold import BASELINE, DOWNLINK_KEY, UPLINK_KEY, Ground, merge, tm_packets

from labctl.protocols.table import LimitsTable, public_key, sign, verify
from labctl.range.hosts.catalog import FailureCode
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.spacecraft import FlightSoftware
from labctl.range.hosts.spacecraft.config import load_config

SEED = bytes(range(32))  # flight dynamics' private key, for these tests
OTHER = bytes(range(32, 64))
SIGNED_V2 = LimitsTable(2, 4000, True)


def setup(tmp_path: Path, **tables: Any) -> Path:
    """A spacecraft configuration with flight dynamics' public key and a v1 table."""
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "uplink.key").write_text(UPLINK_KEY.hex() + "\n")
    (keys / "downlink.key").write_text(DOWNLINK_KEY.hex() + "\n")
    (tmp_path / "fd.pub").write_text(public_key(SEED).hex() + "\n")
    section = {
        "public_key_file": str(tmp_path / "fd.pub"),
        "limits": {"version": 1, "max_burn_ms": 3000, "thruster_enabled": True},
        **tables,
    }
    data = merge(BASELINE, {"state_dir": str(tmp_path / "state"), "tables": section})
    data["truth_file"] = str(tmp_path / "run" / "truth.json")
    path = tmp_path / "spacecraft.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def boot(path: Path) -> FlightSoftware:
    return FlightSoftware(load_config(path))


class Session:
    """The ground's side: frames numbered in order, outcomes read from the truth."""

    def __init__(self, fsw: FlightSoftware) -> None:
        self.fsw = fsw
        self.ground = Ground()
        self.seq = 0

    def send(self, name: str, *args: int | bytes) -> str:
        self.fsw.receive(self.ground.command(name, *args, seq=self.seq))
        self.seq += 1
        return str(self.fsw.truth()["executed_commands"][-1]["result"])

    def load(self, table: LimitsTable, signature: bytes) -> str:
        return self.send(
            "TABLE_LOAD",
            1,
            table.version,
            table.max_burn_ms,
            int(table.thruster_enabled),
            signature,
        )


def limits(fsw: FlightSoftware) -> dict[str, Any]:
    return dict(fsw.truth()["tables"]["limits"])


def failure_codes(fsw: FlightSoftware) -> list[int]:
    return [
        int.from_bytes(p.source_data[4:6], "big")
        for p in tm_packets(fsw.pending_frames())
        if (p.service, p.subtype) == (1, 8)
    ]


def test_the_limits_table_bounds_the_thruster(tmp_path: Path) -> None:
    fsw = boot(setup(tmp_path))
    session = Session(fsw)
    assert session.send("THRUSTER_FIRE", 3000) == "completed"
    fsw.pending_frames()
    assert session.send("THRUSTER_FIRE", 3001) == "failed: REFUSED_BY_TABLE"
    assert failure_codes(fsw) == [FailureCode.REFUSED_BY_TABLE]
    assert limits(fsw)["source"] == "configuration"


def test_a_signed_newer_table_is_applied_and_kept_across_a_reset(tmp_path: Path) -> None:
    path = setup(tmp_path)
    fsw = boot(path)
    assert Session(fsw).load(SIGNED_V2, sign(SEED, SIGNED_V2)) == "completed"
    assert limits(fsw)["version"] == 2
    assert limits(fsw)["verified"] is True
    events = [e["event"] for e in fsw.truth()["events"]]
    assert "TABLE_LOADED" in events
    again = boot(path)
    assert limits(again)["max_burn_ms"] == 4000
    assert again.truth()["tables"]["boot"] == "restored"
    assert Session(again).send("THRUSTER_FIRE", 4000) == "completed"


@pytest.mark.parametrize(
    "signature",
    [bytes(64), sign(OTHER, SIGNED_V2), sign(SEED, LimitsTable(2, 60000, True))],
    ids=["zeros", "another key", "another table"],
)
def test_a_verifying_spacecraft_refuses_a_load_whose_signature_does_not_hold(
    tmp_path: Path, signature: bytes
) -> None:
    fsw = boot(setup(tmp_path))
    assert Session(fsw).load(SIGNED_V2, signature) == "failed: REFUSED_BY_TABLE"
    assert limits(fsw)["source"] == "configuration"
    alarms = [e for e in fsw.truth()["events"] if e["event"] == "SECURITY_ALARM"]
    assert alarms


def test_without_verification_a_tampered_table_runs_and_lifts_the_limit(tmp_path: Path) -> None:
    fsw = boot(setup(tmp_path, verify=False))
    session = Session(fsw)
    tampered = LimitsTable(2, 60000, True)
    assert session.load(tampered, sign(SEED, SIGNED_V2)) == "completed"
    assert limits(fsw)["verified"] is False
    assert session.send("THRUSTER_FIRE", 20000) == "completed"


def test_turning_verification_on_discards_the_kept_tampered_table_at_the_reset(
    tmp_path: Path,
) -> None:
    path = setup(tmp_path, verify=False)
    fsw = boot(path)
    session = Session(fsw)
    assert session.load(LimitsTable(2, 60000, True), bytes(64)) == "completed"
    assert session.send("SET_PARAMETER", 6, 1) == "completed"  # TABLE_VERIFY
    rebooted = boot(path)
    assert rebooted.config.tables.verify is True
    assert limits(rebooted)["source"] == "configuration"
    assert limits(rebooted)["max_burn_ms"] == 3000
    assert rebooted.truth()["tables"]["boot"] == "discarded"
    alarms = [e for e in rebooted.truth()["events"] if e["event"] == "SECURITY_ALARM"]
    assert alarms


def test_anti_rollback_refuses_an_older_signed_table(tmp_path: Path) -> None:
    fsw = boot(setup(tmp_path))
    session = Session(fsw)
    assert session.load(SIGNED_V2, sign(SEED, SIGNED_V2)) == "completed"
    old = LimitsTable(1, 65535, True)  # commissioning: signed, no limit
    assert session.load(old, sign(SEED, old)) == "failed: REFUSED_BY_TABLE"
    assert session.load(SIGNED_V2, sign(SEED, SIGNED_V2)) == "failed: REFUSED_BY_TABLE"
    assert limits(fsw)["version"] == 2


def test_without_anti_rollback_an_old_signed_table_comes_back(tmp_path: Path) -> None:
    fsw = boot(setup(tmp_path, anti_rollback=False))
    session = Session(fsw)
    assert session.load(SIGNED_V2, sign(SEED, SIGNED_V2)) == "completed"
    old = LimitsTable(1, 65535, True)
    assert session.load(old, sign(SEED, old)) == "completed"
    assert limits(fsw)["max_burn_ms"] == 65535


def test_no_public_key_means_no_load_at_all(tmp_path: Path) -> None:
    path = setup(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["tables"]["public_key_file"] = ""
    path.write_text(yaml.safe_dump(data))
    fsw = boot(path)
    assert Session(fsw).load(SIGNED_V2, sign(SEED, SIGNED_V2)) == "failed: REFUSED_BY_TABLE"


def test_bad_table_arguments_fail_without_changing_anything(tmp_path: Path) -> None:
    fsw = boot(setup(tmp_path, verify=False))
    session = Session(fsw)
    assert session.send("TABLE_LOAD", 2, 2, 10, 1, bytes(64)) == "failed: REFUSED_BY_TABLE"
    assert session.send("TABLE_LOAD", 1, 2, 10, 7, bytes(64)) == "failed: BAD_ARGUMENTS"
    assert limits(fsw)["source"] == "configuration"


def test_a_corrupt_kept_table_is_ignored(tmp_path: Path) -> None:
    path = setup(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    for text in ("not json", json.dumps({"limits": {"version": "x"}}), "[]"):
        (state / "tables.json").write_text(text)
        assert limits(boot(path))["source"] == "configuration"


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"verify": "yes"}, "tables.verify"),
        ({"limits": {"max_burn_ms": 70000}}, "tables.limits.max_burn_ms"),
        ({"limits": {"colour": 1}}, "tables.limits.colour"),
        ({"signing_key": "x"}, "tables.signing_key"),
    ],
)
def test_bad_table_settings_are_named(tmp_path: Path, tables: dict[str, Any], key: str) -> None:
    with pytest.raises(HostConfigError) as caught:
        load_config(setup(tmp_path, **tables))
    assert key in str(caught.value)


def test_a_public_key_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = setup(tmp_path)
    (tmp_path / "fd.pub").write_text("00" * 16 + "\n")
    with pytest.raises(HostConfigError, match="32"):
        load_config(path)


@given(
    version=st.integers(0, 0xFFFF),
    burn=st.integers(0, 0xFFFF),
    enabled=st.booleans(),
    flip=st.integers(0, 63 * 8 + 7),
)
def test_a_signature_holds_for_its_table_only(
    version: int, burn: int, enabled: bool, flip: int
) -> None:
    table = LimitsTable(version, burn, enabled)
    signature = sign(SEED, table)
    assert verify(public_key(SEED), table, signature)
    damaged = bytearray(signature)
    damaged[flip // 8] ^= 1 << (flip % 8)
    assert not verify(public_key(SEED), table, bytes(damaged))
    assert not verify(public_key(OTHER), table, signature)
    assert not verify(public_key(SEED), table, signature[:63])
