"""Class reports: the summary's figures, the CSV and JSON exports, the HTML page and its
charts, with hostile names and evidence; and the page in a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from graders.checks.base import CheckResult, Status
from graders.classreport import (
    StudentRecord,
    flags_from_instructor_view,
    histogram,
    render_class_html,
    safe_cell,
    score_from_record,
    summarise,
    to_csv,
    to_json,
)
from graders.classreport.render import heat_colour, score_href
from graders.report import CheatingFlag, grade_report
from graders.score import ScoreReport, score
from labctl.spec import load_lab
from labctl.spec.params import derive

REPO = Path(__file__).resolve().parents[2]
LAB = load_lab(REPO / "labs" / "tc-replay").spec
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
CHECKED = [o for o in LAB.objectives if o.check is not None]


def scored(student: str, failing: int = 0, report: Any = None) -> ScoreReport:
    """``student``'s record with the first ``failing`` checked objectives failing."""
    results = {
        o.id: CheckResult(Status.FAIL if i < failing else Status.PASS, f"saw {o.id}")
        for i, o in enumerate(CHECKED)
    }
    return score(LAB, results, report, instance=f"i-{student}", student=student, graded_at="t")


def klass() -> list[StudentRecord]:
    return [
        StudentRecord(
            "ada", "Ada L", "ada@example.org", "red", scored("ada"), (), 600.0, "s/ada/score.html"
        ),
        StudentRecord("bob", "Bob", "bob@example.org", "red", scored("bob", failing=len(CHECKED))),
        StudentRecord(
            "cy",
            "Cy",
            "cy@example.org",
            "blue",
            scored("cy", failing=1),
            (CheatingFlag("ada", "uplink_key", "finding 1"),),
            95.5,
        ),
        StudentRecord("dee", "Dee", "", "", None, note="grading failed: vantage did not start"),
    ]


def test_summary_figures() -> None:
    records = klass()
    s = summarise(records, session="s1")
    assert (s.students, s.graded, s.lab) == (4, 3, "tc-replay")
    possible = sum(o.points for o in LAB.objectives)
    practical = sum(o.points for o in CHECKED)
    assert s.points_possible == possible
    assert s.max_percent == 100 * practical / possible
    assert s.min_percent == 0.0
    assert sum(b.count for b in s.histogram) == 3
    assert s.histogram[0].count == 1
    first = s.objectives[0]
    assert first.graded == 3
    assert s.cheating[0].student == "cy"
    assert s.cheating[0].other_student == "ada"
    assert s.solve_times == (("cy", 95.5), ("ada", 600.0))
    report_objective = next(o for o in s.objectives if o.kind == "report")
    assert report_objective.earned == 0
    assert report_objective.pass_rate == 0


def test_pass_rate_counts_only_earned_objectives() -> None:
    s = summarise(klass(), session="s1")
    by_id = {o.id: o for o in s.objectives}
    # cy fails the first checked objective; ada passes everything; bob fails everything
    assert by_id[CHECKED[0].id].earned == 1
    assert by_id[CHECKED[-1].id].earned in (1, 2)  # gating may zero cy's last one
    assert by_id[CHECKED[0].id].pass_rate == 1 / 3


def test_histogram_bins_edges() -> None:
    bins = histogram([0, 9.99, 10, 55, 99.9, 100, 100])
    assert [b.count for b in bins] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 3]


def test_heat_map_blank_where_the_lab_does_not_practise_the_domain() -> None:
    s = summarise(klass(), session="s1")
    for d in range(1, 9):
        cell = s.cell("ada", d)
        assert cell is not None
        if d in LAB.cissp_domains:
            assert cell.fraction == s.max_percent / 100  # type: ignore[operator]
        else:
            assert cell.fraction is None
    dee = s.cell("dee", 4)
    assert dee is not None
    assert dee.fraction is None
    assert heat_colour(None) == "#eaeef2"
    assert heat_colour(0.0) == "#cf222e"
    assert heat_colour(1.0) == "#2da44e"


def test_csv_columns_rows_and_formula_escaping() -> None:
    records = klass()
    records[1] = StudentRecord("=cmd|'/c calc'!A1", "+SUM(A1)", "@evil", "-2+3", records[1].score)
    rows = list(csv.reader(io.StringIO(to_csv(records))))
    header = rows[0]
    objective_columns = [f"objective:{o.id}" for o in LAB.objectives]
    assert header == [
        "student_id", "name", "email", "team", "points", "points_possible", "percent",
        *objective_columns, "report_points", "cheating_flags", "quiz_right", "quiz_asked",
        "note",
    ]  # fmt: skip
    assert len(rows) == 5
    hostile = rows[2]
    assert hostile[:4] == ["'=cmd|'/c calc'!A1", "'+SUM(A1)", "'@evil", "'-2+3"]
    ada = dict(zip(header, rows[1], strict=True))
    assert ada["points"] == f"{records[0].score.points:g}"  # type: ignore[union-attr]
    assert ada[objective_columns[0]] == str(LAB.objectives[0].points)
    assert ada["report_points"] == ""
    assert ada["cheating_flags"] == "0"
    cy = dict(zip(header, rows[3], strict=True))
    assert cy["cheating_flags"] == "1"
    dee = dict(zip(header, rows[4], strict=True))
    assert dee["points"] == ""
    assert dee["note"].startswith("grading failed")
    assert safe_cell("\tx") == "'\tx"
    assert safe_cell("a=b") == "a=b"


