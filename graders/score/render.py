"""Markdown and HTML views of a :class:`ScoreReport`, rendered with Jinja2.

The HTML is one self-contained file (inline CSS, no script, a Content-Security-Policy
that forbids scripts anyway) and autoescaped: evidence and report feedback may quote
what students wrote or what a host sent. The Markdown escapes the characters that
would change its structure.
"""

from __future__ import annotations

import re
from typing import Any, Final

import jinja2

from graders.score.model import ScoreReport

_MD_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")

_ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("graders.score", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _md(value: Any) -> str:
    """Text safe inside Markdown (and a table cell): structure characters escaped."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def _points(value: float) -> str:
    return f"{value:g}"


_ENV.filters["md"] = _md
_ENV.filters["points"] = _points


def _context(report: ScoreReport) -> dict[str, Any]:
    student = report.student_view()  # the views are the student's: no missed weakness titles
    return {"s": student, "r": student.report}


def render_markdown(report: ScoreReport) -> str:
    return _ENV.get_template("score.md.j2").render(_context(report))


def render_html(report: ScoreReport) -> str:
    return _ENV.get_template("score.html").render(_context(report))
