"""A class's grades: one record per student, and the summary the class report shows.

Pure: the records come from score reports (:class:`graders.score.ScoreReport`) and the
report grader's cheating flags; nothing here reaches an instance or a store.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from graders.report.evidence import CheatingFlag
from graders.score import Coverage, ObjectiveScore, ScoreReport, TechniqueCoverage, Verdict
from graders.score.model import READABLE_VERSIONS, SCHEMA_VERSION
from labctl.spec.coverage import CISSP_DOMAINS

#: Score distribution bins, in percent: [0, 10), [10, 20), …, [90, 100].
BIN_WIDTH: Final = 10


@dataclass(frozen=True)
class StudentRecord:
    """One student of the class as graded. ``score`` is None when grading failed (``note``
    says why); ``score_link`` is the relative path of the student's own score report."""

    id: str
    name: str = ""
    email: str = ""
    team: str = ""
    score: ScoreReport | None = None
    cheating: tuple[CheatingFlag, ...] = ()
    seconds_to_solve: float | None = None
    score_link: str | None = None
    note: str = ""

    @property
    def graded(self) -> bool:
        return self.score is not None

    @property
    def weaknesses(self) -> WeaknessCoverage | None:
        """Which of the lab's weaknesses the student's report found and missed (titles), for
        the instructor; None when not known (not graded, no report, or the score was read
        back from the student's own ``score.json``, which holds no ground truth)."""
        return weakness_coverage(self.score)


@dataclass(frozen=True)
class WeaknessCoverage:
    """The lab's weaknesses (titles) that one student's report found, and those it missed."""

    found: tuple[str, ...]
    missed: tuple[str, ...]


def weakness_coverage(score: ScoreReport | None) -> WeaknessCoverage | None:
    """From the instructor's view of a score: None without a graded report or ground truth."""
    if score is None or score.report is None:
        return None
    every = [title for t in score.sparta for title in t.weaknesses]
    if not every:
        return None
    found = {title for t in score.sparta for title in t.found}
    return WeaknessCoverage(
        found=tuple(t for t in every if t in found),
        missed=tuple(t for t in every if t not in found),
    )


def flags_from_instructor_view(view: Mapping[str, Any] | None) -> tuple[CheatingFlag, ...]:
    """The cheating flags of a report grade's instructor view (``ReportGrade.instructor_view``)."""
    if not view:
        return ()
    return tuple(
        CheatingFlag(str(f["other_student"]), str(f["secret"]), str(f["where"]))
        for f in view.get("cheating") or ()
    )


