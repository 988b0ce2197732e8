"""Grade a whole class: every member's instance checked, every report graded, cheating
signals across the class, and the files an instructor hands on.

Each instance is checked once, from its own grader vantage (:func:`run_checks`), with at
most ``workers`` instances at a time; team members share their team's instance and its
check results, and each member's own report is graded on its own. A student's report is
``REPORTS_DIR/<student id>.md`` (for a team member without one, ``REPORTS_DIR/<team>.md``);
a student without a report is graded without it, and the note says so. Every report is
searched for the other units' per-student secrets, derived again from the unit key, the
session's seed and the unit's roster slot. One student's failure (an instance that is
gone, a vantage that does not start, an unreadable report) is that student's note; the
others are graded all the same.

Written to the output folder::

    class.html  grades.csv  grades.json
    students/<student id>/score.json  score.md  score.html
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from graders.checks.base import CheckResult
from graders.classreport import (
    ClassSummary,
    StudentRecord,
    render_class_html,
    score_from_record,
    summarise,
    to_csv,
    to_json,
)
from graders.live.grade import run_checks
from graders.live.target import GradeTarget
from graders.report import CheatingFlag, ReportGrade, grade_report, read_report_file
from graders.report.secrets import secrets_of
from graders.score import ScoreReport, score
from graders.score.files import SCORE_JSON, write_score_files, write_text
from labctl.backends.base import Backend
from labctl.errors import LabctlError
from labctl.spec import LoadedLab

#: Instances checked at once, each from its own vantage container (256 MiB at most). A
#: grading run is mostly waiting (a command crossing the link, a restart), about 2
#: CPU-seconds of 8 s on the reference machine, so a class is graded fastest all at once:
#: 35 tc-replay instances in 48 s at 35, 52–60 s at 16 (docs/benchmarks.md). 64 is the
#: most ``labctl session grade --parallel`` takes.
DEFAULT_WORKERS: Final = 35
STUDENTS_DIR: Final = "students"
_PLAIN_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: (backend, lab, target) → check results by objective id.
Checks = Callable[[Backend, LoadedLab, GradeTarget], Mapping[str, CheckResult]]


def all_checks(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> dict[str, CheckResult]:
    return run_checks(backend, loaded, target, list(loaded.spec.objectives))


@dataclass(frozen=True)
class ClassMember:
    """One student to grade. ``target.student`` is the key the instance's parameters were
    derived from (the student's, or the team's); ``slot`` is the unit's roster slot."""

    student: str
    target: GradeTarget
    name: str = ""
    email: str = ""
    team: str = ""
    slot: int | None = None
    seconds_to_solve: float | None = None
    #: why the member has no instance to check (failed to start, stopped); graded as absent
    absent: str = ""


@dataclass(frozen=True)
class StudentOutcome:
    member: ClassMember
    score: ScoreReport | None
    report: Path | None
    cheating: tuple[CheatingFlag, ...] = ()
    #: why the student is not (fully) graded: no report, the checks failed, …
    notes: tuple[str, ...] = ()
    folder: Path | None = None

    @property
    def graded(self) -> bool:
        return self.score is not None


@dataclass
class ClassGrade:
    session: str
    outcomes: list[StudentOutcome]
    summary: ClassSummary
    files: list[Path] = field(default_factory=list)
    #: report files that name no student of the class
    unmatched_reports: list[Path] = field(default_factory=list)
    seconds: float = 0.0


ClassProgress = Callable[[StudentOutcome], None]


def _no_progress(outcome: StudentOutcome) -> None:
    del outcome


def report_for(reports_dir: Path | None, member: ClassMember) -> Path | None:
    """The member's report: ``<student>.md``, else (in a team) ``<team>.md``; None if absent."""
    if reports_dir is None:
        return None
    for name in (member.student, member.team):
        if name and _PLAIN_NAME.fullmatch(name):
            path = reports_dir / f"{name}.md"
            if path.is_file():
                return path
    return None


def unmatched_reports(reports_dir: Path | None, members: Sequence[ClassMember]) -> list[Path]:
    if reports_dir is None:
        return []
    known = {m.student for m in members} | {m.team for m in members if m.team}
    try:
        files = sorted(reports_dir.glob("*.md"))
    except OSError:
        return []
    return [f for f in files if f.stem not in known]


def unit_secrets(loaded: LoadedLab, members: Iterable[ClassMember]) -> dict[str, dict[str, str]]:
    """Every unit's per-student secrets, as its instance derived them: unit key → secrets."""
    return {
        m.target.student: secrets_of(loaded.spec, m.target.student, m.target.seed, m.slot)
        for m in members
    }


