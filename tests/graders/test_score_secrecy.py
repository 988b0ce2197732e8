"""Score reports do not leak the answer: a student's files name only the weaknesses the
student's report found, never the ones missed; the instructor's views name them all."""

from __future__ import annotations

import json
from pathlib import Path

from report_samples import REPLAY, secrets

from graders.checks.base import CheckResult, Status
from graders.classreport import (
    StudentRecord,
    render_class_html,
    score_from_record,
    summarise,
    to_json,
)
from graders.report import ReportGrade, grade_report
from graders.score import ScoreReport, render_html, render_markdown, score
from graders.score.files import write_score_files

FOUND, MISSED = REPLAY.weaknesses  # anti-replay-disabled, sequence-not-persisted
ALICE = secrets("alice")
PROSE = (
    "We captured an uplink frame while mission control sent a command and transmitted it"
    " again from the attacker workstation; the spacecraft executed the command a second time."
)

#: One of the two weaknesses, done properly; nothing about the other.
ONE_OF_TWO = f"""---
lab: tc-replay
findings:
  - component: spacecraft
    title: The uplink accepts a replayed telecommand frame
    sparta: EX-0001.01
    cwe: CWE-294
    cvss: CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H
    description: {json.dumps(PROSE)}
    evidence: "event log after the replay: {ALICE["ops_flag"]}"
    recommendation: Enable the anti-replay check of the uplink security association.
    countermeasures: [CM0031]
---
"""


def results() -> dict[str, CheckResult]:
    return {o.id: CheckResult(Status.PASS, "ok") for o in REPLAY.objectives if o.check}


def graded(text: str) -> ReportGrade:
    return grade_report(REPLAY, text, ALICE)


def scored(report: ReportGrade | None) -> ScoreReport:
    return score(REPLAY, results(), report, instance="i-1", student="alice", graded_at="t")


def missed_fragments() -> list[str]:
    """The missed weakness as a student could recognise it in any of the three files."""
    return [MISSED.title, MISSED.id, "restarts from zero", MISSED.cwe]


def test_score_files_of_a_student_who_found_one_of_two_name_only_that_one(
    tmp_path: Path,
) -> None:
    report = graded(ONE_OF_TWO)
    assert [m.weakness for m in report.matched] == [FOUND.id]
    written = write_score_files(scored(report), tmp_path)
    assert [p.name for p in written] == ["score.json", "score.md", "score.html"]
    for path in written:
        text = path.read_text("utf-8")
        for fragment in missed_fragments():
            assert fragment not in text, (path.name, fragment)
    data = json.loads((tmp_path / "score.json").read_text("utf-8"))
    assert [t["found"] for t in data["sparta"]] == [[FOUND.title]]
    assert all("weaknesses" not in t for t in data["sparta"])
    assert data["report"]["missed_count"] == 1
    assert "anti-replay disabled" in (tmp_path / "score.html").read_text("utf-8")


def test_views_rendered_from_the_full_score_are_the_students_too() -> None:
    full = scored(graded(ONE_OF_TWO))
    for text in (full.to_json(), render_markdown(full), render_html(full)):
        for fragment in missed_fragments():
            assert fragment not in text


def test_a_student_who_found_nothing_sees_no_weakness_title(tmp_path: Path) -> None:
    nothing = "---\nfindings:\n  - component: attacker\n    title: No toner in the printer\n---\n"
    for report in (graded(nothing), None):
        folder = tmp_path / ("none" if report is None else "nothing")
        for path in write_score_files(scored(report), folder):
            text = path.read_text("utf-8")
            for weakness in REPLAY.weaknesses:
                assert weakness.title not in text, path
                assert weakness.id not in text, path


def test_the_report_grades_student_view_and_feedback_name_no_weakness() -> None:
    report = graded(ONE_OF_TWO)
    shown = json.dumps(report.student_view())
    for weakness in REPLAY.weaknesses:
        assert weakness.title not in shown
        assert weakness.id not in shown
    assert "1 of 2 injected weaknesses are not in the report" in report.feedback


def test_the_instructor_record_names_every_weakness() -> None:
    full = scored(graded(ONE_OF_TWO))
    record = full.record(instructor=True)
    assert [t["weaknesses"] for t in record["sparta"]] == [[FOUND.title, MISSED.title]]
    assert [t["found"] for t in record["sparta"]] == [[FOUND.title]]
    assert MISSED.title in full.to_json(instructor=True)


def test_the_class_files_tell_the_instructor_what_each_student_missed() -> None:
    records = [
        StudentRecord("alice", score=scored(graded(ONE_OF_TWO))),
        StudentRecord("bob", score=scored(None)),
    ]
    summary = summarise(records, session="s1")
    data = json.loads(to_json(summary, records))
    alice, bob = data["students"]
    assert alice["weaknesses"] == {"found": [FOUND.title], "missed": [MISSED.title]}
    assert bob["weaknesses"] is None  # no report graded
    assert data["summary"]["weaknesses"] == [
        {"title": FOUND.title, "found": 1, "reports": 1},
        {"title": MISSED.title, "found": 0, "reports": 1},
    ]
    page = render_class_html(summary, records)
    assert MISSED.title in page
    assert 'id="weaknesses"' in page


def test_a_score_read_back_from_the_students_file_holds_no_ground_truth() -> None:
    full = scored(graded(ONE_OF_TWO))
    again = score_from_record(json.loads(full.to_json()))
    assert [t.found for t in again.sparta] == [(FOUND.title,)]
    assert [t.weaknesses for t in again.sparta] == [()]
    assert StudentRecord("alice", score=again).weaknesses is None
    # the instructor's record reads back whole
    whole = score_from_record(full.record(instructor=True))
    assert StudentRecord("alice", score=whole).weaknesses is not None