def score_from_record(record: Mapping[str, Any]) -> ScoreReport:
    """A :class:`ScoreReport` read back from its JSON record (``score.json``).

    Raises ValueError naming what is wrong when the record is not one."""
    try:
        if record["schema_version"] not in READABLE_VERSIONS:
            raise ValueError(
                f"schema_version {record['schema_version']!r} is not one of"
                f" {', '.join(map(str, READABLE_VERSIONS))}"
            )
        return ScoreReport(
            schema_version=SCHEMA_VERSION,
            lab=str(record["lab"]),
            lab_title=str(record["lab_title"]),
            instance=str(record["instance"]),
            student=str(record["student"]),
            graded_at=str(record["graded_at"]),
            points=float(record["points"]),
            points_possible=int(record["points_possible"]),
            objectives=tuple(
                ObjectiveScore(
                    **{
                        **o,
                        "verdict": Verdict(o["verdict"]),
                        "requires": tuple(o["requires"]),
                        "gated_by": tuple(o.get("gated_by", ())),
                    }
                )
                for o in record["objectives"]
            ),
            report=dict(record["report"]) if record["report"] is not None else None,
            cissp=tuple(Coverage(**c) for c in record["cissp"]),
            cism=tuple(Coverage(**c) for c in record["cism"]),
            sparta=tuple(_technique(t, record["schema_version"]) for t in record["sparta"]),
            countermeasures=tuple(record["countermeasures"]),
            quiz=dict(record["quiz"]) if isinstance(record.get("quiz"), dict) else None,
        )
    except KeyError as exc:
        raise ValueError(f"the score record has no {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ValueError(f"the score record is malformed: {exc}") from None


def _technique(entry: Mapping[str, Any], version: int) -> TechniqueCoverage:
    """One ``sparta`` entry. A student's record (version 2) has no ``weaknesses``; in a
    version 1 record ``weaknesses`` held every title and nothing said which were found."""
    return TechniqueCoverage(
        id=str(entry["id"]),
        attacked=bool(entry["attacked"]),
        remediated=bool(entry["remediated"]),
        reported=entry["reported"] if entry["reported"] is None else bool(entry["reported"]),
        found=tuple(entry.get("found", ())) if version > 1 else (),
        weaknesses=tuple(entry.get("weaknesses", ())),
    )


@dataclass(frozen=True)
class Bin:
    low: int
    high: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"


@dataclass(frozen=True)
class ObjectiveSummary:
    """An objective across the class: how many graded students earned it."""

    id: str
    title: str
    kind: str
    points_possible: int
    earned: int
    graded: int
    mean_points: float

    @property
    def pass_rate(self) -> float:
        return self.earned / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class DomainCell:
    """One student's score in one CISSP domain; None where none of the student's labs
    practises the domain."""

    student: str
    domain: int
    fraction: float | None


@dataclass(frozen=True)
class CheatingSignal:
    """``other_student``'s per-student secret ``secret`` found in ``student``'s report."""

    student: str
    other_student: str
    secret: str
    where: str


@dataclass(frozen=True)
class WeaknessSummary:
    """A weakness of the lab across the class: how many reports (of those whose coverage is
    known) found it."""

    title: str
    found: int
    reports: int


@dataclass(frozen=True)
class ClassSummary:
    session: str
    lab: str
    lab_title: str
    students: int
    graded: int
    points_possible: int
    mean_percent: float | None
    median_percent: float | None
    min_percent: float | None
    max_percent: float | None
    histogram: tuple[Bin, ...]
    objectives: tuple[ObjectiveSummary, ...]
    domains: tuple[int, ...]
    heat: tuple[DomainCell, ...]
    cheating: tuple[CheatingSignal, ...]
    solve_times: tuple[tuple[str, float], ...]
    #: Per weakness, how many reports found it; empty when no report's coverage is known.
    weaknesses: tuple[WeaknessSummary, ...] = ()

    def cell(self, student: str, domain: int) -> DomainCell | None:
        return next((c for c in self.heat if c.student == student and c.domain == domain), None)


def histogram(percents: Iterable[float]) -> tuple[Bin, ...]:
    """Counts per ``BIN_WIDTH`` percent; 100 % falls in the last bin."""
    bins = [0] * (100 // BIN_WIDTH)
    for value in percents:
        index = min(max(int(value // BIN_WIDTH), 0), len(bins) - 1)
        bins[index] += 1
    return tuple(Bin(i * BIN_WIDTH, (i + 1) * BIN_WIDTH, n) for i, n in enumerate(bins))


def objective_order(records: Sequence[StudentRecord]) -> list[tuple[str, str, str, int]]:
    """(id, title, kind, points possible) of every objective, in the labs' order."""
    seen: dict[str, tuple[str, str, str, int]] = {}
    for record in records:
        for o in record.score.objectives if record.score is not None else ():
            seen.setdefault(o.id, (o.id, o.title, o.kind, o.points_possible))
    return list(seen.values())


def summarise(
    records: Sequence[StudentRecord], *, session: str, lab: str = "", lab_title: str = ""
) -> ClassSummary:
    """The class's figures: distribution, objectives, domains, cheating, solve times."""
    scored = [(r, r.score) for r in records if r.score is not None]
    percents = [s.percent for _, s in scored]
    first = scored[0][1] if scored else None
    return ClassSummary(
        session=session,
        lab=lab or (first.lab if first else ""),
        lab_title=lab_title or (first.lab_title if first else ""),
        students=len(records),
        graded=len(scored),
        points_possible=max((s.points_possible for _, s in scored), default=0),
        mean_percent=statistics.fmean(percents) if percents else None,
        median_percent=statistics.median(percents) if percents else None,
        min_percent=min(percents, default=None),
        max_percent=max(percents, default=None),
        histogram=histogram(percents),
        objectives=tuple(_objectives(records)),
        domains=tuple(sorted(CISSP_DOMAINS)),
        heat=tuple(_heat(records)),
        cheating=tuple(
            CheatingSignal(r.id, f.other_student, f.secret, f.where)
            for r in records
            for f in r.cheating
        ),
        solve_times=tuple(
            sorted(
                ((r.id, r.seconds_to_solve) for r in records if r.seconds_to_solve is not None),
                key=lambda pair: (pair[1], pair[0]),
            )
        ),
        weaknesses=tuple(_weaknesses(records)),
    )


def _weaknesses(records: Sequence[StudentRecord]) -> Iterable[WeaknessSummary]:
    known = [c for c in (r.weaknesses for r in records) if c is not None]
    titles = dict.fromkeys(t for c in known for t in (*c.found, *c.missed))
    for title in titles:
        reports = [c for c in known if title in c.found or title in c.missed]
        found = sum(title in c.found for c in reports)
        yield WeaknessSummary(title, found, len(reports))


def _objectives(records: Sequence[StudentRecord]) -> Iterable[ObjectiveSummary]:
    for ident, title, kind, possible in objective_order(records):
        scores = [
            o for r in records if r.score is not None for o in r.score.objectives if o.id == ident
        ]
        yield ObjectiveSummary(
            id=ident,
            title=title,
            kind=kind,
            points_possible=possible,
            earned=sum(o.holds and not o.gated_by and o.points > 0 for o in scores),
            graded=len(scores),
            mean_points=statistics.fmean(o.points for o in scores) if scores else 0.0,
        )


def _heat(records: Sequence[StudentRecord]) -> Iterable[DomainCell]:
    """Students × CISSP domains: the student's points over points possible in the labs
    that practise the domain (a lab's objectives are not split by domain, so each of its
    domains carries the lab's whole score: with one lab the practised cells are equal)."""
    for record in records:
        earned: dict[int, float] = {}
        possible: dict[int, int] = {}
        for coverage in record.score.cissp if record.score is not None else ():
            domain = int(coverage.id)
            earned[domain] = earned.get(domain, 0.0) + coverage.points
            possible[domain] = possible.get(domain, 0) + coverage.points_possible
        for domain in sorted(CISSP_DOMAINS):
            total = possible.get(domain)
            fraction = earned[domain] / total if total else None
            yield DomainCell(record.id, domain, fraction)
