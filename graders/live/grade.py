"""Grade one live instance: every checked objective from a grader vantage, the audit
report if one is given, gating, and the score record (``labctl grade``, ``labctl check``).

Availability objectives run first (the others may depend on them); objectives whose
check restarts a host (``after_restart``) run last, so they cannot disturb the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from graders.checks.base import CheckResult
from graders.live.probe import open_probe
from graders.live.run import run_objective
from graders.live.target import GradeTarget
from graders.report import ReportGrade, grade_report, read_report_file
from graders.report.secrets import peers_secrets, secrets_of
from graders.score import ObjectiveScore, ScoreReport, score, self_check
from labctl.backends.base import Backend
from labctl.spec import LoadedLab
from labctl.spec.models import Objective, ObjectiveKind

Progress = Callable[[Objective, CheckResult], None]


def _no_progress(objective: Objective, result: CheckResult) -> None:
    del objective, result


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
    with open_probe(backend, target) as probe:
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
    own = secrets_of(lab, target.student, target.seed, target.slot)
    others = peers_secrets(
        lab, {p: (seed, None) for p, seed in (peers or {}).items()}, target.student
    )
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
