"""docs/report-grading.md states the grader's numbers and table; keep them in step."""

from __future__ import annotations

from report_samples import REPO

from graders.report import grade, matching
from graders.report.countermeasures import COUNTERMEASURES

DOC = (REPO / "docs" / "report-grading.md").read_text(encoding="utf-8")


def test_every_known_countermeasure_is_documented_with_its_name() -> None:
    for cm in COUNTERMEASURES.values():
        assert f"| {cm.id} | {cm.name} |" in DOC


def test_documented_thresholds_are_the_codes() -> None:
    assert grade.FALSE_FINDING_PENALTY == 0.25
    assert "minus 0.25" in DOC
    assert (grade.SEVERITY_FULL, grade.SEVERITY_HALF) == (1.0, 2.0)
    assert "within ±1.0 of the reference earns 1, within ±2.0 earns 0.5" in DOC
    assert grade.MIN_SECTION_WORDS == 30
    assert "at least 30 words (15 different" in DOC
    assert (matching.MATCH_MIN, matching.FULL_CREDIT_SCORE) == (2.0, 3.0)
    assert (matching.TITLE_FLOOR, matching.TITLE_FULL, matching.TITLE_DISTINCT) == (0.3, 0.7, 0.5)
