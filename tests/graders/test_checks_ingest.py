"""The telemetry-processing checks against a scripted mission control."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from graders.checks import ingest
from graders.checks.base import Status
from graders.checks.ingest import (
    MalformedTelemetrySurvives,
    MalformedTelemetrySurvivesArgs,
    TelemetryProcessingHalted,
    TelemetryProcessingHaltedArgs,
)
from labctl.errors import BackendError
from labctl.protocols.pus import PusTm
from labctl.protocols.spacepacket import SpacePacket
from labctl.protocols.tm_frame import TmFrame
from labctl.range.hosts.missioncontrol.ingest import Ingest
from labctl.range.vantage.telemetry import GRADER_SEQ_COUNT, malformed_event_frame

GRADER = f"packet APID 0x64 sequence count {GRADER_SEQ_COUNT}: event report without an event id"
STUDENT = "packet APID 0x64 sequence count 7: event report without an event id"


@dataclass
class FakeMissionControl:
    """Mission control's health; the vantage's packet is dropped or halts it (``halt``),
    or never arrives (``lost``)."""

    halt: bool = False
    lost: bool = False
    halted: str | None = None
    rejected: int = 0
    halts: list[dict[str, Any]] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    since: float | None = None
    sent: list[list[str]] = field(default_factory=list)

    def api(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, token: Any = None
    ) -> tuple[int, Any]:
        assert (method, path) == ("GET", "/api/health")
        ingest_part = {
            "halted": self.halted is not None,
            "halted_reason": self.halted,
            "halts": list(self.halts),
            "rejected_packets": self.rejected,
        }
        return 200, {"status": "ok", "ingest": ingest_part}

    def truth(self) -> dict[str, Any]:
        return {"scid": 0x42}

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        return 1, "no passes here"  # the rf-link status: no pass plan

    def vantage_exec(
        self,
        argv: Sequence[str],
        timeout: float = 60.0,
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[int, str]:
        self.sent.append(list(argv))
        if not self.lost:
            self.rejected += 1
            if self.halt:
                self.halted = GRADER
                self.halts.insert(0, {"at": 2000.0, "reason": GRADER})
        return 0, '{"sent": "a PUS 5,1 event report without its event id", "octets": 30}'

    def restart(self, host: str) -> None:
        self.restarts.append(host)
        self.halted, self.rejected = None, 0


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "wait_for_pass", lambda probe, needed: "")


def survives(mc: FakeMissionControl) -> Any:
    return MalformedTelemetrySurvives().run(MalformedTelemetrySurvivesArgs(settle=2.0), mc)


def halted(mc: FakeMissionControl) -> Any:
    return TelemetryProcessingHalted().run(TelemetryProcessingHaltedArgs(), mc)


def test_a_dropped_packet_passes_and_names_the_count() -> None:
    mc = FakeMissionControl()
    result = survives(mc)
    assert result.status is Status.PASS, result.evidence
    assert "dropped and counted" in result.evidence
    assert mc.sent[0][-2:] == ["--scid", str(0x42)]


def test_a_halt_fails_and_the_check_restores_mission_control() -> None:
    mc = FakeMissionControl(halt=True)
    result = survives(mc)
    assert result.status is Status.FAIL
    assert "halted mission control's telemetry processing" in result.evidence
    assert mc.restarts == ["mission-control"]
    assert mc.halted is None


def test_processing_halted_already_fails_without_sending() -> None:
    mc = FakeMissionControl(halted=STUDENT)
    assert survives(mc).status is Status.FAIL
    assert mc.sent == []


def test_a_packet_that_never_arrives_is_an_error_not_a_pass() -> None:
    result = survives(FakeMissionControl(lost=True))
    assert result.status is Status.ERROR
    assert "never reached" in result.evidence


def test_a_server_without_an_ingest_report_is_an_error() -> None:
    class Old(FakeMissionControl):
        def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
            return 200, {"status": "ok"}

    assert survives(Old()).status is Status.ERROR
    assert halted(Old()).status is Status.ERROR


def test_mission_control_unreachable_is_an_error() -> None:
    class Down(FakeMissionControl):
        def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
            raise BackendError("mission control", "connection refused")

    assert halted(Down()).status is Status.ERROR


def test_the_students_halt_counts_the_graders_does_not() -> None:
    grader_only = FakeMissionControl(halts=[{"at": 1000.0, "reason": GRADER}])
    result = halted(grader_only)
    assert result.status is Status.FAIL
    assert "1 caused by the grader left out" in result.evidence
    student = FakeMissionControl(halts=[{"at": 900.0, "reason": STUDENT}])
    result = halted(student)
    assert result.status is Status.PASS
    assert "sequence count 7" in result.evidence


def test_after_a_fix_only_halts_since_then_count() -> None:
    mc = FakeMissionControl(halts=[{"at": 900.0, "reason": STUDENT}], since=1000.0)
    assert halted(mc).status is Status.FAIL
    mc.halts.insert(0, {"at": 1100.0, "reason": STUDENT})
    assert halted(mc).status is Status.PASS


def test_the_vantages_frame_is_well_formed_and_its_packet_is_rejected_by_the_ingest() -> None:
    frame = TmFrame.decode(malformed_event_frame(0x42))
    assert (frame.scid, frame.vcid, frame.fhp, frame.ocf) == (0x42, 0, 0, None)
    packet = PusTm.decode(frame.data)
    assert (packet.service, packet.subtype, packet.seq_count) == (5, 1, GRADER_SEQ_COUNT)

    class Archive:
        def record_ingest_halt(self, reason: str) -> None:
            pass

    strict = Ingest(Archive())  # type: ignore[arg-type]
    strict(SpacePacket.decode(frame.data))
    assert (strict.counts["rejected"], strict.halted) == (1, None)
    legacy = Ingest(Archive(), halt_on_bad_packet=True)  # type: ignore[arg-type]
    legacy(SpacePacket.decode(frame.data))
    assert legacy.halted is not None
    assert f"sequence count {GRADER_SEQ_COUNT}:" in legacy.halted