def grade_class(
    backend: Backend,
    loaded: LoadedLab,
    members: Sequence[ClassMember],
    *,
    session: str,
    output: Path,
    reports_dir: Path | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: ClassProgress = _no_progress,
    checks: Checks = all_checks,
    quizzes: Mapping[str, dict[str, Any]] | None = None,
) -> ClassGrade:
    """Grade every member (see the module docstring); files written to ``output``.
    ``quizzes``: student → the quiz they took (graders.quiz.QuizResult.summary), added to
    their score report and the exports."""
    if workers < 1:
        raise LabctlError("--parallel must be at least 1")
    if reports_dir is not None and not reports_dir.is_dir():
        raise LabctlError(f"no folder of reports at {reports_dir}: give the folder of <id>.md")
    _prepare(output)
    began = datetime.now(UTC)
    secrets = unit_secrets(loaded, members)
    by_instance: dict[str, list[ClassMember]] = {}
    for member in members:
        by_instance.setdefault(member.target.instance_id, []).append(member)

    def one_unit(unit: list[ClassMember]) -> list[StudentOutcome]:
        if unit[0].absent:
            return [_member_outcome(m, None, unit[0].absent) for m in unit]
        try:
            results: Mapping[str, CheckResult] | None = checks(backend, loaded, unit[0].target)
            failure = ""
        except Exception as exc:  # one instance's failure stops no other
            results, failure = None, _one_line(exc)
        return [_member_outcome(m, results, failure) for m in unit]

    def _member_outcome(
        member: ClassMember, results: Mapping[str, CheckResult] | None, failure: str
    ) -> StudentOutcome:
        quiz = (quizzes or {}).get(member.student)
        return _graded_outcome(
            loaded,
            member,
            results,
            failure,
            reports_dir=reports_dir,
            secrets=secrets,
            quiz=quiz,
            output=output,
        )

    outcomes: dict[str, StudentOutcome] = {}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")
    try:
        pending: set[Future[list[StudentOutcome]]] = {
            pool.submit(one_unit, unit) for unit in by_instance.values()
        }
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                for outcome in future.result():
                    outcomes[outcome.member.student] = outcome
                    progress(outcome)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    ordered = [outcomes[m.student] for m in members]
    records = [_record(o, output) for o in ordered]
    summary = summarise(records, session=session, lab=loaded.id, lab_title=loaded.spec.title)
    files = _write_class(output, summary, records)
    graded = ClassGrade(session, ordered, summary, files, unmatched_reports(reports_dir, members))
    graded.seconds = (datetime.now(UTC) - began).total_seconds()
    return graded


def _graded_outcome(
    loaded: LoadedLab,
    member: ClassMember,
    results: Mapping[str, CheckResult] | None,
    failure: str,
    *,
    reports_dir: Path | None,
    secrets: Mapping[str, Mapping[str, str]],
    quiz: dict[str, Any] | None,
    output: Path,
) -> StudentOutcome:
    """One member's outcome from their unit's check results, written to their folder."""
    report = report_for(reports_dir, member)
    try:
        graded = _grade_member(
            loaded, member, results, failure=failure, report=report, secrets=secrets
        )
    except Exception as exc:  # a bug with one student's input stops no other
        return StudentOutcome(member, None, report, notes=(f"not graded: {_one_line(exc)}",))
    if quiz is not None and graded.score is not None:
        graded = dataclasses.replace(graded, score=dataclasses.replace(graded.score, quiz=quiz))
    return _write_student(graded, output)


def grade_student(
    backend: Backend,
    loaded: LoadedLab,
    members: Sequence[ClassMember],
    student: str,
    *,
    output: Path,
    reports_dir: Path | None = None,
    checks: Checks = all_checks,
    quiz: dict[str, Any] | None = None,
) -> StudentOutcome:
    """Grade one member of the class again, as :func:`grade_class` grades each (the same
    checks, report grading and copy detection against the whole class), into the same
    folder. When the class has been graded, its class.html, grades.csv and grades.json
    are rewritten with this student's new record; a student who could not be graded now
    keeps the record they had."""
    member = next((m for m in members if m.student == student), None)
    if member is None:
        raise LabctlError(f"no student {student!r} in this class")
    output.mkdir(parents=True, exist_ok=True)
    results: Mapping[str, CheckResult] | None = None
    failure = member.absent
    if not member.absent:
        try:
            results = checks(backend, loaded, member.target)
        except Exception as exc:  # said in the outcome's note, as in grade_class
            failure = _one_line(exc)
    secrets = unit_secrets(loaded, members)
    outcome = _graded_outcome(
        loaded,
        member,
        results,
        failure,
        reports_dir=reports_dir,
        secrets=secrets,
        quiz=quiz,
        output=output,
    )
    if outcome.score is not None and (output / "grades.json").is_file():
        summary, records = load_graded(output)
        fresh = _record(outcome, output)
        records = [fresh if r.id == student else r for r in records]
        if all(r.id != student for r in records):
            records.append(fresh)
        _write_class(
            output,
            summarise(
                records, session=summary.session, lab=summary.lab, lab_title=summary.lab_title
            ),
            records,
        )
    return outcome


