"""Golden tests: sample reports under reports/ and the grade each must get.

Every expected file was written out once and then checked by hand against the
rubric (docs/report-grading.md). A change in grading shows up here as a diff
to review, never as a silent shift in students' points.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from report_samples import REPLAY, REPORTS, sample, secrets

from graders.report import MAX_REPORT_BYTES, grade_report


def _huge() -> bytes:
    padding = b"\n## Appendix\n\n" + b"telemetry frame dump follows here\n" * 40_000
    assert len(padding) > MAX_REPORT_BYTES
    return sample("good.md") + padding


#: case name -> the report bytes, graded as alice's with bob as her classmate.
CASES: dict[str, Callable[[], bytes]] = {
    "good": lambda: sample("good.md"),
    "partial": lambda: sample("partial.md"),
    "hostile": lambda: sample("hostile.md"),
    "broken-yaml": lambda: sample("broken-yaml.md"),
    "no-front-matter": lambda: sample("no-front-matter.md"),
    "yaml-bomb": lambda: sample("yaml-bomb.md"),
    "invalid-utf8": lambda: sample("invalid-utf8.bytes"),  # not .md: ruff formats Markdown
    "huge": _huge,
    "copied": lambda: sample("good.md", student="bob"),  # bob's report, handed in by alice
    "stuffed": lambda: sample("stuffed.md"),  # copied titles and ids, nothing substantiated
}


def expected_file(case: str) -> Path:
    return REPORTS / f"{case}.expected.json"


def grade(case: str) -> dict[str, object]:
    result = grade_report(REPLAY, CASES[case](), secrets("alice"), {"bob": secrets("bob")})
    return result.instructor_view()


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_grades_as_recorded(case: str) -> None:
    expected = json.loads(expected_file(case).read_text(encoding="utf-8"))
    assert json.loads(json.dumps(grade(case))) == expected


def test_every_expected_file_has_a_case() -> None:
    recorded = {p.name.removesuffix(".expected.json") for p in REPORTS.glob("*.expected.json")}
    assert recorded == set(CASES)


def test_the_good_report_earns_every_point() -> None:
    result = grade("good")
    assert result["points"] == result["points_possible"] == 20


def test_ordering_of_reports_by_quality() -> None:
    cases = ("good", "partial", "hostile", "copied", "stuffed")
    points = {case: grade(case)["points"] for case in cases}
    assert points["good"] > points["copied"] > points["partial"] > points["stuffed"]
    assert points["stuffed"] > points["hostile"] == 0


def test_the_stuffed_report_matches_everything_and_earns_at_most_a_fifth() -> None:
    result = grade_report(REPLAY, CASES["stuffed"](), secrets("alice"))
    assert result.missed == ()
    assert all(m.substantiated_by == () for m in result.matched)
    assert result.points <= 0.2 * result.points_possible
