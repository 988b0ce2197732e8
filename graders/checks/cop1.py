"""Checks on COP-1 control commands: directives the ground station did not send.

FARM-1 obeys two control commands (CCSDS 232.1-B-2 §5.4): Unlock and Set V(R). Accepted
without authentication, they let anyone on the rf segment move V(R) away from the ground
station's V(S), so the station's next authenticated AD frames fall outside the window
(FARM-1 lockout) and commanding stops until the station re-initiates the AD service.

``forged_directive_accepted`` reads that from ground truth (the attack objective): an
unauthenticated Set V(R) whose V(R) the next AD frame accepted on board did not carry,
so it was not the station's (the station's own Set V(R) is always followed by its frames
from that V(R), 232.1-B-2 §5.1.2). ``clear_directive_rejected`` transmits clear Unlock
and Set V(R) from the grader vantage and judges from ground truth that the spacecraft
refused them (the remediation objective). Its Set V(R) names the V(R) FARM-1 already
has, so even a spacecraft that obeys it is not thrown out of step.

The vantage marks its directives with a frame sequence number in GRADER_FRAME_SEQS (the
BC frame's N(S), which FARM-1 ignores and ground truth records); the attack objective
leaves those out.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any, ClassVar, Final

from pydantic import Field

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.forgery import authenticated_spis
from graders.checks.observe import delivery_problem, truth_list, wait_for
from graders.checks.replay import vantage_json
from labctl.errors import CheckError
from labctl.range import wiring
from labctl.spec.vocabulary import Args

VANTAGE: Final = wiring.vantage_program("directive")
#: Frame sequence numbers of the grader's own BC frames (a tag, not a secret).
GRADER_FRAME_SEQS: Final = range(0xF0, 0x100)
SET_VR: Final = "COP1_SET_VR"
UNLOCK: Final = "COP1_UNLOCK"
DIRECTIVES: Final = frozenset({SET_VR, UNLOCK})
#: How long the grader's directives have to show up in ground truth.
SETTLE_S: Final = 4.0
HINT: Final = (
    "Only the ground station may move FARM-1: protect COP-1 control commands with the"
    " uplink SA at the station and refuse clear ones on board."
)


def _is_directive(entry: dict[str, Any]) -> bool:
    return entry.get("service") is None and entry.get("name") in DIRECTIVES


def _is_ad_command(entry: dict[str, Any]) -> bool:
    return entry.get("service") is not None and entry.get("bypass") is False


def _ends_a_boot(entry: dict[str, Any], following: dict[str, Any]) -> bool:
    """A reset lies between the two entries: a REBOOT, or the previous boots' end."""
    return entry.get("name") == "REBOOT" or bool(entry.get("previous_boot")) != bool(
        following.get("previous_boot")
    )


