"""Checks on mission control's telemetry processing (the ingest).

Mission control reports its processing at ``GET /api/health`` (no login): whether a bad
packet is dropped or halts it (``telemetry.on_bad_packet``), whether it is halted now,
the halts on record (kept across restarts, each naming the packet's sequence count), and
how many bad packets it dropped since it started. The grader's malformed packet carries
its own sequence count (:data:`labctl.range.vantage.telemetry.GRADER_SEQ_COUNT`), so a
halt the grader caused never counts as the student's attack.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Final

from pydantic import Field

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import wait_for, wait_for_pass
from labctl.errors import CheckError, LabctlError
from labctl.range import wiring
from labctl.range.vantage.telemetry import GRADER_SEQ_COUNT, WHAT
from labctl.spec.vocabulary import Args

VANTAGE: Final = wiring.vantage_program("telemetry")
GRADER_MARK: Final = f"sequence count {GRADER_SEQ_COUNT}:"


def ingest_health(probe: Probe) -> dict[str, Any]:
    """Mission control's report on its telemetry processing; CheckError when it gives
    none (unreachable, or a server without one)."""
    code, body = probe.api("GET", "/api/health")
    ingest = body.get("ingest") if code == 200 and isinstance(body, dict) else None
    if not isinstance(ingest, dict) or not isinstance(ingest.get("halts"), list):
        raise CheckError("health", f"mission control reports no telemetry processing (HTTP {code})")
    return ingest


def _when(at: Any) -> str:
    if not isinstance(at, int | float):
        return "at an unknown time"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("at %H:%M:%S UTC")


class TelemetryProcessingHaltedArgs(Args):
    pass


class TelemetryProcessingHalted(Check[TelemetryProcessingHaltedArgs]):
    name: ClassVar[str] = "telemetry_processing_halted"
    summary: ClassVar[str] = (
        "Mission control's telemetry processing halted on a packet it could not decode, not"
        " the grader's (its halts on record, GET /api/health)."
    )
    Args = TelemetryProcessingHaltedArgs

    def judge(self, args: TelemetryProcessingHaltedArgs, probe: Probe) -> CheckResult:
        ingest = ingest_health(probe)
        # After a fix, only what happened since counts (a selftest's probe says since when).
        since = probe.since or 0.0
        halts = [h for h in ingest["halts"] if isinstance(h, dict)]
        graders = [h for h in halts if GRADER_MARK in str(h.get("reason"))]
        own = [
            h
            for h in halts
            if h not in graders and isinstance(h.get("at"), int | float) and h["at"] >= since
        ]
        if own:
            latest = own[0]
            return passed(
                f"mission control's telemetry processing halted {len(own)} time(s); the"
                f" latest {_when(latest['at'])}: {latest.get('reason')}"
            )
        left = f" ({len(graders)} caused by the grader left out)" if graders else ""
        return failed(f"no halt of mission control's telemetry processing on record{left}")


class MalformedTelemetrySurvivesArgs(Args):
    settle: float = Field(
        default=10.0, ge=2.0, le=60.0, description="seconds for the packet to reach mission control"
    )


class MalformedTelemetrySurvives(Check[MalformedTelemetrySurvivesArgs]):
    name: ClassVar[str] = "malformed_telemetry_survives"
    summary: ClassVar[str] = (
        "A malformed telemetry packet transmitted on the downlink from the vantage is dropped"
        " and counted by mission control, whose telemetry processing goes on (GET /api/health)."
    )
    Args = MalformedTelemetrySurvivesArgs

    def judge(self, args: MalformedTelemetrySurvivesArgs, probe: Probe) -> CheckResult:
        before = ingest_health(probe)
        if before.get("halted"):
            return failed(
                "mission control's telemetry processing is halted already:"
                f" {before.get('halted_reason')}",
                "Make the processing drop what it cannot decode, and restart it.",
            )
        scid = probe.truth().get("scid")
        if not isinstance(scid, int):
            return unobserved("cannot build a frame: the ground truth names no spacecraft id")
        during = wait_for_pass(probe, args.settle + 10.0)
        contact = f" ({during})" if during else ""
        code, output = probe.vantage_exec([*VANTAGE, "--scid", str(scid)], 30.0)
        if code != 0 or '"sent"' not in output:
            return unobserved(f"the vantage could not transmit the packet: {output.strip()[-300:]}")
        dropped_before = int(before.get("rejected_packets") or 0)

        def reacted() -> dict[str, Any] | None:
            now = ingest_health(probe)
            moved = now.get("halted") or int(now.get("rejected_packets") or 0) > dropped_before
            return now if moved else None

        after = wait_for(reacted, args.settle)
        if after is None:
            return unobserved(
                f"{WHAT}, transmitted on the downlink, never reached mission control's telemetry"
                " processing (not dropped, no halt): the ground station dropped it, or the link"
                f" lost it{contact}; nothing says whether the processing would survive it"
            )
        if after.get("halted"):
            restored = self._restore(probe)
            return failed(
                f"{WHAT} halted mission control's telemetry processing"
                f" ({after.get('halted_reason')}); {restored}",
                "A packet that cannot be decoded must be dropped and counted, never stop the"
                " processing (telemetry.on_bad_packet).",
            )
        return passed(
            f"{WHAT}: dropped and counted by mission control"
            f" ({after.get('rejected_packets')} bad packet(s) since it started); the telemetry"
            f" processing runs on{contact}"
        )

    @staticmethod
    def _restore(probe: Probe) -> str:
        """Leave the mission as the check found it: the halt was the check's doing."""
        try:
            probe.restart(wiring.MISSION_CONTROL)
        except LabctlError as exc:
            return f"mission control could not be restarted to restore it: {exc}"
        return "mission control was restarted to restore it"
