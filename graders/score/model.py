"""The score record of one instance: every objective's verdict, gating, the report grade.

:func:`score` is pure: given the lab, the checks' results and (optionally) the report
grade, it decides points. An objective that ``requires`` others earns nothing unless
every one of them passed, and says which one it waited for. The record is what
``labctl grade`` writes as JSON (``schema_version`` tells readers its shape); the
Markdown and HTML reports are views of it.

The record has two views. The **student's** (``record()``, ``to_json()``, the score
files) names only the weaknesses the student's report found: the titles of the ones
missed are the answer to the lab. The **instructor's** (``record(instructor=True)``)
adds, per SPARTA technique, the titles of every weakness the lab injected there.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from graders.checks.base import CheckResult, Status
from graders.report.result import ReportGrade
from labctl.spec.coverage import CISM_DOMAINS, CISSP_DOMAINS
from labctl.spec.models import Lab, Objective, ObjectiveKind

#: 2: ``sparta[].found`` (the titles the report found) replaced ``sparta[].weaknesses``
#: (every title, now in the instructor's record only).
SCHEMA_VERSION: Final = 2
#: Versions :func:`graders.classreport.score_from_record` still reads.
READABLE_VERSIONS: Final = (1, 2)
#: The field of a technique's coverage that only the instructor's record holds.
INSTRUCTOR_ONLY: Final = "weaknesses"


class Verdict(Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_GRADED = "not graded"  # a report objective without a report


@dataclass(frozen=True)
class ObjectiveScore:
    id: str
    kind: str
    title: str
    verdict: Verdict
    points: float
    points_possible: int
    evidence: str
    hint: str
    hidden: bool
    requires: tuple[str, ...]
    #: Required objectives that did not pass: why a passing objective earned nothing.
    gated_by: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        return self.verdict is Verdict.PASS


@dataclass(frozen=True)
class Coverage:
    """A certification domain the lab practises, and the lab's score there: a lab's
    objectives are not split by domain, so each of its domains carries the whole score."""

    id: str
    name: str
    points: float
    points_possible: int


@dataclass(frozen=True)
class TechniqueCoverage:
    """A SPARTA technique of the lab: exploited, remediated, and named in the report."""

    id: str
    attacked: bool
    remediated: bool
    #: None when no report was graded.
    reported: bool | None
    #: Titles of the technique's weaknesses that the report matched: what the student found.
    found: tuple[str, ...] = ()
    #: Titles of every weakness of the technique, the ground truth: in the instructor's
    #: record only, never in the student's files (empty when read back from those).
    weaknesses: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreReport:
    schema_version: int
    lab: str
    lab_title: str
    instance: str
    student: str
    graded_at: str
    points: float
    points_possible: int
    objectives: tuple[ObjectiveScore, ...]
    report: dict[str, Any] | None
    cissp: tuple[Coverage, ...]
    cism: tuple[Coverage, ...]
    sparta: tuple[TechniqueCoverage, ...]
    countermeasures: tuple[str, ...]
    #: The lab's quiz as the student took it (graders.quiz.QuizResult.summary), if taken:
    #: practice, not points of the lab.
    quiz: dict[str, Any] | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.points / self.points_possible if self.points_possible else 0.0

    def student_view(self) -> ScoreReport:
        """This score without the ground truth: what the student's files are made from."""
        sparta = tuple(dataclasses.replace(t, weaknesses=()) for t in self.sparta)
        return dataclasses.replace(self, sparta=sparta)

    def record(self, *, instructor: bool = False) -> dict[str, Any]:
        """The JSON-ready record (enums as their values): the student's view, or with
        ``instructor`` every weakness title of every technique too."""
        record: dict[str, Any] = _plain(dataclasses.asdict(self))
        if not instructor:
            for technique in record["sparta"]:
                del technique[INSTRUCTOR_ONLY]
        return record

    def to_json(self, *, instructor: bool = False) -> str:
        record = self.record(instructor=instructor)
        return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _verdict(status: Status) -> Verdict:
    return {Status.PASS: Verdict.PASS, Status.FAIL: Verdict.FAIL}.get(status, Verdict.ERROR)