def forged_set_vrs(truth: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Set V(R)s the ground station did not send, each with what shows it: an
    unauthenticated Set V(R) accepted on board (the grader's own left out) after which,
    in the same boot, the next
    telecommand accepted in an AD frame carried another N(S), or FARM-1 locked out at the
    V(R) it set before any was accepted (the station's next frame fell outside the window:
    a FARM_LOCKOUT event of this boot). Either way the ground station did not follow it."""
    log = truth_list(truth, "executed_commands")
    trusted = authenticated_spis(truth)
    found = []
    for index, entry in enumerate(log):
        if entry.get("name") != SET_VR or entry.get("spi") in trusted:
            continue
        if entry.get("frame_seq") in GRADER_FRAME_SEQS or entry.get("result") == "ignored":
            continue  # the grader's own; one FARM-1 ignored in Lockout moved nothing
        vr = (entry.get("args") or {}).get("vr")
        following, same_boot = _next_ad_command(log, index)
        if following is not None:
            if following.get("frame_seq") != vr:
                found.append((entry, _followed_by(following)))
        elif same_boot and not entry.get("previous_boot") and _locked_out_at(truth, entry):
            found.append((entry, f"FARM-1 then locked out at V(R) {vr}"))
    return found


def _next_ad_command(log: list[dict[str, Any]], index: int) -> tuple[dict[str, Any] | None, bool]:
    """The next AD command after entry ``index`` in its boot, and whether the log goes on
    in that boot to its end (no reset after the entry)."""
    previous = log[index]
    for entry in log[index + 1 :]:
        if _ends_a_boot(previous, entry):
            return None, False
        if _is_ad_command(entry):
            return entry, True
        previous = entry
    return None, previous.get("name") != "REBOOT"


def _followed_by(entry: dict[str, Any]) -> str:
    return f"the station's next accepted frame was N(S) {entry.get('frame_seq')}" + (
        f" ({entry.get('name')})"
    )


def _locked_out_at(truth: dict[str, Any], directive: dict[str, Any]) -> bool:
    """A FARM_LOCKOUT event of this boot, at or after the directive, at its V(R)."""
    vr = (directive.get("args") or {}).get("vr")
    if not isinstance(vr, int) or not 0 <= vr <= 0xFF:
        return False
    when = float(directive.get("time") or 0)
    for event in truth_list(truth, "events"):
        if event.get("event") != "FARM_LOCKOUT" or float(event.get("time") or 0) < when:
            continue
        if str(event.get("aux") or "")[:2].lower() == f"{vr:02x}":
            return True
    return False


class ForgedDirectiveAcceptedArgs(Args):
    pass


class ForgedDirectiveAccepted(Check[ForgedDirectiveAcceptedArgs]):
    name: ClassVar[str] = "forged_directive_accepted"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Attack objective: the spacecraft accepted a COP-1 Set V(R) without authentication"
        " that the ground station did not send (the next AD frame accepted carried another"
        " N(S), or FARM-1 locked out at that V(R))."
    )
    Args = ForgedDirectiveAcceptedArgs

    def judge(self, args: ForgedDirectiveAcceptedArgs, probe: Probe) -> CheckResult:
        pairs = forged_set_vrs(probe.truth())
        if not pairs:
            return failed(
                "FARM-1 has followed the ground station's frame sequence",
                "The ground station's frames are numbered; what decides which number the"
                " spacecraft expects next?",
            )
        directive, shown = pairs[-1]
        vr = (directive.get("args") or {}).get("vr")
        return passed(
            f"{len(pairs)} unauthenticated Set V(R) accepted that the ground station did not"
            f" send, e.g. V(R) := {vr}; {shown}"
        )


class ClearDirectiveRejectedArgs(Args):
    unlock: bool = Field(default=True, description="send a clear Unlock")
    set_vr: bool = Field(
        default=True, description="send a clear Set V(R) to the V(R) FARM-1 has (ground truth)"
    )


class ClearDirectiveRejected(Check[ClearDirectiveRejectedArgs]):
    name: ClassVar[str] = "clear_directive_rejected"
    summary: ClassVar[str] = (
        "COP-1 control commands (Unlock, Set V(R)) transmitted without authentication from"
        " the grader vantage are refused by the spacecraft (ground truth)."
    )
    Args = ClearDirectiveRejectedArgs

    def judge(self, args: ClearDirectiveRejectedArgs, probe: Probe) -> CheckResult:
        if not args.unlock and not args.set_vr:
            raise CheckError("args", "nothing to send: unlock or set_vr must be true")
        truth = probe.truth()
        marker = random.choice(GRADER_FRAME_SEQS)
        argv = directive_argv(truth, args, marker)
        started = time.time() - 1.0
        code, output = probe.vantage_exec(argv, 60.0)
        report = vantage_json(output)
        if code != 0 or report is None or not isinstance(report.get("sent"), list):
            why = (report or {}).get("error") or output.strip()[-300:] or f"exit status {code}"
            return unobserved(f"the vantage could not transmit the directives: {why}")
        what = "clear " + " and ".join(str(item) for item in report["sent"])

        def obeyed() -> list[dict[str, Any]]:
            return [
                e
                for e in truth_list(probe.truth(), "executed_commands")
                if _is_directive(e)
                and e.get("frame_seq") == marker
                and float(e.get("time") or 0) >= started
            ]

        accepted = wait_for(obeyed, SETTLE_S)
        if accepted:
            names = ", ".join(str(e.get("name")) for e in accepted)
            return failed(f"{what}: the spacecraft obeyed ({names})", HINT)
        after = probe.truth()
        lost = delivery_problem(truth, after, what)
        if lost is not None:
            return lost
        reasons = _rejections(after) - _rejections(truth)
        why = ", ".join(f"{k} x{n}" for k, n in sorted(reasons.items())) or "none recorded"
        return passed(f"{what}: refused by the spacecraft; rejections: {why}")


def directive_argv(
    truth: dict[str, Any], args: ClearDirectiveRejectedArgs, marker: int
) -> list[str]:
    """The vantage command: this spacecraft's SCID and VC, Set V(R) to FARM-1's V(R)."""
    scid = truth.get("scid")
    farm = truth.get("farm")
    if not isinstance(scid, int) or not isinstance(farm, dict):
        raise CheckError("truth", "the ground truth names no spacecraft id or FARM-1 state")
    vcid, vr = farm.get("vcid"), farm.get("vr")
    if not isinstance(vcid, int) or not isinstance(vr, int):
        raise CheckError("truth", "the ground truth gives no FARM-1 virtual channel and V(R)")
    argv = [*VANTAGE, "--scid", str(scid), "--vcid", str(vcid), "--frame-seq", str(marker)]
    if args.unlock:
        argv.append("--unlock")
    if args.set_vr:
        argv += ["--set-vr", str(vr)]
    return argv


def _rejections(truth: dict[str, Any]) -> Counter[str]:
    counts = (truth.get("counters") or {}).get("rejected_by_reason") or {}
    return Counter({str(k): int(v) for k, v in counts.items() if isinstance(v, int)})
