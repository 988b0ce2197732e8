"""SDLS extended procedures by telecommand (SA management): the student's way to manage the
spacecraft's security associations in orbit, at once and for the next boot."""

from __future__ import annotations

import struct
from pathlib import Path

from sc_scaffold import Ground, tm_packets
from test_parameters import WEAK, booted, config_file

from labctl.protocols.pus import PusTm
from labctl.protocols.sdls import ServiceType
from labctl.protocols.sdls_ep import SaProcedure, decode
from labctl.range.hosts.catalog import FailureCode, Housekeeping
from labctl.range.hosts.spacecraft import FlightSoftware

PLAIN_OPERATIONAL = {"sdls": {"associations": {"plain": {"state": "operational"}}}}


def failures(fsw: FlightSoftware) -> list[int]:
    return [
        struct.unpack(">HHH", p.source_data)[2]
        for p in tm_packets(fsw.pending_frames())
        if (p.service, p.subtype) == (1, 8)
    ]


def replies(packets: list[PusTm]) -> list[bytes]:
    return [p.source_data for p in packets if (p.service, p.subtype) == (129, 2)]


def test_stop_and_expire_retire_a_plaintext_sa_for_good(tmp_path: Path, key_dir: Path) -> None:
    path = config_file(tmp_path, key_dir, PLAIN_OPERATIONAL)
    _, fsw = booted(path)
    ground, plain = Ground(), Ground(spi=5, service=ServiceType.PLAINTEXT)
    fsw.receive(plain.command("PING", seq=0))
    assert fsw.truth()["executed_commands"][-1]["spi"] == 5  # the weakness
    fsw.pending_frames()
    fsw.receive(ground.command("SA_STOP", 5, seq=1))
    assert fsw.receive(plain.command("PING", seq=2)).reason == "sa_not_operational"
    fsw.receive(ground.command("SA_EXPIRE", 5, seq=2))
    fsw.receive(ground.command("SA_START", 5, seq=3))  # unkeyed: cannot start again
    assert failures(fsw) == [FailureCode.NOT_ALLOWED_IN_MODE]

    _, rebooted = booted(path)  # kept across the reset
    assert rebooted.receive(plain.command("PING", seq=0)).reason == "sa_not_operational"
    assert any(e["event"] == "SA_CHANGED" for e in fsw.truth()["events"])


def test_status_read_arsn_and_set_arsnw(tmp_path: Path, key_dir: Path) -> None:
    path = config_file(tmp_path, key_dir, WEAK)
    _, fsw = booted(path)
    ground = Ground()
    fsw.pending_frames()
    fsw.receive(ground.command("SA_SET_ARSNW", 1, 16, seq=0))
    fsw.receive(ground.command("SA_READ_ARSN", 1, seq=1))
    fsw.receive(ground.command("SA_STATUS", 1, seq=2))
    arsn, status = (decode(r) for r in replies(tm_packets(fsw.pending_frames())))
    assert (arsn.reply, arsn.procedure) == (True, SaProcedure.READ_ARSN)
    assert struct.unpack(">HQI", arsn.data) == (1, 2, 16)  # SN 2 was the read's own frame
    assert struct.unpack(">HB", status.data) == (1, 3)  # operational
    replayed = ground.command("PING", seq=3)
    fsw.receive(replayed)
    fsw.receive(ground.set_vr(3))
    assert fsw.receive(replayed).reason == "bad_sn"  # anti-replay on at once
    config, _ = booted(path)
    assert next(a for a in config.associations if a.name == "uplink").sa.window == 16


def test_starting_the_downlink_sa_protects_telemetry_at_once(tmp_path: Path, key_dir: Path) -> None:
    path = config_file(
        tmp_path, key_dir, {"sdls": {"associations": {"downlink": {"state": "keyed"}}}}
    )
    _, fsw = booted(path)
    fsw.housekeeping()
    assert b"flag{student-7}" in b"".join(fsw.pending_frames())  # in the clear
    ground = Ground()
    fsw.receive(ground.command("SA_START", 2, seq=0))
    fsw.pending_frames()
    fsw.housekeeping()
    frames = fsw.pending_frames()
    assert b"flag{student-7}" not in b"".join(frames)
    (hk,) = [p for p in tm_packets(frames, ground.downlink) if (p.service, p.subtype) == (3, 25)]
    assert Housekeeping.decode(hk.source_data).ops_message == "flag{student-7}"
    config, _ = booted(path)
    assert config.downlink_sa == "downlink"


def test_unknown_spi_is_a_bad_argument(tmp_path: Path, key_dir: Path) -> None:
    _, fsw = booted(config_file(tmp_path, key_dir, {}))
    fsw.pending_frames()
    fsw.receive(Ground().command("SA_STOP", 999, seq=0))
    assert failures(fsw) == [FailureCode.BAD_ARGUMENTS]
