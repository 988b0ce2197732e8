"""The COP-1 directive checks against a fake probe whose spacecraft is the real flight software.

The fake vantage builds its frames with ``labctl.range.vantage.directive`` (the module the
grader container runs) and hands them to an in-process FlightSoftware instead of the air,
so a pass or a fail here is the flight software's own verdict on those octets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graders.checks import cop1
from graders.checks.base import Status
from graders.checks.cop1 import (
    GRADER_FRAME_SEQS,
    ClearDirectiveRejected,
    ClearDirectiveRejectedArgs,
    ForgedDirectiveAccepted,
    ForgedDirectiveAcceptedArgs,
    forged_set_vrs,
)
from labctl.errors import BackendError
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.protocols.tc_frame import TcFrame, segment, set_vr_frame, unlock_frame
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.range.hosts.config import Config
from labctl.range.hosts.spacecraft import FlightSoftware, parse_config
from labctl.range.vantage import directive as vantage_directive

SCID = 321
SPI = 40
KEY = bytes(range(16))


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cop1, "SETTLE_S", 0.2)


def flight_software(tmp_path: Path, clear_control: bool = True) -> FlightSoftware:
    (tmp_path / "uplink.key").write_text(KEY.hex() + "\n")
    data: dict[str, Any] = {
        "scid": SCID,
        "uplink": {"host": "127.0.0.1", "port": 0, "clear_control_commands": clear_control},
        "downlink": {"host": "127.0.0.1", "port": 9},
        "sdls": {"associations": {"uplink": {"spi": SPI, "key_file": "uplink.key"}}},
        "state_dir": str(tmp_path / "state"),
        "truth_file": str(tmp_path / "truth.json"),
    }
    return FlightSoftware(parse_config(Config(data, "spacecraft.yaml"), base=tmp_path))


class Station:
    """The ground station's frames: AD frames numbered by hand, directives clear or
    protected with the uplink SA."""

    def __init__(self) -> None:
        self.engine = SdlsEngine.of([SecurityAssociation(SPI)], Keyring({0: KEY}))

    def command(self, seq: int) -> bytes:
        packet = PusTc(PLATFORM_APID, 17, 1, b"").encode()
        return self.engine.protect_tc(TcFrame(SCID, 0, segment(0, packet), seq), SPI).encode()

    def set_vr(self, vr: int, protected: bool = False) -> bytes:
        frame = set_vr_frame(SCID, 0, vr)
        if protected:
            frame = self.engine.protect_tc(frame, SPI, segment_header=False)
        return frame.encode()

    def unlock(self, protected: bool = False) -> bytes:
        frame = unlock_frame(SCID, 0)
        if protected:
            frame = self.engine.protect_tc(frame, SPI, segment_header=False)
        return frame.encode()


@dataclass
class DirectiveProbe:
    """Ground truth from ``fsw``; the vantage's frames go straight into it (``heard``:
    False = the air lost them)."""

    fsw: FlightSoftware
    vantage: tuple[int, str] | None = None
    heard: bool = True
    argvs: list[list[str]] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(json.dumps(self.fsw.truth()))
        return document

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        self.argvs.append(list(argv))
        if self.vantage is not None:
            return self.vantage
        assert list(argv[:3]) == ["python3", "-m", "labctl.range.vantage.directive"]
        args = vantage_directive._parser().parse_args(list(argv[3:]))
        frames = vantage_directive.directives(args.scid, args.vcid, args.steps, args.frame_seq)
        for _name, octets in frames:
            if self.heard:
                self.fsw.receive(octets)
        return 0, json.dumps({"sent": [name for name, _ in frames], "frame_seq": args.frame_seq})

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        raise BackendError("mission control", "not in this fake")

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def restart(self, host: str) -> None:
        raise BackendError(f"restart {host}", "not in this fake")

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        raise BackendError(f"exec {argv[0]} in {host}", "the fake has no hosts")


def attack_verdict(fsw: FlightSoftware) -> Status:
    probe = DirectiveProbe(fsw)
    return ForgedDirectiveAccepted().run(ForgedDirectiveAcceptedArgs(), probe).status


# -- forged_directive_accepted --------------------------------------------------------------


def test_the_stations_own_recovery_is_not_a_forged_directive(tmp_path: Path) -> None:
    fsw, station = flight_software(tmp_path), Station()
    for seq in range(3):
        fsw.receive(station.command(seq))
    fsw.receive(station.unlock())
    fsw.receive(station.set_vr(3))
    fsw.receive(station.command(3))
    assert attack_verdict(fsw) is Status.FAIL


def test_a_set_vr_ignored_in_lockout_is_not_a_forged_directive(tmp_path: Path) -> None:
    """After a reset FARM-1 is at 0: the station's frame 5 locks it out, its Set V(R) without
    Unlock changes nothing (logged "ignored", at V(R) 0), then Unlock and Set V(R) 5 do."""
    fsw, station = flight_software(tmp_path), Station()
    fsw.receive(station.command(5))
    fsw.receive(station.set_vr(5))
    assert fsw.truth()["executed_commands"][-1]["result"] == "ignored"
    fsw.receive(station.unlock())
    fsw.receive(station.set_vr(5))
    fsw.receive(station.command(5))
    assert attack_verdict(fsw) is Status.FAIL


def test_a_clear_set_vr_the_station_did_not_follow_is_forged(tmp_path: Path) -> None:
    fsw, station = flight_software(tmp_path), Station()
    fsw.receive(station.command(0))
    fsw.receive(set_vr_frame(SCID, 0, 129).encode())  # the attacker's
    assert attack_verdict(fsw) is Status.FAIL  # nothing followed yet: undecided
    fsw.receive(station.command(1))  # refused: lockout
    assert fsw.truth()["farm"]["lockout"] is True
    locked = ForgedDirectiveAccepted().run(ForgedDirectiveAcceptedArgs(), DirectiveProbe(fsw))
    assert locked.status is Status.PASS  # before the station re-initiates
    assert "FARM-1 then locked out at V(R) 129" in locked.evidence
    fsw.receive(station.unlock())
    fsw.receive(station.set_vr(1))
    fsw.receive(station.command(1))
    result = ForgedDirectiveAccepted().run(ForgedDirectiveAcceptedArgs(), DirectiveProbe(fsw))
    assert result.status is Status.PASS
    assert "V(R) := 129" in result.evidence
    assert "N(S) 1" in result.evidence  # and once the station is back, its frame shows it


def test_protected_and_grader_directives_and_resets_are_left_out() -> None:
    sas = [{"spi": SPI, "direction": "uplink", "service": "AUTHENTICATION", "state": "OPERATIONAL"}]

    def set_vr(vr: int, spi: int | None = None, frame_seq: int = 0, **more: Any) -> dict[str, Any]:
        entry = {"service": None, "name": "COP1_SET_VR", "args": {"vr": vr}, "spi": spi}
        return {**entry, "frame_seq": frame_seq, **more}

    def ad(seq: int, **more: Any) -> dict[str, Any]:
        return {"service": 17, "name": "PING", "bypass": False, "frame_seq": seq, **more}

    reboot = {"service": 8, "name": "REBOOT", "bypass": True, "frame_seq": 0}
    log = [
        set_vr(50, spi=SPI),  # the station's, protected: trusted
        ad(7),
        set_vr(90, frame_seq=GRADER_FRAME_SEQS[2]),  # the grader's own
        ad(8),
        set_vr(100, previous_boot=True),  # before a restart: undecided
        ad(9),
        set_vr(120),
        reboot,  # a reset (sent as a BD frame) in between: undecided
        ad(1),
        set_vr(2),
        ad(2),  # followed: the station's
    ]
    assert forged_set_vrs({"security_associations": sas, "executed_commands": log}) == []
    log.insert(10, ad(33))
    found = forged_set_vrs({"security_associations": sas, "executed_commands": log})
    assert [(d["args"]["vr"], shown) for d, shown in found] == [
        (2, "the station's next accepted frame was N(S) 33 (PING)")
    ]


def test_ground_truth_without_the_history_is_an_error(tmp_path: Path) -> None:
    probe = DirectiveProbe(flight_software(tmp_path))
    whole = probe.truth
    probe.truth = lambda: {k: v for k, v in whole().items() if k != "executed_commands"}  # type: ignore[method-assign]
    result = ForgedDirectiveAccepted().run(ForgedDirectiveAcceptedArgs(), probe)
    assert result.status is Status.ERROR
    assert "no executed_commands list" in result.evidence


# -- clear_directive_rejected ---------------------------------------------------------------


def test_a_spacecraft_that_obeys_clear_directives_fails(tmp_path: Path) -> None:
    fsw, station = flight_software(tmp_path), Station()
    for seq in range(5):
        fsw.receive(station.command(seq))
    probe = DirectiveProbe(fsw)
    result = ClearDirectiveRejected().run(ClearDirectiveRejectedArgs(), probe)
    assert result.status is Status.FAIL
    assert "COP1_UNLOCK, COP1_SET_VR" in result.evidence
    (argv,) = probe.argvs
    assert argv[argv.index("--set-vr") + 1] == "5"  # the V(R) FARM-1 has: harmless
    assert int(argv[argv.index("--frame-seq") + 1]) in GRADER_FRAME_SEQS
    fsw.receive(station.command(5))  # the link is still in step
    assert fsw.truth()["farm"]["vr"] == 6
    assert attack_verdict(fsw) is Status.FAIL  # the grader's own never count


def test_a_spacecraft_that_refuses_clear_directives_passes(tmp_path: Path) -> None:
    fsw, station = flight_software(tmp_path, clear_control=False), Station()
    fsw.receive(station.command(0))
    result = ClearDirectiveRejected().run(ClearDirectiveRejectedArgs(), DirectiveProbe(fsw))
    assert result.status is Status.PASS
    assert "refused" in result.evidence
    assert "rejections:" in result.evidence
    fsw.receive(station.unlock(protected=True))  # the station's protected ones still work
    fsw.receive(station.set_vr(1, protected=True))
    names = [e["name"] for e in fsw.truth()["executed_commands"]]
    assert names[-2:] == ["COP1_UNLOCK", "COP1_SET_VR"]


def test_directives_that_never_arrived_are_an_error(tmp_path: Path) -> None:
    probe = DirectiveProbe(flight_software(tmp_path, clear_control=False), heard=False)
    result = ClearDirectiveRejected().run(ClearDirectiveRejectedArgs(), probe)
    assert result.status is Status.ERROR
    assert "received no uplink frame" in result.evidence


def test_a_vantage_that_cannot_transmit_is_an_error(tmp_path: Path) -> None:
    probe = DirectiveProbe(flight_software(tmp_path), vantage=(2, '{"error": "no route"}'))
    result = ClearDirectiveRejected().run(ClearDirectiveRejectedArgs(), probe)
    assert result.status is Status.ERROR
    assert "no route" in result.evidence


def test_nothing_to_send_is_an_error(tmp_path: Path) -> None:
    args = ClearDirectiveRejectedArgs(unlock=False, set_vr=False)
    result = ClearDirectiveRejected().run(args, DirectiveProbe(flight_software(tmp_path)))
    assert result.status is Status.ERROR


def test_a_lockout_counts_only_at_the_forged_v_r_and_after_it() -> None:
    directive = {"service": None, "name": "COP1_SET_VR", "args": {"vr": 200}, "spi": None}
    log = [{**directive, "frame_seq": 0, "time": 100.0}]

    def truth(*events: tuple[float, str]) -> dict[str, Any]:
        found = [{"event": "FARM_LOCKOUT", "time": t, "aux": aux} for t, aux in events]
        return {"security_associations": [], "executed_commands": log, "events": found}

    assert forged_set_vrs(truth((90.0, "c8"), (101.0, "07"))) == []  # before it; elsewhere
    (found,) = forged_set_vrs(truth((101.0, "c84c4f434b4f5554")))
    assert found[1] == "FARM-1 then locked out at V(R) 200"