def test_json_shape() -> None:
    records = klass()
    data = json.loads(to_json(summarise(records, session="s1"), records))
    assert data["schema_version"] == 1
    assert data["session"] == "s1"
    assert data["lab"] == {"id": "tc-replay", "title": LAB.title}
    assert [s["id"] for s in data["students"]] == ["ada", "bob", "cy", "dee"]
    ada, cy, dee = data["students"][0], data["students"][2], data["students"][3]
    assert set(ada["objectives"]) == {o.id for o in LAB.objectives}
    assert ada["score_report"] == "s/ada/score.html"
    assert ada["seconds_to_solve"] == 600.0
    assert cy["cheating"] == [
        {"other_student": "ada", "secret": "uplink_key", "where": "finding 1"}
    ]
    assert dee["graded"] is False
    assert dee["points"] is None
    assert sum(b["count"] for b in data["summary"]["histogram"]) == 3
    assert data["summary"]["cheating_signals"][0]["student"] == "cy"


def test_cheating_flags_from_a_real_report_grade() -> None:
    ada = derive(LAB, "ada", "seed-1").secrets()
    own = derive(LAB, "cy", "seed-1").secrets()
    copied = f"# Report\n\nThe key was {ada['uplink_key']}.\n"
    graded = grade_report(LAB, copied, own, {"ada": ada, "bob": derive(LAB, "bob", "x").secrets()})
    flags = flags_from_instructor_view(graded.instructor_view())
    assert [(f.other_student, f.secret) for f in flags] == [("ada", "uplink_key")]
    assert flags_from_instructor_view(None) == ()


def _hostile_records() -> list[StudentRecord]:
    results = {o.id: CheckResult(Status.PASS, HOSTILE) for o in CHECKED}
    s = score(LAB, results, None, instance="i", student=HOSTILE, graded_at="t")
    return [
        StudentRecord(
            HOSTILE,
            HOSTILE,
            HOSTILE,
            HOSTILE,
            s,
            (CheatingFlag(HOSTILE, HOSTILE, HOSTILE),),
            12.0,
            "javascript:alert(1)",
            HOSTILE,
        ),
        *klass(),
    ]


def test_html_escapes_hostile_names_and_evidence() -> None:
    records = _hostile_records()
    page = render_class_html(summarise(records, session=HOSTILE), records)
    assert "<script" not in page.lower()
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    assert 'href="javascript' not in page
    assert 'href="./javascript%3Aalert%281%29"' in page
    assert "Content-Security-Policy" in page
    assert "script-src" not in page
    assert score_href("//evil.example/x") == "./evil.example/x"
    assert score_href(None) is None


def test_html_chart_numbers() -> None:
    records = klass()
    s = summarise(records, session="s1")
    page = render_class_html(s, records)
    counts = [int(c) for c in re.findall(r'data-count="(\d+)"', page)]
    assert counts == [b.count for b in s.histogram]
    rates = [float(r) for r in re.findall(r'data-rate="([\d.]+)"', page)]
    assert rates == [round(o.pass_rate, 4) for o in s.objectives]
    assert page.count('class="cell"') == len(records) * 8
    seconds = re.findall(r'data-seconds="([\d.]+)"', page)
    assert seconds == ["95.5", "600"]
    assert page.count('href="./s/ada/score.html"') == 1
    # the tallest bar is the full plot height
    tallest = max(
        float(h)
        for h in re.findall(
            r'class="bar" data-count="\d+" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"',
            page,
        )
    )
    assert tallest == 160.0


def test_class_page_renders_in_chromium_and_runs_nothing(chromium: Any, tmp_path: Path) -> None:
    records = _hostile_records()
    page_file = tmp_path / "class.html"
    page_file.write_text(render_class_html(summarise(records, session="s1"), records), "utf-8")
    page = chromium.new_page()
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(page_file.as_uri())
    assert page.title().startswith("Class report")
    for chart in ("#histogram", "#objective-rates", "#domain-heat", "#solve-times"):
        box = page.locator(chart).bounding_box()
        assert box is not None, chart
        assert box["width"] > 100, chart
        assert box["height"] > 20, chart
    assert page.locator("#histogram rect.bar").count() == 10
    assert page.locator("#domain-heat rect.cell").count() == len(records) * 8
    assert page.locator("#students tbody tr").count() == len(records)
    assert HOSTILE in page.locator("#students").inner_text()
    assert HOSTILE in page.locator("#cheating").inner_text()
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert dialogs == []
    assert page.evaluate("document.title") != "pwned"


def test_a_score_record_reads_back_to_the_same_report() -> None:
    report = grade_report(LAB, (REPO / "labs/tc-replay/solution/sample-report.md").read_text(), {})
    original = scored("ada", failing=2, report=report)
    again = score_from_record(json.loads(original.to_json()))
    assert again == original.student_view()  # the student's file: no weakness they missed
    assert score_from_record(original.record(instructor=True)) == original
    broken = json.loads(original.to_json())
    del broken["objectives"]
    with pytest.raises(ValueError, match="no 'objectives'"):
        score_from_record(broken)
    with pytest.raises(ValueError, match="schema_version"):
        score_from_record({**original.record(), "schema_version": 99})


def test_a_version_1_score_record_still_reads() -> None:
    """Version 1 had ``sparta[].weaknesses`` (every title) and no ``found``."""
    report = grade_report(LAB, (REPO / "labs/tc-replay/solution/sample-report.md").read_text(), {})
    record = scored("ada", report=report).record(instructor=True)
    record["schema_version"] = 1
    for technique in record["sparta"]:
        del technique["found"]
    again = score_from_record(record)
    assert [t.weaknesses for t in again.sparta] == [tuple(w.title for w in LAB.weaknesses)]
    assert [t.found for t in again.sparta] == [()]
