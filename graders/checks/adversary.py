"""Remediation objective of a defence lab: the scripted adversary achieved nothing lately.

The adversary (``labctl.range.adversary``) logs one JSON line per action in its container; the
log is read out of band (``Probe.host_exec`` on ``labctl-adversary``), like ground truth,
because what it records is what the adversary did, not something a defender's tools see.
An action achieved something when its entry says ``success: true`` (a password found,
mission control accepting a hazardous command) or when a frame it sent executed on board:
the spacecraft's ground truth holds an executed command with the frame's SPI and SDLS
sequence number, executed at or after the frame was sent (the entry's ``sent``; without
it the entry's time, and for a replay a second execution, since the original ran too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

from pydantic import Field, field_validator

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import executed
from labctl.errors import CheckError
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH
from labctl.range.adversary.actions import ReplayTelecommandsAction
from labctl.range.adversary.logfile import entry_time, parse_log
from labctl.spec.vocabulary import Args, default_vocabulary

REPLAY: Final = ReplayTelecommandsAction.name


class AdversaryContainedArgs(Args):
    window: int = Field(default=60, ge=1, le=24 * 3600, description="seconds back from now")
    actions: tuple[str, ...] = Field(
        default=(), description="only these adversary actions count (default: every action)"
    )

    @field_validator("actions")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = default_vocabulary().actions.names()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown adversary action(s) {unknown}; one of {known}")
        return value


def read_adversary_log(probe: Probe) -> list[dict[str, Any]]:
    code, output = probe.host_exec(ADVERSARY_HOST, ["cat", LOG_PATH])
    if code != 0:
        raise CheckError("adversary", f"log {LOG_PATH} unreadable: {output.strip()[-200:]}")
    return parse_log(output)


def executions(truth: dict[str, Any]) -> dict[tuple[int, int], list[float]]:
    """When each (SPI, sequence number) executed on board, from ground truth."""
    found: dict[tuple[int, int], list[float]] = {}
    for entry in executed(truth):
        spi, sn, when = entry.get("spi"), entry.get("sequence_number"), entry.get("time")
        number = isinstance(when, int | float) and not isinstance(when, bool)
        if type(spi) is int and type(sn) is int and number and isinstance(when, int | float):
            found.setdefault((spi, sn), []).append(float(when))
    return found


def frames_executed(entry: dict[str, Any], runs: dict[tuple[int, int], list[float]]) -> int:
    """How many frames the entry sent executed on board because it sent them."""
    start = entry_time(entry) or 0.0
    replay = entry.get("action") == REPLAY
    count = 0
    for frame in entry.get("frames") or []:
        if not isinstance(frame, dict):
            continue
        spi, sn, sent = frame.get("spi"), frame.get("sn"), frame.get("sent")
        if type(spi) is not int or type(sn) is not int:
            continue
        timed = isinstance(sent, int | float) and not isinstance(sent, bool)
        since = float(sent) if isinstance(sent, int | float) and timed else start
        after = [t for t in runs.get((spi, sn), []) if t >= since]
        if len(after) >= (2 if replay and not timed else 1):
            count += 1
    return count


class AdversaryContained(Check[AdversaryContainedArgs]):
    name: ClassVar[str] = "adversary_contained"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Defence: in the last `window` seconds the scripted adversary acted and achieved "
        "nothing (no success in its log, none of its frames executed on board)."
    )
    Args = AdversaryContainedArgs
    clock: ClassVar[Callable[[], float]] = time.time

    def judge(self, args: AdversaryContainedArgs, probe: Probe) -> CheckResult:
        since = type(self).clock() - args.window
        recent = [
            e
            for e in read_adversary_log(probe)
            if (entry_time(e) or 0.0) >= since and (not args.actions or e["action"] in args.actions)
        ]
        what = ", ".join(args.actions) or "any action"
        if not recent:
            return unobserved(
                f"cannot observe: the adversary was idle, nothing to judge (no {what} in the"
                f" last {args.window} s)",
                "The adversary acts on its timeline; judge while it attacks.",
            )
        runs = executions(probe.truth())
        wins = []
        for e in recent:
            on_board = frames_executed(e, runs)
            if e.get("success") is True:
                wins.append(f"{e['action']} succeeded ({str(e.get('detail', ''))[:80]})")
            elif on_board:
                wins.append(f"{e['action']}: {on_board} frame(s) executed on board")
        done = sum(e["outcome"] == "done" for e in recent)
        sent = sum(len(e.get("frames") or []) for e in recent if isinstance(e.get("frames"), list))
        counts = f"{len(recent)} action(s) in the last {args.window} s ({done} carried out, "
        counts += f"{sent} frame(s) sent)"
        if wins:
            return failed(f"{counts}; the adversary achieved: {'; '.join(wins[:5])}")
        return passed(f"{counts}; none succeeded, no frame of theirs executed on board")
