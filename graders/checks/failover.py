"""Checks on jamming and failover between ground stations.

A radio path is an rf-link host: its status document (read out of band, students cannot
own an rf-link) counts the datagrams it dropped because noise jammed it.
``commands_despite_jamming`` jams a link from the grader vantage
(:mod:`labctl.range.vantage.jam`) and, while the noise lasts, has an operator command
through mission control, through whichever ground station mission control uses; the
count says whether the jam took.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, ClassVar, Final

from pydantic import Field, StringConstraints

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.forgery import TEMPLATE_PATTERN
from graders.checks.observe import (
    command_name,
    login,
    rf_link_status,
    send_command,
    truth_list,
    verification,
)
from labctl.range import wiring
from labctl.spec.vocabulary import Args, HostName

JAM: Final = wiring.vantage_program("jam")
#: Noise bursts a second the grader sends by default: above the rf-link's default noise
#: threshold (500); a lab with a lower threshold sends less (``rate``).
JAM_RATE: Final = 1000
#: Seconds of noise before the operator's command goes out (the link goes quiet).
LEAD_S: Final = 2.0


def jammed_frames(probe: Probe, link: str) -> int:
    """Uplink datagrams ``link`` (an rf-link host) dropped because it was jammed, noise
    included, ever."""
    dropped = rf_link_status(probe, link).get("dropped")
    count = dropped.get("uplink_jammed", 0) if isinstance(dropped, dict) else 0
    return count if isinstance(count, int) else 0


class CommandsDespiteJammingArgs(Args):
    jam: HostName = Field(default="rf-link", description="the rf-link host to jam")
    command: str = Field(default="17.1", pattern=r"^\d{1,3}\.\d{1,3}$")
    within: int = Field(default=25, ge=5, le=120, description="seconds for the completion")
    rate: int = Field(
        default=JAM_RATE,
        ge=10,
        le=5000,
        description="noise bursts a second: above the link's noise threshold",
    )


class CommandsDespiteJamming(Check[CommandsDespiteJammingArgs]):
    name: ClassVar[str] = "commands_despite_jamming"
    summary: ClassVar[str] = (
        "While the grader jams a radio path, an operator's command through mission control"
        " completes on board (through another ground station's path)."
    )
    Args = CommandsDespiteJammingArgs

    def judge(self, args: CommandsDespiteJammingArgs, probe: Probe) -> CheckResult:
        name = command_name(args.command)
        token = login(probe, "operator")
        before = jammed_frames(probe, args.jam)
        argv = [*JAM, "--host", args.jam, "--rate", str(args.rate)]
        argv += ["--duration", str(args.within + LEAD_S + 5)]
        started = threading.Event()

        def heard(line: str) -> None:
            if line.strip() == "jamming":
                started.set()

        with ThreadPoolExecutor(max_workers=1) as pool:
            noise = pool.submit(probe.vantage_exec, argv, args.within + 60.0, heard)
            started.wait(LEAD_S * 5)
            time.sleep(LEAD_S)
            sent = send_command(probe, token, name)
            status = verification(probe, token, sent, float(args.within))
            code, output = noise.result()
        if code != 0:
            return unobserved(f"the vantage could not jam {args.jam}: {output.strip()[-300:]}")
        dropped = jammed_frames(probe, args.jam) - before
        if status == "completed":
            via = (
                f"{args.jam} dropped {dropped} frame(s) meanwhile"
                if dropped
                else f"nothing was sent through {args.jam}"
            )
            return passed(f"{name} completed on board while {args.jam} was jammed ({via})")
        if not dropped:
            return unobserved(
                f"{name} did not complete ({status}), but {args.jam} dropped no frame to the"
                " noise: the jam did not take, so it says nothing about failover"
            )
        return failed(
            f"{name} did not complete within {args.within} s ({status}): {args.jam} dropped"
            f" {dropped} frame(s) to the noise, and no other radio path carried the command",
            "Fail operations over to a station with another radio path, with the same protections.",
        )


class SaRetiredArgs(Args):
    spis: list[int | Annotated[str, StringConstraints(pattern=TEMPLATE_PATTERN)]] = Field(
        min_length=1, description="SPIs that must not be operational on board"
    )


class SaRetired(Check[SaRetiredArgs]):
    name: ClassVar[str] = "sa_retired"
    summary: ClassVar[str] = (
        "None of the given uplink security associations is operational on board"
        " (spacecraft ground truth): frames on them are refused whatever they carry."
    )
    passive: ClassVar[bool] = True
    Args = SaRetiredArgs

    def judge(self, args: SaRetiredArgs, probe: Probe) -> CheckResult:
        spis = [s for s in args.spis if isinstance(s, int)]
        if len(spis) != len(args.spis):
            return unobserved(f"sa_retired: SPIs were not rendered ({args.spis!r})")
        known = {
            sa.get("spi"): str(sa.get("state", "")).upper()
            for sa in truth_list(probe.truth(), "security_associations")
        }
        open_ = [s for s in spis if known.get(s) == "OPERATIONAL"]
        if open_:
            return failed(
                f"SA {', '.join(map(str, open_))} still operational on board",
                "Stop and expire the SA by telecommand (SA_STOP, SA_EXPIRE).",
            )
        states = ", ".join(f"SA {s} {known.get(s, 'absent').lower()}" for s in spis)
        return passed(f"not operational on board: {states}")