def judge_objective(
    objective: Objective,
    result: CheckResult | None,
    report: ReportGrade | None,
) -> ObjectiveScore:
    """One objective on its own, before gating."""
    if objective.kind is ObjectiveKind.REPORT:
        if report is None:
            verdict, points, evidence = Verdict.NOT_GRADED, 0.0, "no report was given"
        else:
            scale = objective.points / report.points_possible if report.points_possible else 0.0
            points = round(report.points * scale, 2)
            verdict = Verdict.PASS if points > 0 else Verdict.FAIL
            evidence = f"report: {report.points:g} / {report.points_possible} rubric points"
    elif result is None:
        verdict, points, evidence = Verdict.ERROR, 0.0, "the check did not run"
    else:
        verdict = _verdict(result.status)
        points = float(objective.points) if verdict is Verdict.PASS else 0.0
        evidence = result.evidence
    hint = objective.hint or (result.hint if result is not None else "")
    return ObjectiveScore(
        id=objective.id,
        kind=objective.kind.value,
        title=objective.title,
        verdict=verdict,
        points=points,
        points_possible=objective.points,
        evidence=evidence,
        hint=hint if verdict is not Verdict.PASS else "",
        hidden=objective.hidden,
        requires=tuple(objective.requires),
    )


def gate(scores: Mapping[str, ObjectiveScore]) -> dict[str, ObjectiveScore]:
    """Zero the points of every objective whose required objectives did not all pass."""
    gated: dict[str, ObjectiveScore] = {}
    for key, item in scores.items():
        missing = tuple(r for r in item.requires if r not in scores or not scores[r].holds)
        gated[key] = dataclasses.replace(item, points=0.0, gated_by=missing) if missing else item
    return gated


def score(
    lab: Lab,
    results: Mapping[str, CheckResult],
    report: ReportGrade | None,
    *,
    instance: str,
    student: str,
    graded_at: str,
) -> ScoreReport:
    """The score record of one instance: ``results`` by objective id."""
    judged = {o.id: judge_objective(o, results.get(o.id), report) for o in lab.objectives}
    objectives = tuple(gate(judged).values())
    points = round(sum(o.points for o in objectives), 2)
    possible = sum(o.points_possible for o in objectives)

    def share(ids: Mapping[int, str], picked: tuple[int, ...]) -> tuple[Coverage, ...]:
        return tuple(Coverage(str(d), ids[d], points, possible) for d in picked)

    sparta = tuple(_technique(lab, objectives, report, t) for t in lab.sparta.techniques)
    return ScoreReport(
        schema_version=SCHEMA_VERSION,
        lab=lab.id,
        lab_title=lab.title,
        instance=instance,
        student=student,
        graded_at=graded_at,
        points=points,
        points_possible=possible,
        objectives=objectives,
        report=report.student_view() if report is not None else None,
        cissp=share(CISSP_DOMAINS, tuple(lab.cissp_domains)),
        cism=share(CISM_DOMAINS, tuple(lab.cism_domains)),
        sparta=sparta,
        countermeasures=tuple(lab.sparta.countermeasures),
    )


def _technique(
    lab: Lab, objectives: tuple[ObjectiveScore, ...], report: ReportGrade | None, technique: str
) -> TechniqueCoverage:
    weaknesses = [w for w in lab.weaknesses if w.sparta == technique]

    def all_hold(kind: ObjectiveKind) -> bool:
        chosen = [o for o in objectives if o.kind == kind.value]
        return bool(chosen) and all(o.holds and not o.gated_by for o in chosen)

    matched = {m.weakness for m in report.matched} if report is not None else set()
    found = tuple(w.title for w in weaknesses if w.id in matched)
    return TechniqueCoverage(
        id=technique,
        attacked=all_hold(ObjectiveKind.ATTACK),
        remediated=all_hold(ObjectiveKind.REMEDIATION),
        reported=bool(found) if report is not None else None,
        found=found,
        weaknesses=tuple(w.title for w in weaknesses),
    )


def self_check(lab: Lab, results: Mapping[str, CheckResult]) -> tuple[ObjectiveScore, ...]:
    """The student's self-check: the visible checked objectives, gated; hidden objectives
    are left out, also from the reasons a visible one is gated."""
    checked = [o for o in lab.objectives if o.check is not None]
    gated = gate({o.id: judge_objective(o, results.get(o.id), None) for o in checked})
    visible = {o.id for o in checked if not o.hidden}
    return tuple(
        dataclasses.replace(item, gated_by=tuple(g for g in item.gated_by if g in visible))
        for key, item in gated.items()
        if key in visible
    )
