"""LMS-neutral exports of a class's grades: CSV (one row per student) and JSON.

The CSV's columns are stable: the student's identity, the totals, one column per
objective in the lab's order (``objective:<id>``, points earned), the report's rubric
points, the number of cheating flags, the quiz (right and asked: practice, not points;
empty when not taken), a note. Text cells that a spreadsheet would read
as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a
leading single quote. The JSON also holds, for the instructor, which of the lab's
weaknesses each student's report found and missed (titles), where known.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Final

from graders.classreport.model import ClassSummary, StudentRecord, objective_order

SCHEMA_VERSION: Final = 1
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
FIXED_COLUMNS: Final = (
    "student_id",
    "name",
    "email",
    "team",
    "points",
    "points_possible",
    "percent",
)
TAIL_COLUMNS: Final = ("report_points", "cheating_flags", "quiz_right", "quiz_asked", "note")


def safe_cell(text: str) -> str:
    """``text`` that no spreadsheet evaluates as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _report_points(record: StudentRecord) -> float | None:
    report = record.score.report if record.score is not None else None
    return float(report["points"]) if report is not None else None


def _quiz_cells(record: StudentRecord) -> tuple[str, str]:
    quiz = record.score.quiz if record.score is not None else None
    if not quiz:
        return "", ""
    return str(int(quiz["right"])), str(int(quiz["asked"]))


def columns(records: Sequence[StudentRecord]) -> list[str]:
    objectives = [f"objective:{ident}" for ident, *_ in objective_order(records)]
    return [*FIXED_COLUMNS, *objectives, *TAIL_COLUMNS]


def to_csv(records: Sequence[StudentRecord]) -> str:
    """One row per student, in the order given."""
    objective_ids = [ident for ident, *_ in objective_order(records)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns(records))
    for r in records:
        s = r.score
        earned = {o.id: o.points for o in s.objectives} if s is not None else {}
        writer.writerow(
            [
                *(safe_cell(v) for v in (r.id, r.name, r.email, r.team)),
                _number(s.points if s else None),
                _number(s.points_possible if s else None),
                f"{s.percent:.1f}" if s else "",
                *(_number(earned.get(ident)) for ident in objective_ids),
                _number(_report_points(r)),
                str(len(r.cheating)),
                *_quiz_cells(r),
                safe_cell(r.note),
            ]
        )
    return buffer.getvalue()


def to_record(summary: ClassSummary, records: Sequence[StudentRecord]) -> dict[str, Any]:
    """The JSON-ready export: the session, the lab, the summary, every student."""
    return {
        "schema_version": SCHEMA_VERSION,
        "session": summary.session,
        "lab": {"id": summary.lab, "title": summary.lab_title},
        "points_possible": summary.points_possible,
        "summary": {
            "students": summary.students,
            "graded": summary.graded,
            "mean_percent": summary.mean_percent,
            "median_percent": summary.median_percent,
            "min_percent": summary.min_percent,
            "max_percent": summary.max_percent,
            "histogram": [
                {"low": b.low, "high": b.high, "count": b.count} for b in summary.histogram
            ],
            "objectives": [
                {
                    "id": o.id,
                    "title": o.title,
                    "kind": o.kind,
                    "points_possible": o.points_possible,
                    "earned": o.earned,
                    "graded": o.graded,
                    "pass_rate": o.pass_rate,
                }
                for o in summary.objectives
            ],
            "cheating_signals": [
                {
                    "student": c.student,
                    "other_student": c.other_student,
                    "secret": c.secret,
                    "where": c.where,
                }
                for c in summary.cheating
            ],
            "weaknesses": [
                {"title": w.title, "found": w.found, "reports": w.reports}
                for w in summary.weaknesses
            ],
        },
        "students": [_student(r) for r in records],
    }


def _student(r: StudentRecord) -> dict[str, Any]:
    s = r.score
    return {
        "id": r.id,
        "name": r.name,
        "email": r.email,
        "team": r.team,
        "graded": s is not None,
        "points": s.points if s else None,
        "points_possible": s.points_possible if s else None,
        "percent": round(s.percent, 2) if s else None,
        "objectives": {o.id: o.points for o in s.objectives} if s else {},
        "report_points": _report_points(r),
        "cheating": [
            {"other_student": f.other_student, "secret": f.secret, "where": f.where}
            for f in r.cheating
        ],
        "weaknesses": _coverage(r),
        "seconds_to_solve": r.seconds_to_solve,
        "score_report": r.score_link,
        "note": r.note,
    }


def _coverage(r: StudentRecord) -> dict[str, list[str]] | None:
    coverage = r.weaknesses
    if coverage is None:
        return None
    return {"found": list(coverage.found), "missed": list(coverage.missed)}


def to_json(summary: ClassSummary, records: Sequence[StudentRecord]) -> str:
    return json.dumps(to_record(summary, records), indent=2, ensure_ascii=False) + "\n"
