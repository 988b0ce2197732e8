"""A score report on disk: ``score.json`` (the record), ``score.md`` and ``score.html``.

The one place score files are written, for one instance (``labctl grade``) and for each
student of a class (``labctl session grade``). Each file is written whole or not at all.

The three files are the student's: they are handed out, so they hold the student's view
(:meth:`ScoreReport.student_view`), which names only the weaknesses the student's report
found, never the ones missed. The instructor's view of the ground truth is in the class
files (``grades.json``, ``class.html``) and ``labctl report grade --instructor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from graders.score.model import ScoreReport
from graders.score.render import render_html, render_markdown
from labctl.errors import LabctlError

SCORE_JSON: Final = "score.json"
SCORE_MARKDOWN: Final = "score.md"
SCORE_HTML: Final = "score.html"


def write_score_files(report: ScoreReport, folder: Path) -> list[Path]:
    """The record and its two views in ``folder`` (made if missing); the paths written."""
    student = report.student_view()
    views = {
        SCORE_JSON: student.to_json(),
        SCORE_MARKDOWN: render_markdown(student),
        SCORE_HTML: render_html(student),
    }
    written = []
    for name, text in views.items():
        write_text(folder / name, text)
        written.append(folder / name)
    return written


def write_text(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (a partial file, then a rename)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8", newline="")
        partial.replace(path)
    except OSError as exc:
        raise LabctlError(f"cannot write {path}: {exc.strerror or exc}") from None
