"""docs/report-grading.md states the grader's numbers and table; keep them in step."""

from __future__ import annotations

import pytest
from report_samples import REPO

from graders.report import ReportGrade, grade, matching, substance
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


def code_example() -> str:
    """The Python block under "In code" of the instructor section."""
    after = DOC.split("In code (", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_code_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {}
    exec(compile(code_example(), "docs/report-grading.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, ReportGrade)
    assert result.points == 17.0  # the sample quotes no student's secret: no evidence part
    assert capsys.readouterr().out.startswith("17.0 1.0 {")


def test_the_substantiation_rule_and_numbers_are_the_codes() -> None:
    assert substance.MIN_DESCRIPTION_WORDS == 12
    assert "at least **12 different words that are not in its title**" in DOC
    assert substance.MIN_KEYWORD_LETTERS == 5
    assert "its words of 5 letters or more" in DOC
    assert substance.UNSUBSTANTIATED_CREDIT == 0.25
    assert "**a quarter of its findings credit, and no severity" in DOC
    assert grade.MIN_EVIDENCE_WORDS == 10
    assert "(in a lab without secrets: 10 words of evidence or more)" in DOC