def _grade_member(
    loaded: LoadedLab,
    member: ClassMember,
    results: Mapping[str, CheckResult] | None,
    *,
    failure: str,
    report: Path | None,
    secrets: Mapping[str, Mapping[str, str]],
) -> StudentOutcome:
    if results is None:
        return StudentOutcome(member, None, report, notes=(f"not graded: {failure}",))
    notes = [] if report is not None else ["graded without a report (none in the folder)"]
    graded: ReportGrade | None = None
    if report is not None:
        unit = member.target.student
        others = {key: values for key, values in secrets.items() if key != unit}
        try:
            graded = grade_report(loaded.spec, read_report_file(report), secrets[unit], others)
        except LabctlError as exc:
            notes.append(f"report not graded: {exc}")
    result = score(
        loaded.spec,
        results,
        graded,
        instance=member.target.instance_id,
        student=member.student,
        graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    cheating = graded.cheating if graded is not None else ()
    return StudentOutcome(member, result, report, cheating, tuple(notes))


def student_folder(output: Path, student: str) -> Path:
    name = student if _PLAIN_NAME.fullmatch(student) else re.sub(r"[^A-Za-z0-9._-]", "_", student)
    return output / STUDENTS_DIR / name.lstrip(".")


def _write_student(outcome: StudentOutcome, output: Path) -> StudentOutcome:
    if outcome.score is None:
        return outcome
    folder = student_folder(output, outcome.member.student)
    try:
        write_score_files(outcome.score, folder)
    except LabctlError as exc:
        return StudentOutcome(
            outcome.member,
            outcome.score,
            outcome.report,
            outcome.cheating,
            (*outcome.notes, str(exc)),
        )
    return StudentOutcome(
        outcome.member, outcome.score, outcome.report, outcome.cheating, outcome.notes, folder
    )


def _record(outcome: StudentOutcome, output: Path) -> StudentRecord:
    m = outcome.member
    link = (
        (outcome.folder / "score.html").relative_to(output).as_posix() if outcome.folder else None
    )
    return StudentRecord(
        id=m.student,
        name=m.name,
        email=m.email,
        team=m.team,
        score=outcome.score,
        cheating=outcome.cheating,
        seconds_to_solve=m.seconds_to_solve,
        score_link=link,
        note="; ".join(outcome.notes),
    )


def _write_class(output: Path, summary: ClassSummary, records: list[StudentRecord]) -> list[Path]:
    views = {
        "class.html": render_class_html(summary, records),
        "grades.csv": to_csv(records),
        "grades.json": to_json(summary, records),
    }
    written = []
    for name, text in views.items():
        write_text(output / name, text)
        written.append(output / name)
    return written


def load_graded(folder: Path) -> tuple[ClassSummary, list[StudentRecord]]:
    """A graded class read back from its folder: ``grades.json`` for the class and the
    cheating flags, each student's ``score.json`` for the score (so a student graded again
    on their own with ``labctl grade -o FOLDER/students/ID`` counts)."""
    index = folder / "grades.json"
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
        records = [_read_student(folder, s) for s in data["students"]]
        lab = data["lab"]
        summary = summarise(records, session=data["session"], lab=lab["id"], lab_title=lab["title"])
    except FileNotFoundError:
        raise LabctlError(f"no grades.json in {folder}: grade the session first") from None
    except OSError as exc:
        raise LabctlError(f"cannot read {index}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LabctlError(f"{index} is not a class grade file: {_one_line(exc)}") from None
    return summary, records


def _read_student(folder: Path, entry: dict[str, object]) -> StudentRecord:
    link = entry.get("score_report")
    score = None
    if isinstance(link, str) and link:
        path = (folder / link).with_name(SCORE_JSON)
        if folder.resolve() not in path.resolve().parents:
            raise ValueError(f"score report {link!r} is outside {folder}")
        try:
            score = score_from_record(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            score = None
    cheating = entry.get("cheating") or []
    seconds = entry.get("seconds_to_solve")
    return StudentRecord(
        id=str(entry["id"]),
        name=str(entry.get("name", "")),
        email=str(entry.get("email", "")),
        team=str(entry.get("team", "")),
        score=score,
        cheating=tuple(
            CheatingFlag(str(f["other_student"]), str(f["secret"]), str(f["where"]))
            for f in cheating  # type: ignore[attr-defined]
        ),
        seconds_to_solve=float(seconds) if isinstance(seconds, int | float) else None,
        score_link=link if isinstance(link, str) and score is not None else None,
        note=str(entry.get("note", "")),
    )


EXPORT_FORMATS: Final = ("csv", "json", "html")


def export_text(summary: ClassSummary, records: Sequence[StudentRecord], fmt: str) -> str:
    if fmt == "csv":
        return to_csv(records)
    if fmt == "json":
        return to_json(summary, records)
    if fmt == "html":
        return render_class_html(summary, records)
    raise LabctlError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")


def _prepare(output: Path) -> None:
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabctlError(
            f"cannot make the output folder {output}: {exc.strerror or exc}"
        ) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
