"""Checks on the confidentiality of the telemetry downlink, heard from the grader vantage.

The vantage runs ``python3 -m labctl.range.vantage.downlink listen`` on the rf network,
where the rf-link broadcasts every downlink frame: it hears what any radio in range hears.
Its last output line is JSON (frames heard, clear and protected data frames, frames that
contain the secret). Which security association the spacecraft protects telemetry with,
and that SA's service, come from the spacecraft's ground truth.

A vantage that heard nothing usable (its program failed, its report malformed) is an
error for both checks. Silence on the air is judged differently: for the attack objective
it is an error (no telemetry, so nothing says whether the secret would be readable); for
``downlink_confidential`` it is a fail, because that check judges that telemetry still
flows, and a fix that silences the downlink does not.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from pydantic import Field

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import truth_list
from graders.checks.replay import vantage_json
from labctl.errors import CheckError
from labctl.range import wiring
from labctl.spec.vocabulary import Args

VANTAGE: Final = wiring.vantage_program("downlink", "listen")
#: Seconds the vantage may take beyond its listening time (start-up, imports).
SLACK_S: Final = 20.0
AUTHENTICATED_ENCRYPTION: Final = "AUTHENTICATED_ENCRYPTION"
OPERATIONAL: Final = "OPERATIONAL"


class DownlinkArgs(Args):
    secret: str = Field(
        min_length=1,
        max_length=128,
        description="text that must (attack) or must not (remediation) be readable on the"
        " downlink air, e.g. '{{ params.hk_secret }}'",
    )
    listen: int = Field(default=12, ge=2, le=120, description="seconds to listen")


def hear_downlink(probe: Probe, secret: str, seconds: int, scid: int | None) -> dict[str, Any]:
    """The vantage's account of ``seconds`` on the downlink air; ``{"error": ...}`` if none."""
    argv = [*VANTAGE, "--seconds", str(seconds), "--secret", secret]
    if scid is not None:
        argv += ["--scid", str(scid)]
    code, output = probe.vantage_exec(argv, seconds + SLACK_S)
    heard = vantage_json(output) if code == 0 else None
    if heard is None or not _well_formed(heard):
        return {"error": output.strip()[-300:] or f"exit status {code}"}
    return heard


def _well_formed(heard: dict[str, Any]) -> bool:
    counts = ("frames", "data_frames", "clear_frames", "secret_frames")
    if not all(isinstance(heard.get(k), int) and heard[k] >= 0 for k in counts):
        return False
    protected = heard.get("protected_frames")
    return isinstance(protected, dict) and all(
        str(k).isdigit() and isinstance(v, int) for k, v in protected.items()
    )


def _scid(truth: dict[str, Any]) -> int | None:
    scid = truth.get("scid")
    return scid if isinstance(scid, int) and not isinstance(scid, bool) else None


def heard_summary(heard: dict[str, Any], seconds: int) -> str:
    protected = heard["protected_frames"]
    spis = ", ".join(f"SPI {spi}: {n}" for spi, n in protected.items()) or "none"
    return (
        f"{heard['frames']} TM frames heard in {seconds} s ({heard['data_frames']} data frames:"
        f" {heard['clear_frames']} clear, protected by {spis})"
    )


class DownlinkSecretExposed(Check[DownlinkArgs]):
    name: ClassVar[str] = "downlink_secret_exposed"
    summary: ClassVar[str] = (
        "Attack objective: the secret is readable in telemetry frames heard on the downlink air."
    )
    Args = DownlinkArgs

    def judge(self, args: DownlinkArgs, probe: Probe) -> CheckResult:
        heard = hear_downlink(probe, args.secret, args.listen, _scid(probe.truth()))
        if "error" in heard:
            return unobserved(f"the vantage heard nothing usable: {heard['error']}")
        what = heard_summary(heard, args.listen)
        if not heard["data_frames"]:
            return unobserved(
                f"cannot observe: {what}; no telemetry on the air to look for the secret in"
            )
        if heard["secret_frames"]:
            return passed(f"{what}; the secret is readable in {heard['secret_frames']} of them")
        return failed(
            f"{what}; the secret appears in none of them",
            "Listen on the downlink air and read the housekeeping reports.",
        )


class DownlinkConfidential(Check[DownlinkArgs]):
    name: ClassVar[str] = "downlink_confidential"
    summary: ClassVar[str] = (
        "Telemetry still flows on the downlink air, every data frame carries an SDLS header"
        " of the spacecraft's authenticated-encryption SA, and the secret is in none."
    )
    Args = DownlinkArgs

    def judge(self, args: DownlinkArgs, probe: Probe) -> CheckResult:
        truth = probe.truth()
        heard = hear_downlink(probe, args.secret, args.listen, _scid(truth))
        if "error" in heard:
            return unobserved(f"the vantage heard nothing usable: {heard['error']}")
        what = heard_summary(heard, args.listen)
        if not heard["data_frames"]:
            return failed(f"nothing heard: {what}", "A fix that stops telemetry earns nothing.")
        problem = exposure(heard) or sa_problem(heard, downlink_sa(truth))
        if problem:
            return failed(f"{what}; {problem}", HINT)
        sa = downlink_sa(truth) or {}
        return passed(f"{what}; all on the {_label(sa)}; the secret appears in none")


HINT: Final = "Protect the downlink with authenticated encryption on both ends of the link."


def exposure(heard: dict[str, Any]) -> str | None:
    """What the air gives away: the secret, or telemetry in the clear."""
    if heard["secret_frames"]:
        return f"the secret is readable in {heard['secret_frames']} frame(s)"
    if heard["clear_frames"]:
        return "telemetry still goes in the clear"
    return None


def sa_problem(heard: dict[str, Any], sa: dict[str, Any] | None) -> str | None:
    """Why the frames heard are not those of an operational authenticated-encryption SA."""
    if sa is None:
        return "the spacecraft reports no downlink SA in use"
    if sa.get("service") != AUTHENTICATED_ENCRYPTION or sa.get("state") != OPERATIONAL:
        return f"the {_label(sa)} does not encrypt"
    others = sorted(int(k) for k in heard["protected_frames"] if int(k) != sa.get("spi"))
    if others:
        return f"frames on SPI {others} are not the {_label(sa)}"
    return None


def _label(sa: dict[str, Any]) -> str:
    spi, service, state = sa.get("spi"), sa.get("service"), sa.get("state")
    return f"downlink SA {sa.get('name')!r} (SPI {spi}, {service}, {state})"


def downlink_sa(truth: dict[str, Any]) -> dict[str, Any] | None:
    """The security association the spacecraft protects telemetry with, from ground truth."""
    downlink = truth.get("downlink")
    if not isinstance(downlink, dict):
        raise CheckError("truth", "the spacecraft's ground truth has no downlink section")
    name = downlink.get("sa")
    if not name:
        return None
    found = [a for a in truth_list(truth, "security_associations") if a.get("name") == name]
    return found[0] if found and found[0].get("direction") == "downlink" else None
