"""Apply a lab's injects to an instance: render, apply, restart, log.

Order: the lab's set-up ``injects`` first, then each weakness's ``injects``, each list in
file order. Injects that change only files (``Applier.restarts``) come first; then
injects that need the running host (accounts, networks); injects that change the
running host's processes or firewall (``volatile``: lost on a restart) come last.

``labctl up`` applies the file injects to the created hosts before their first start
(:func:`apply_file_injects`, from the backend's ``before_start`` hook), so nothing is
restarted, and the rest once they are healthy (:func:`apply_live_injects`).
:func:`apply_injects` applies everything to a running instance, restarting the hosts
whose programs read a changed file (and waiting until they are healthy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from labctl.errors import LabctlError
from labctl.range import wiring
from labctl.range.hosts.missioncontrol.passwords import hash_password
from labctl.scenario.appliers import Applier
from labctl.scenario.context import FileStage, InjectContext, InjectLog
from labctl.scenario.render import render
from labctl.spec.models import InjectRef, Lab
from labctl.spec.params import GRADER_ACCOUNTS, ParameterValues, derive, grader_password
from labctl.spec.templates import variables as template_variables
from labctl.spec.vocabulary import default_vocabulary


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


def _where(path: tuple[str | int, ...]) -> str:
    """``("weaknesses", 0, "injects", 1)`` → ``weaknesses[0].injects[1]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def lab_injects(lab: Lab) -> list[PlacedInject]:
    """The injects ``labctl up`` applies: the set-up ones, then each weakness's."""
    return [PlacedInject(_where(path), ref) for path, ref in lab.placed_injects(phases=False)]


def phase_injects(lab: Lab, phase: str) -> list[PlacedInject]:
    """The injects that open ``phase`` (empty for a phase the lab does not have)."""
    return [
        PlacedInject(_where(path), ref)
        for path, ref in lab.placed_injects()
        if path[:2] == ("phases", next((i for i, p in enumerate(lab.phases) if p.id == phase), -1))
    ]


def grader_injects(seed: int | str, instance_id: str) -> list[PlacedInject]:
    """Mission control's grading accounts (:data:`GRADER_ACCOUNTS`), stored as hashes."""
    return [
        PlacedInject(
            f"labctl: grading account {user}",
            InjectRef(
                kind="set_config",
                host=wiring.MISSION_CONTROL,
                args={
                    "file": wiring.MISSION_CONTROL_CONFIG,
                    "key": f"users.{user}",
                    "value": {
                        "role": role,
                        "password_hash": hash_password(grader_password(seed, instance_id, role)),
                    },
                },
            ),
        )
        for role, user in GRADER_ACCOUNTS.items()
    ]


def parameters(lab: Lab, student: str, seed: int | str, slot: int | None = None) -> ParameterValues:
    """The student's parameter values: the instance's seed (and roster slot) drive them."""
    return derive(lab, student, str(seed), slot)


def variables(params: Mapping[str, Any], student: str, instance: str, lab: str) -> dict[str, Any]:
    """What templates may name: ``params``, ``student.name``, ``instance.id``."""
    return template_variables(params, student, instance, lab)


Record = Callable[[InjectLog], None]


def _no_record(log: InjectLog) -> None:
    del log


def apply_injects(
    ctx: InjectContext, injects: list[PlacedInject], record: Record = _no_record
) -> list[InjectLog]:
    """Apply every inject to a running instance, restarting the hosts whose configuration
    files changed before the volatile injects; the logs, in order."""
    logs = apply_file_injects(ctx, injects, record)
    for host in dict.fromkeys(log.host for log in logs if log.changed):
        logs.append(_restart(ctx, host))
        record(logs[-1])
    return logs + apply_live_injects(ctx, injects, record)


def apply_file_injects(
    ctx: InjectContext, injects: list[PlacedInject], record: Record = _no_record
) -> list[InjectLog]:
    """The injects that change only files: they work on hosts not started yet. Their
    reads and writes are batched (:class:`FileStage`): nothing is written unless every
    one of them applies."""
    stage = FileStage(ctx.backend, ctx.instance_id)
    logs = _apply_phase(replace(ctx, stage=stage), _resolved(injects, "files"), record)
    stage.flush()
    return logs


def apply_live_injects(
    ctx: InjectContext, injects: list[PlacedInject], record: Record = _no_record
) -> list[InjectLog]:
    """The injects that need a running host: accounts and networks, then volatile ones."""
    live = [*_resolved(injects, "live"), *_resolved(injects, "volatile")]
    return _apply_phase(ctx, live, record)


Resolved = tuple[PlacedInject, Applier[Any], str]


def _apply_phase(
    ctx: InjectContext, resolved: Iterable[Resolved], record: Record
) -> list[InjectLog]:
    logs = []
    for placed, applier, host in resolved:
        logs.append(_apply_one(ctx, placed, applier, host))
        record(logs[-1])
    return logs


def _phase(applier: Applier[Any]) -> str:
    if applier.restarts:
        return "files"
    return "volatile" if applier.volatile else "live"


def applier_of(kind: str) -> Applier[Any] | None:
    """The inject kind ``kind`` from the vocabulary the lab was validated against."""
    entry = default_vocabulary().injects.get(kind)
    target = None if entry is None else entry.target
    if isinstance(target, type) and issubclass(target, Applier):
        return target()
    return None


def _resolved(injects: list[PlacedInject], phase: str) -> Iterator[Resolved]:
    for placed in injects:
        kind, host = placed.inject.kind, placed.inject.host
        applier = applier_of(kind)
        if applier is None:
            raise InjectFailed(placed.where, kind, host or "?", "no applier for this kind")
        host = host or applier.default_host
        if host is None:
            raise InjectFailed(placed.where, kind, "?", "name the target host (host: ...)")
        if _phase(applier) == phase:
            yield placed, applier, host


def _apply_one(
    ctx: InjectContext, placed: PlacedInject, applier: Applier[Any], host: str
) -> InjectLog:
    try:
        return applier.apply_raw(ctx, host, render(placed.inject.args, ctx.variables))
    except LabctlError as exc:
        raise InjectFailed(placed.where, applier.name, host, str(exc)) from exc
    except ValueError as exc:  # pydantic: a rendered value of the wrong type
        detail = "; ".join(_pydantic_lines(exc)) or str(exc)
        raise InjectFailed(placed.where, applier.name, host, detail) from exc


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
