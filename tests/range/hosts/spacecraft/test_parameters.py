"""On-board parameters by telecommand (PUS 20) and the on-board reset (REBOOT).

The student's way to harden a spacecraft in orbit: SET_PARAMETER stores a value in
non-volatile memory, REBOOT applies it, REPORT_PARAMETERS shows stored and in-use values.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from sc_scaffold import BASELINE, Ground, kinds, merge, tm_packets

from labctl.range.hosts.catalog import PARAMETER_REPORT_FORMAT, FailureCode
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.spacecraft import FlightSoftware
from labctl.range.hosts.spacecraft.config import SpacecraftConfig, load_config

WEAK = {"sdls": {"associations": {"uplink": {"anti_replay": False, "persist_sequence": False}}}}


def config_file(tmp_path: Path, key_dir: Path, overrides: dict[str, Any]) -> Path:
    data = merge(BASELINE, {"state_dir": str(tmp_path / "state")})
    data["truth_file"] = str(tmp_path / "run" / "truth.json")
    path = tmp_path / "spacecraft.yaml"
    path.write_text(yaml.safe_dump(merge(data, overrides)))
    return path


def report(fsw: FlightSoftware) -> dict[int, tuple[int, int]]:
    """The last 20,2 report: parameter id -> (stored, in use)."""
    (packet,) = [p for p in tm_packets(fsw.pending_frames()) if (p.service, p.subtype) == (20, 2)]
    size = struct.calcsize(PARAMETER_REPORT_FORMAT)
    rows = [
        struct.unpack(PARAMETER_REPORT_FORMAT, packet.source_data[i : i + size])
        for i in range(0, len(packet.source_data), size)
    ]
    return {ident: (kept, used) for ident, kept, used in rows}


def booted(path: Path) -> tuple[SpacecraftConfig, FlightSoftware]:
    config = load_config(path)
    return config, FlightSoftware(config)


def test_set_parameter_then_reboot_turns_anti_replay_on(tmp_path: Path, key_dir: Path) -> None:
    path = config_file(tmp_path, key_dir, WEAK)
    _, fsw = booted(path)
    ground = Ground()
    fsw.receive(ground.command("SET_PARAMETER", 1, 1, seq=0))  # UPLINK_ANTI_REPLAY
    fsw.receive(ground.command("SET_PARAMETER", 3, 1, seq=1))  # UPLINK_PERSIST_SN
    stored = json.loads((tmp_path / "state" / "parameters.json").read_text())
    assert stored == {
        "sdls.associations.uplink.anti_replay": True,
        "sdls.associations.uplink.persist_sequence": True,
    }
    fsw.pending_frames()
    fsw.receive(ground.command("REPORT_PARAMETERS", seq=2))
    values = report(fsw)
    assert values[1] == (1, 0)  # stored, not yet in use
    assert values[3] == (1, 0)
    assert not fsw.reboot_requested
    fsw.receive(ground.command("REBOOT", seq=3))
    assert fsw.reboot_requested
    events = [e["event"] for e in fsw.truth()["events"]]
    assert events.count("PARAMETER_CHANGED") == 2

    config, rebooted = booted(path)  # the reset: configuration read again
    uplink = next(a for a in config.associations if a.name == "uplink")
    assert uplink.sa.window > 0
    assert uplink.persist_sequence
    after = Ground()
    replayed = after.command("PING", seq=0)  # FARM-1 is at 0 again after the reset
    rebooted.receive(replayed)
    rebooted.receive(after.set_vr(0))
    assert rebooted.receive(replayed).reason == "bad_sn"
    rebooted.pending_frames()
    rebooted.receive(after.command("REPORT_PARAMETERS", seq=0))
    assert report(rebooted)[1] == (1, 1)
    assert yaml.safe_load(path.read_text())["sdls"]["associations"]["uplink"] == {
        **yaml.safe_load(path.read_text())["sdls"]["associations"]["uplink"],
        "anti_replay": False,
    }  # the file itself is untouched: the parameters live on board


def test_persistence_turned_on_carries_the_sequence_number_over_the_reset(
    tmp_path: Path, key_dir: Path
) -> None:
    """The ground's counter keeps going through the reset: when SET_PARAMETER has just
    turned persistence on, the reset hands the last sequence number to the new flight
    software, whose anti-replay window (64) would otherwise start at zero, far behind the
    ground, and reject every frame the ground sends from then on."""
    path = config_file(tmp_path, key_dir, WEAK)
    _, fsw = booted(path)
    ground = Ground()
    vr = 0
    for _ in range(100):  # a long-running mission: the ground's counter is past 64
        fsw.receive(ground.command("PING", seq=vr))
        vr += 1
    recorded = ground.command("PING", seq=vr)
    fsw.receive(recorded)
    vr += 1
    for ident in (1, 3):  # UPLINK_ANTI_REPLAY, UPLINK_PERSIST_SN
        fsw.receive(ground.command("SET_PARAMETER", ident, 1, seq=vr))
        vr += 1
    fsw.receive(ground.command("REBOOT", seq=vr))
    assert fsw.reboot_requested

    config = load_config(path)  # the reset, as the service does it
    fsw.hand_over_sequences(config)
    rebooted = FlightSoftware(config)
    (uplink,) = [sa for sa in rebooted.truth()["security_associations"] if sa["name"] == "uplink"]
    assert uplink["sequence_number"] == 104
    rebooted.receive(ground.set_vr(0))
    rebooted.pending_frames()
    assert rebooted.receive(ground.command("REPORT_PARAMETERS", seq=0)).reason == ""
    assert report(rebooted)[1] == (1, 1)
    rebooted.receive(ground.set_vr(vr))
    assert rebooted.receive(recorded).reason == "bad_sn"  # a replay is still refused


def test_a_reset_hands_over_only_what_persists(tmp_path: Path, key_dir: Path) -> None:
    path = config_file(tmp_path, key_dir, WEAK)
    config, fsw = booted(path)
    fsw.receive(Ground().command("PING", seq=0))
    fsw.hand_over_sequences(config)
    saved = tmp_path / "state" / "sdls-sequence-uplink.json"
    handed = json.loads(saved.read_text()) if saved.exists() else {}
    (uplink,) = [a for a in config.associations_for("uplink") if a.name == "uplink"]
    assert not uplink.persist_sequence
    assert str(uplink.sa.spi) not in handed  # only the SAs that persist (the spare's)


def test_bad_parameters_fail_and_store_nothing(tmp_path: Path, key_dir: Path) -> None:
    path = config_file(tmp_path, key_dir, WEAK)
    _, fsw = booted(path)
    ground = Ground()
    fsw.pending_frames()
    for seq, (ident, value) in enumerate([(99, 1), (1, 2), (2, 0)]):
        fsw.receive(ground.command("SET_PARAMETER", ident, value, seq=seq))
    packets = tm_packets(fsw.pending_frames())
    failures = [p for p in packets if (p.service, p.subtype) == (1, 8)]
    assert len(failures) == 3
    assert {struct.unpack(">HHH", p.source_data)[2] for p in failures} == {
        FailureCode.BAD_ARGUMENTS
    }
    assert not (tmp_path / "state" / "parameters.json").exists()
    assert (5, 1) not in [k for k in kinds(packets) if k == (5, 2)]


def test_a_stored_value_that_would_not_boot_is_refused_and_a_later_file_edit_wins(
    tmp_path: Path, key_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weak = merge(WEAK, {"sdls": {"associations": {"uplink": {"window": 0}}}})
    path = config_file(tmp_path, key_dir, weak)
    _, fsw = booted(path)
    ground = Ground()
    fsw.pending_frames()
    fsw.receive(ground.command("SET_PARAMETER", 1, 1, seq=0))  # anti-replay with window 0
    assert [(p.service, p.subtype) for p in tm_packets(fsw.pending_frames())][-1] == (1, 8)
    fsw.receive(ground.command("SET_PARAMETER", 2, 64, seq=1))  # the window first
    fsw.receive(ground.command("SET_PARAMETER", 1, 1, seq=2))
    assert load_config(path).associations[0].sa.window == 64

    data = yaml.safe_load(path.read_text())
    data["sdls"]["associations"]["uplink"]["max_window"] = 1  # an edit the parameters break
    data["sdls"]["associations"]["uplink"].pop("max_window")
    data["sdls"]["associations"]["uplink"]["anti_replay"] = False
    data["sdls"]["associations"]["uplink"]["sn_len"] = 99  # broken by hand: the file's error
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(HostConfigError, match="sn_len"):
        load_config(path)
