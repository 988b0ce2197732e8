"""The flight software frame by frame, without sockets (FlightSoftware is synchronous)."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sc_scaffold import Ground, kinds, tm_packets

from labctl.protocols.sdls import ServiceType
from labctl.protocols.tc_frame import frame_fingerprint
from labctl.protocols.tm_frame import Fsr, TmFrame
from labctl.range.hosts.catalog import Event, FailureCode, Housekeeping, Mode
from labctl.range.hosts.spacecraft import FlightSoftware, SpacecraftConfig
from labctl.range.hosts.spacecraft.state import CommandHistory

MakeConfig = Callable[..., SpacecraftConfig]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def names(fsw: FlightSoftware) -> list[str]:
    return [entry["name"] for entry in fsw.truth()["executed_commands"]]


def test_authenticated_encrypted_command_executes_with_reports(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    fsw.pending_frames()  # boot event
    fsw.receive(ground.command("SET_MODE", Mode.SCIENCE))
    truth = fsw.truth()
    assert truth["mode"] == "SCIENCE"
    entry = truth["executed_commands"][-1]
    assert (entry["name"], entry["args"], entry["spi"], entry["sequence_number"]) == (
        "SET_MODE",
        {"mode": 2},
        1,
        1,
    )
    assert entry["bypass"] is False
    assert truth["farm"]["vr"] == 1
    assert kinds(tm_packets(fsw.pending_frames())) == [(1, 1), (5, 1), (1, 7)]


def test_ack_flags_select_success_reports_failures_always_reported(
    make_config: MakeConfig,
) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    fsw.pending_frames()
    fsw.receive(ground.frame(ground.packet("PING", ack=0), seq=0))
    fsw.receive(ground.frame(ground.packet("SAFE_MODE", ack=0), seq=1))
    fsw.receive(ground.frame(ground.packet("PAYLOAD_ON", ack=0), seq=2))
    packets = tm_packets(fsw.pending_frames())
    assert kinds(packets) == [(17, 2), (5, 3), (1, 8)]
    assert struct.unpack(">H", packets[-1].source_data[4:])[0] == FailureCode.NOT_ALLOWED_IN_MODE
    assert fsw.truth()["counters"]["commands_rejected"] == 1


def test_unknown_function_is_an_acceptance_failure(make_config: MakeConfig) -> None:
    from labctl.protocols.pus import PusTc
    from labctl.range.hosts.catalog import PLATFORM_APID

    fsw, ground = FlightSoftware(make_config()), Ground()
    fsw.pending_frames()
    bogus = PusTc(PLATFORM_APID, 8, 1, struct.pack(">H", 99)).encode()
    fsw.receive(ground.frame(bogus))
    (report,) = tm_packets(fsw.pending_frames())
    assert (report.service, report.subtype) == (1, 2)
    assert struct.unpack(">H", report.source_data[4:])[0] == FailureCode.ILLEGAL_FUNCTION
    assert names(fsw) == []


def test_replay_rejected_with_anti_replay(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    frame = ground.command("THRUSTER_FIRE", 500)
    fsw.receive(frame)
    reception = fsw.receive(frame)
    assert reception.reason == "bad_sn"
    truth = fsw.truth()
    assert names(fsw) == ["THRUSTER_FIRE"]
    assert truth["fsr_latched"]["bad_sn"] == 1
    assert truth["counters"]["rejected_by_reason"] == {"bad_sn": 1}
    assert [e["event"] for e in truth["events"]][-1] == "SECURITY_ALARM"


def test_replay_accepted_without_anti_replay_is_the_weakness(make_config: MakeConfig) -> None:
    config = make_config({"sdls": {"associations": {"uplink": {"anti_replay": False}}}})
    fsw, ground = FlightSoftware(config), Ground()
    first = ground.command("THRUSTER_FIRE", 500, seq=0)
    fsw.receive(first)
    fsw.receive(ground.command("PING", seq=1))
    # the captured frame is replayed with FARM-1 in step (or after a Set V(R))
    fsw.receive(ground.set_vr(0))
    fsw.receive(first)
    assert names(fsw) == ["THRUSTER_FIRE", "PING", "COP1_SET_VR", "THRUSTER_FIRE"]


def test_ground_truth_names_the_transmission_that_executed(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    first = ground.command("PING", seq=0)
    # a retransmission: the same N(S), framed again under the next SDLS sequence number
    again = ground.command("PING", seq=0)
    fsw.receive(first)
    fsw.receive(ground.set_vr(0))
    fsw.receive(again)
    log = [e for e in fsw.truth()["executed_commands"] if e["name"] == "PING"]
    assert [e["frame_seq"] for e in log] == [0, 0]
    assert [e["frame_digest"] for e in log] == [frame_fingerprint(first), frame_fingerprint(again)]
    assert log[0]["frame_digest"] != log[1]["frame_digest"]


def test_forged_frame_is_bad_mac(make_config: MakeConfig) -> None:
    fsw = FlightSoftware(make_config())
    forger = Ground(key=bytes(32))
    assert fsw.receive(forger.command("SAFE_MODE")).reason == "bad_mac"
    fsr = fsw.fsr_frame()
    report = TmFrame.decode(fsr)
    assert report.vcid == 7
    assert report.is_idle
    assert report.ocf is not None
    assert Fsr.decode(report.ocf).bad_mac == 1
    assert fsw.truth()["fsr"]["bad_mac"] == 1
    assert Fsr.decode(TmFrame.decode(fsw.fsr_frame()).ocf or b"").alarm == 0


def test_plaintext_sa_rejected_until_operational(make_config: MakeConfig) -> None:
    plain = Ground(spi=5, service=ServiceType.PLAINTEXT)
    fsw = FlightSoftware(make_config())
    assert fsw.receive(plain.command("SAFE_MODE")).reason == "sa_not_operational"
    weak = make_config({"sdls": {"associations": {"plain": {"state": "operational"}}}})
    fsw = FlightSoftware(weak)
    fsw.receive(plain.command("SAFE_MODE"))
    entry = fsw.truth()["executed_commands"][-1]
    assert (entry["name"], entry["spi"]) == ("SAFE_MODE", 5)


def test_unknown_spi_and_unprotected_frames_are_rejected(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    assert fsw.receive(Ground(spi=77).command("PING")).reason == "bad_sa"
    assert fsw.receive(ground.frame(ground.packet("PING"), secure=False)).reason in {
        "bad_sa",
        "malformed",
    }
    open_link = FlightSoftware(make_config({"uplink": {"sdls": False}}))
    open_link.receive(ground.frame(ground.packet("PING"), secure=False))
    assert names(open_link) == ["PING"]


def test_foreign_scid_dropped_silently_and_counted(make_config: MakeConfig) -> None:
    fsw = FlightSoftware(make_config())
    fsw.pending_frames()
    fsw.receive(Ground(scid=0x43).command("PING"))
    counters = fsw.truth()["counters"]
    assert (counters["frames_foreign"], counters["frames_rejected"]) == (1, 0)
    assert fsw.pending_frames() == []


def test_lockout_and_unlock(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    fsw.receive(ground.command("PING", seq=0))
    assert fsw.receive(ground.command("PING", seq=100)).reason == "farm_ad_lockout_area"
    assert fsw.truth()["farm"]["lockout"] is True
    frames = fsw.pending_frames()
    clcw = TmFrame.decode(frames[-1]).ocf or b""
    assert clcw[2] & 0x20  # lockout flag of the CLCW (232.0-B-4 §4.2.1.8)
    assert fsw.receive(ground.command("PING", seq=1)).reason.startswith("farm_")
    fsw.receive(ground.unlock())
    fsw.receive(ground.command("PING", seq=1))
    assert names(fsw) == ["PING", "COP1_UNLOCK", "PING"]
    assert "FARM_LOCKOUT" in [e["event"] for e in fsw.truth()["events"]]


def test_a_lockout_after_a_clear_set_vr_quotes_the_lockout_tag(make_config: MakeConfig) -> None:
    """Fault detection on board (cop1-lockout's evidence): a lockout whose V(R) a clear
    Set V(R) put there quotes the tag; one after a protected Set V(R), or after accepted
    AD frames moved V(R) on (the ground station's own recovery), quotes V(R) alone."""
    config = make_config({"housekeeping": {"lockout_tag": "LOCKOUT{0123456789abcdef}"}})
    fsw, ground = FlightSoftware(config), Ground()

    def lockouts() -> list[bytes]:
        events = fsw.truth()["events"]
        return [bytes.fromhex(e["aux"]) for e in events if e["event"] == "FARM_LOCKOUT"]

    fsw.receive(ground.command("PING", seq=0))
    fsw.receive(ground.set_vr(129))  # forged: the station's next N(S) is 1
    fsw.receive(ground.command("PING", seq=1))
    assert lockouts() == [bytes([129]) + b"LOCKOUT{0123456789abcdef}"]
    fsw.receive(ground.unlock())
    fsw.receive(ground.set_vr(1))  # the station's recovery, then its frames accepted
    fsw.receive(ground.command("PING", seq=1))
    fsw.receive(ground.command("PING", seq=100))
    fsw.receive(ground.unlock(secure=True))
    fsw.receive(ground.set_vr(60, secure=True))
    fsw.receive(ground.command("PING", seq=2))
    assert lockouts()[1:] == [bytes([2]), bytes([60])]
    directives = ["COP1_UNLOCK", "COP1_SET_VR"]
    assert names(fsw) == ["PING", "COP1_SET_VR", *directives, "PING", *directives]


def test_clear_control_commands_off_needs_protected_unlock(make_config: MakeConfig) -> None:
    fsw = FlightSoftware(make_config({"uplink": {"clear_control_commands": False}}))
    ground = Ground()
    fsw.receive(ground.command("PING", seq=50))
    assert fsw.truth()["farm"]["lockout"] is True
    assert fsw.receive(ground.unlock()).reason in {"bad_sa", "malformed"}
    fsw.receive(ground.unlock(secure=True))
    assert fsw.truth()["farm"]["lockout"] is False


def test_housekeeping_reports_state_and_ops_message(make_config: MakeConfig) -> None:
    fsw = FlightSoftware(make_config())
    fsw.pending_frames()
    fsw.housekeeping()
    (report,) = tm_packets(fsw.pending_frames())
    hk = Housekeeping.decode(report.source_data)
    assert (hk.mode, hk.battery_pct, hk.ops_message) == (Mode.NOMINAL, 80, "flag{student-7}")
    fsw.receive(Ground().command("DISABLE_HK", 1))
    fsw.pending_frames()
    fsw.housekeeping()
    assert tm_packets(fsw.pending_frames()) == []


def test_battery_drains_with_payload_and_recharges(make_config: MakeConfig) -> None:
    clock = FakeClock()
    fsw, ground = FlightSoftware(make_config(), clock=clock), Ground()
    fsw.receive(ground.command("PAYLOAD_ON", seq=0))
    clock.now += 100
    assert fsw.truth()["battery_pct"] == 75.0
    fsw.receive(ground.command("PAYLOAD_OFF", seq=1))
    clock.now += 100
    assert fsw.truth()["battery_pct"] == 77.0
    fsw.receive(ground.command("THRUSTER_FIRE", 2000, seq=2))
    assert fsw.truth()["battery_pct"] == 76.0


def test_sequence_numbers_persist_across_restart(make_config: MakeConfig) -> None:
    config, ground = make_config(), Ground()
    old = ground.command("SAFE_MODE", seq=0)
    FlightSoftware(config).receive(old)
    restarted = FlightSoftware(config)
    assert restarted.receive(old).reason == "bad_sn"


def test_without_persistence_a_restart_reopens_replays(make_config: MakeConfig) -> None:
    config = make_config({"sdls": {"associations": {"uplink": {"persist_sequence": False}}}})
    old = Ground().command("SAFE_MODE", seq=0)
    FlightSoftware(config).receive(old)
    restarted = FlightSoftware(config)
    restarted.receive(old)
    history = restarted.truth()["executed_commands"]
    assert [(e["name"], e.get("previous_boot", False)) for e in history] == [
        ("SAFE_MODE", True),
        ("SAFE_MODE", False),
    ]
    assert len({(e["spi"], e["sequence_number"]) for e in history}) == 1


def test_the_command_history_survives_restarts(
    make_config: MakeConfig,
) -> None:
    config = make_config()
    ground = Ground()
    first = FlightSoftware(config)
    for seq in range(3):
        first.receive(ground.command("PING", seq=seq))
    assert names(FlightSoftware(config)) == ["PING"] * 3
    history = config.state_dir / "command-history.jsonl"
    history.write_text(history.read_text() + "not json\n[1, 2]\n")
    assert names(FlightSoftware(config)) == ["PING"] * 3


def test_downlink_sdls_protects_telemetry(make_config: MakeConfig) -> None:
    fsw = FlightSoftware(make_config({"sdls": {"downlink_sa": "downlink"}}))
    ground = Ground()
    frames = fsw.pending_frames()
    assert b"flag" not in b"".join(frames)
    assert kinds(tm_packets(frames, ground.downlink)) == [(5, 1)]
    fsw.housekeeping()
    frames = fsw.pending_frames()
    assert b"flag{student-7}" not in b"".join(frames)
    (hk,) = tm_packets(frames, ground.downlink)
    assert Housekeeping.decode(hk.source_data).ops_message == "flag{student-7}"


def test_clear_downlink_leaks_the_ops_message(make_config: MakeConfig) -> None:
    fsw = FlightSoftware(make_config())
    fsw.housekeeping()
    assert b"flag{student-7}" in b"".join(fsw.pending_frames())


def test_frames_have_fixed_length_and_whole_packets(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    for seq in range(10):
        fsw.receive(ground.command("PING", seq=seq))
        fsw.housekeeping()
    frames = fsw.pending_frames(limit=100)
    assert {len(f) for f in frames} == {256}
    assert kinds(tm_packets(frames)).count((3, 25)) == 10


def test_garbage_never_raises(make_config: MakeConfig) -> None:
    fsw, ground = FlightSoftware(make_config()), Ground()
    rng = random.Random(7)
    valid = ground.command("PING")
    for i in range(3000):
        if i % 3 == 0:
            junk = rng.randbytes(rng.randrange(0, 1100))
        else:
            mutated = bytearray(valid)
            mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
            junk = bytes(mutated)
        fsw.receive(junk)
    counters = fsw.truth()["counters"]
    assert counters["frames_received"] == 3000
    assert counters["commands_executed"] == 0
    fsw.receive(valid)
    assert names(fsw) == ["PING"]


def test_security_alarm_events_are_rate_limited(make_config: MakeConfig) -> None:
    clock = FakeClock()
    fsw = FlightSoftware(make_config(), clock=clock)
    forger = Ground(key=bytes(32))
    for _ in range(100):
        fsw.receive(forger.command("PING"))
    alarms = [e for e in fsw.truth()["events"] if e["id"] == Event.SECURITY_ALARM]
    assert len(alarms) == 1
    assert fsw.truth()["counters"]["events_suppressed"] == 99


def test_the_history_file_is_compacted_at_twice_the_log_size(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    log = CommandHistory(path, maxlen=4)
    for i in range(20):
        log.append({"n": i})
    assert len(path.read_text().splitlines()) < 8
    assert [e["n"] for e in CommandHistory(path, maxlen=4)] == [16, 17, 18, 19]


def test_a_frame_executed_twice_raises_duplicate_command_with_the_tag(
    make_config: MakeConfig,
) -> None:
    """Fault detection on board: a replayed frame that executes is reported (5,2), quoting
    the configured reference, which is what a student who replays finds in the events."""
    config = make_config(
        {
            "sdls": {"associations": {"uplink": {"anti_replay": False}}},
            "housekeeping": {"duplicate_tag": "REPLAY{0123456789abcdef}"},
        }
    )
    fsw, ground = FlightSoftware(config), Ground()
    first = ground.command("PING", seq=0)
    fsw.receive(first)
    events = [e["event"] for e in fsw.truth()["events"]]
    assert "DUPLICATE_COMMAND" not in events
    fsw.receive(ground.set_vr(0))
    fsw.receive(first)
    (event,) = [e for e in fsw.truth()["events"] if e["event"] == "DUPLICATE_COMMAND"]
    assert bytes.fromhex(event["aux"]).endswith(b"REPLAY{0123456789abcdef}")


def test_a_command_with_no_mac_behind_it_raises_unauthenticated_command_with_the_tag(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """On-board monitoring (rogue-station's evidence): a command executed on a plaintext
    SA, or with no SDLS header where clear frames are allowed, is reported (5,4) quoting
    the configured reference; an authenticated one is not; without a tag, nothing."""
    tag = {"unauthenticated_tag": "INTRUSION{0123456789abcdef}"}
    plain_sa = {"associations": {"plain": {"state": "operational"}}}

    def software(name: str, **sections: Any) -> FlightSoftware:
        state = {"state_dir": str(tmp_path / name), "truth_file": str(tmp_path / f"{name}.json")}
        return FlightSoftware(make_config({**state, **sections}))

    def alarms(fsw: FlightSoftware) -> list[bytes]:
        events = fsw.truth()["events"]
        return [bytes.fromhex(e["aux"]) for e in events if e["event"] == "UNAUTHENTICATED_COMMAND"]

    plain = Ground(spi=5, service=ServiceType.PLAINTEXT)
    fsw = software("plain", housekeeping=tag, sdls=plain_sa)
    fsw.receive(plain.command("SAFE_MODE"))
    assert names(fsw) == ["SAFE_MODE"]
    (aux,) = alarms(fsw)
    assert aux[:2] == (5).to_bytes(2, "big")
    assert aux.endswith(b"INTRUSION{0123456789abcdef}")

    ground = Ground()
    open_link = software("open", housekeeping=tag, uplink={"sdls": False})
    open_link.receive(ground.frame(ground.packet("PING"), secure=False))
    assert names(open_link) == ["PING"]
    assert [a[:2] for a in alarms(open_link)] == [b"\xff\xff"]

    authenticated = software("authenticated", housekeeping=tag)
    authenticated.receive(Ground().command("PING"))
    assert names(authenticated) == ["PING"]
    assert alarms(authenticated) == []

    quiet = software("quiet", sdls=plain_sa)
    quiet.receive(Ground(spi=5, service=ServiceType.PLAINTEXT).command("SAFE_MODE"))
    assert names(quiet) == ["SAFE_MODE"]
    assert alarms(quiet) == []
