"""Audit reports: the skeleton students fill in, and the grader that scores it.

A report is Markdown with YAML front matter (structured findings) and prose
sections. :func:`grade_report` matches its findings to the weaknesses the lab
injected and scores it with the lab's rubric; hostile or broken reports are
graded too, with feedback, never an exception. See ``docs/report-grading.md``.
"""

from graders.report.evidence import CheatingFlag
from graders.report.grade import grade_parsed, grade_report
from graders.report.model import Finding, Report, Risk, Section
from graders.report.parse import MAX_REPORT_BYTES, parse_report, read_report_file
from graders.report.result import (
    EvidenceHit,
    MatchedFinding,
    PartScore,
    ReportGrade,
    SectionScore,
)
from graders.report.template import render_template

__all__ = [
    "MAX_REPORT_BYTES",
    "CheatingFlag",
    "EvidenceHit",
    "Finding",
    "MatchedFinding",
    "PartScore",
    "Report",
    "ReportGrade",
    "Risk",
    "Section",
    "SectionScore",
    "grade_parsed",
    "grade_report",
    "parse_report",
    "read_report_file",
    "render_template",
]
