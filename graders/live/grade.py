"""Grade one live instance: every checked objective from a grader vantage, the audit
report if one is given, gating, and the score record (``labctl grade``, ``labctl check``).

Availability objectives run first (the others may depend on them); objectives whose
check restarts a host (``after_restart``) run last, so they cannot disturb the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graders.checks.base import CheckResult
from graders.live.probe import LiveProbe
from graders.live.run import run_objective
from graders.live.vantage import vantage
from graders.report import ReportGrade, grade_report, read_report_file
from graders.score import ObjectiveScore, ScoreReport, score, self_check
from labctl.backends.base import Backend
from labctl.spec import LoadedLab
from labctl.spec.models import Objective, ObjectiveKind
from labctl.spec.params import derive

Progress = Callable[[Objective, CheckResult], None]


def _no_progress(objective: Objective, result: CheckResult) -> None:
    del objective, result


@dataclass(frozen=True)
class GradeTarget:
    """A running instance as grading reaches it."""

    instance_id: str
    student: str
    seed: int
    mission_control: str
    variables: Mapping[str, Any]
    #: The roster slot of a class session's instance: its parameters derive with it.
    slot: int | None = None


def _order(objectives: list[Objective]) -> list[Objective]:
    def rank(o: Objective) -> int:
        restarts = bool(o.check and o.check.args.get("after_restart"))
        return 2 if restarts else 0 if o.kind is ObjectiveKind.AVAILABILITY else 1

    return sorted(objectives, key=rank)


def run_checks(
    backend: Backend,
    loaded: LoadedLab,
    target: GradeTarget,
    objectives: list[Objective],
    progress: Progress = _no_progress,
) -> dict[str, CheckResult]:
    """Each objective's check result, from one grader vantage removed afterwards."""
    results: dict[str, CheckResult] = {}
    with (
        vantage(backend, target.instance_id, uuid.uuid4().hex[:12]) as host,
        LiveProbe(backend, target.instance_id, target.mission_control, host) as probe,
    ):
        for objective in _order([o for o in objectives if o.check is not None]):
            results[objective.id] = run_objective(objective, probe, target.variables)
            progress(objective, results[objective.id])
    del loaded
    return results


def grade_report_file(
    loaded: LoadedLab, target: GradeTarget, report: Path, peers: Mapping[str, int] | None = None
) -> ReportGrade:
    """The audit report graded against the lab and the student's own secrets; ``peers``
    (student → seed) are searched for copied secrets."""
    lab = loaded.spec
    own = derive(lab, target.student, str(target.seed), target.slot).secrets()
    others = {
        peer: derive(lab, peer, str(seed)).secrets()
        for peer, seed in (peers or {}).items()
        if peer != target.student
    }
    return grade_report(lab, read_report_file(report), own, others)


def grade_instance(
    backend: Backend,
    loaded: LoadedLab,
    target: GradeTarget,
    report: Path | None = None,
    progress: Progress = _no_progress,
) -> ScoreReport:
    results = run_checks(backend, loaded, target, list(loaded.spec.objectives), progress)
    graded = grade_report_file(loaded, target, report) if report is not None else None
    return score(
        loaded.spec,
        results,
        graded,
        instance=target.instance_id,
        student=target.student,
        graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def check_instance(
    backend: Backend, loaded: LoadedLab, target: GradeTarget, progress: Progress = _no_progress
) -> tuple[ObjectiveScore, ...]:
    """The student's self-check. Hidden objectives are run only when a visible one requires
    them, and never shown: not in the result, not in the progress."""
    objectives = loaded.spec.objectives
    hidden = {o.id for o in objectives if o.hidden}
    needed = {r for o in objectives if not o.hidden for r in o.requires}
    chosen = [o for o in objectives if o.id not in hidden or o.id in needed]

    def shown(objective: Objective, result: CheckResult) -> None:
        if objective.id not in hidden:
            progress(objective, result)

    return self_check(loaded.spec, run_checks(backend, loaded, target, chosen, shown))
