"""Apply a lab's injects to a live instance: render, apply, restart, log.

Order: the lab's set-up ``injects`` first, then each weakness's ``injects``, each list in
file order. Injects that change files are applied first; the hosts whose programs read
a changed file are restarted (and waited for until healthy); injects that change the
running host (processes, firewall rules: lost on a restart) come last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from labctl.errors import LabctlError
from labctl.scenario.appliers import APPLIERS, Applier
from labctl.scenario.context import InjectContext, InjectLog
from labctl.scenario.render import render
from labctl.spec.models import InjectRef, Lab
from labctl.spec.params import ParameterValues, derive


class InjectFailed(LabctlError):
    """One inject of the lab failed: names it the way the lab file does."""

    def __init__(self, where: str, kind: str, host: str, detail: str) -> None:
        self.where = where
        self.kind = kind
        self.host = host
        super().__init__(f"{where} ({kind} on {host}): {detail}")


@dataclass(frozen=True)
class PlacedInject:
    """An inject and where the lab file has it, e.g. ``weaknesses[0].injects[1]``."""

    where: str
    inject: InjectRef


def lab_injects(lab: Lab) -> list[PlacedInject]:
    placed = [PlacedInject(f"injects[{i}]", ref) for i, ref in enumerate(lab.injects)]
    for w, weakness in enumerate(lab.weaknesses):
        for i, ref in enumerate(weakness.injects):
            placed.append(PlacedInject(f"weaknesses[{w}].injects[{i}]", ref))
    return placed


def parameters(lab: Lab, student: str, seed: int | str) -> ParameterValues:
    """The student's parameter values: the instance's seed drives the derivation."""
    return derive(lab, student, str(seed))


def variables(params: Mapping[str, Any], student: str, instance: str, lab: str) -> dict[str, Any]:
    """What templates may name: ``params``, ``student.name``, ``instance.id``."""
    return {
        "params": dict(params),
        "student": {"name": student},
        "instance": {"id": instance, "lab": lab},
    }


Record = Callable[[InjectLog], None]


def apply_injects(
    ctx: InjectContext, injects: list[PlacedInject], record: Record = lambda _: None
) -> list[InjectLog]:
    """Apply every inject, restart hosts whose configuration changed; the logs, in order."""
    logs: list[InjectLog] = []
    restart: list[str] = []
    for placed, applier, host in _resolved(injects, volatile=False):
        log = _apply_one(ctx, placed, applier, host)
        if log.changed and applier.restarts and host not in restart:
            restart.append(host)
        logs.append(log)
        record(log)
    for host in restart:
        logs.append(_restart(ctx, host))
        record(logs[-1])
    for placed, applier, host in _resolved(injects, volatile=True):
        logs.append(_apply_one(ctx, placed, applier, host))
        record(logs[-1])
    return logs


def _resolved(
    injects: list[PlacedInject], *, volatile: bool
) -> Iterator[tuple[PlacedInject, Applier[Any], str]]:
    for placed in injects:
        kind, host = placed.inject.kind, placed.inject.host
        applier = APPLIERS.get(kind)
        if applier is None:
            raise InjectFailed(placed.where, kind, host or "?", "no applier for this kind")
        host = host or applier.default_host
        if host is None:
            raise InjectFailed(placed.where, kind, "?", "name the target host (host: ...)")
        if applier.volatile == volatile:
            yield placed, applier, host


def _apply_one(
    ctx: InjectContext, placed: PlacedInject, applier: Applier[Any], host: str
) -> InjectLog:
    try:
        return applier.apply(ctx, host, render(placed.inject.args, ctx.variables))
    except LabctlError as exc:
        raise InjectFailed(placed.where, applier.kind, host, str(exc)) from exc
    except ValueError as exc:  # pydantic: a rendered value of the wrong type
        detail = "; ".join(_pydantic_lines(exc)) or str(exc)
        raise InjectFailed(placed.where, applier.kind, host, detail) from exc


def _pydantic_lines(exc: ValueError) -> list[str]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return []
    return [f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in errors()]


def _restart(ctx: InjectContext, host: str) -> InjectLog:
    try:
        ctx.backend.restart(ctx.instance_id, host)
    except LabctlError as exc:
        raise InjectFailed("restart", "restart", host, str(exc)) from exc
    return InjectLog("restart", host, "program restarted to read its new configuration", True)
