"""Attack objective of a defence lab: the scripted adversary got something done.

The counterpart of ``adversary_contained`` (graders/checks/adversary.py), on the same log
and the same notion of success: the entry says ``success: true``, or a frame the adversary
sent executed on board after it sent it (spacecraft ground truth). An entry counts when
the action ended within the window (a replay may listen for a long time before it
transmits). The adversary replays only what it hears, so while it waits the check can
play the operator: every ``every`` seconds, an operator sends ``operate`` through mission
control, as operations go on during a pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

from pydantic import Field

from graders.checks.adversary import (
    AdversaryContainedArgs,
    executions,
    frames_executed,
    read_adversary_log,
)
from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import command_name, login, send_command
from labctl.range.adversary.logfile import entry_time

POLL_S: Final = 2.0


class AdversarySucceededArgs(AdversaryContainedArgs):
    """The window and the actions that count, as ``adversary_contained`` takes them, and
    how long to wait for a success while an operator works."""

    wait: int = Field(default=0, ge=0, le=300, description="seconds to wait for a success")
    operate: str | None = Field(
        default=None,
        pattern=r"^\d{1,3}\.\d{1,3}$",
        description="while waiting, an operator sends this PUS service.subtype (none: no one)",
    )
    every: int = Field(default=10, ge=1, le=300, description="seconds between two operations")


def entry_end(entry: dict[str, Any]) -> float:
    """When the action ended: its start plus its duration (Unix seconds)."""
    took = entry.get("duration")
    extra = float(took) if isinstance(took, int | float) and not isinstance(took, bool) else 0.0
    return (entry_time(entry) or 0.0) + max(extra, 0.0)


def achievement(entry: dict[str, Any], runs: dict[tuple[int, int], list[float]]) -> str | None:
    """What the entry achieved, or None."""
    if entry.get("success") is True:
        return f"{entry['action']} succeeded ({str(entry.get('detail', ''))[:80]})"
    on_board = frames_executed(entry, runs)
    return f"{entry['action']}: {on_board} frame(s) executed on board" if on_board else None


class AdversarySucceeded(Check[AdversarySucceededArgs]):
    name: ClassVar[str] = "adversary_succeeded"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Attack objective of a defence lab: the scripted adversary achieved something in the"
        " last `window` seconds (success in its log, or a frame of theirs executed on board)."
    )
    Args = AdversarySucceededArgs
    clock: ClassVar[Callable[[], float]] = time.time
    sleep: ClassVar[Callable[[float], None]] = time.sleep

    def observation(self, args: AdversarySucceededArgs) -> AdversarySucceededArgs | None:
        if args.operate:
            return None  # an operator would send commands
        return args.model_copy(update={"wait": 0})

    def judge(self, args: AdversarySucceededArgs, probe: Probe) -> CheckResult:
        clock = type(self).clock
        deadline = clock() + args.wait
        next_operation = clock()
        operations = 0
        token = login(probe, "operator") if args.operate else None
        while True:
            now = clock()
            if token is not None and args.operate and now >= next_operation:
                send_command(probe, token, command_name(args.operate))
                operations += 1
                next_operation = now + args.every
            recent = [
                e
                for e in read_adversary_log(probe)
                if entry_end(e) >= now - args.window
                and (not args.actions or e["action"] in args.actions)
            ]
            runs = executions(probe.truth()) if recent else {}
            wins = [w for w in (achievement(e, runs) for e in recent) if w]
            if wins or clock() >= deadline:
                break
            type(self).sleep(POLL_S)
        what = ", ".join(args.actions) or "any action"
        ops = f" while an operator sent {operations} command(s)" if operations else ""
        if wins:
            return passed(f"in the last {args.window} s{ops}, the adversary achieved: {wins[-1]}")
        if not recent:
            return unobserved(
                f"cannot observe: the adversary carried out nothing ({what}) in the last"
                f" {args.window} s{ops}, so nothing says whether it would succeed"
            )
        return failed(
            f"{len(recent)} adversary action(s) ({what}) in the last {args.window} s{ops};"
            " none achieved anything"
        )
