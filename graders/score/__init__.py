"""Score reports: the record of one graded instance (JSON) and its Markdown and HTML views.

See ``docs/report-grading.md`` ("Score reports").
"""

from graders.score.model import (
    SCHEMA_VERSION,
    Coverage,
    ObjectiveScore,
    ScoreReport,
    TechniqueCoverage,
    Verdict,
    gate,
    judge_objective,
    score,
    self_check,
)
from graders.score.render import render_html, render_markdown

__all__ = [
    "SCHEMA_VERSION",
    "Coverage",
    "ObjectiveScore",
    "ScoreReport",
    "TechniqueCoverage",
    "Verdict",
    "gate",
    "judge_objective",
    "render_html",
    "render_markdown",
    "score",
    "self_check",
]
