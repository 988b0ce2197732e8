"""Class reports: a session's grades summarised, exported (CSV, JSON) and drawn (HTML).

Pure: built from the students' score records and cheating flags. See
``docs/report-grading.md`` ("Class reports").
"""

from graders.classreport.export import SCHEMA_VERSION, safe_cell, to_csv, to_json, to_record
from graders.classreport.model import (
    CheatingSignal,
    ClassSummary,
    ObjectiveSummary,
    StudentRecord,
    WeaknessCoverage,
    WeaknessSummary,
    flags_from_instructor_view,
    histogram,
    score_from_record,
    summarise,
    weakness_coverage,
)
from graders.classreport.render import render_class_html

__all__ = [
    "SCHEMA_VERSION",
    "CheatingSignal",
    "ClassSummary",
    "ObjectiveSummary",
    "StudentRecord",
    "WeaknessCoverage",
    "WeaknessSummary",
    "flags_from_instructor_view",
    "histogram",
    "render_class_html",
    "safe_cell",
    "score_from_record",
    "summarise",
    "to_csv",
    "to_json",
    "to_record",
    "weakness_coverage",
]
