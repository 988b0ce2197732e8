"""The class report: one self-contained HTML page with charts drawn as inline SVG.

Python computes every chart's geometry (:class:`Bar`, :class:`Cell`); the Jinja2
template only places the shapes, autoescaped, so names, titles and evidence that
students control can never become markup. No script, inline CSS, a
Content-Security-Policy that forbids scripts anyway. Links to the students' own score
reports are relative paths, percent-encoded (no scheme can survive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import jinja2

from graders.classreport.model import ClassSummary, StudentRecord
from labctl.spec.coverage import CISSP_DOMAINS

_ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("graders.classreport", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

LABEL_CHARS: Final = 38
#: Histogram and bar-chart geometry (SVG user units).
PLOT_W: Final = 480
PLOT_H: Final = 160
MARGIN: Final = 34
ROW_H: Final = 24
LABEL_W: Final = 250
CELL_W: Final = 44
CELL_H: Final = 20
NAME_W: Final = 170


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    title: str
    data: str  # the number the bar stands for, for readers and tests


@dataclass(frozen=True)
class Cell:
    x: float
    y: float
    fill: str
    text: str
    title: str
    data: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    bars: tuple[Bar, ...] = ()
    cells: tuple[Cell, ...] = ()
    columns: tuple[Bar, ...] = ()  # heat map column headers
    rows: tuple[Bar, ...] = ()  # heat map row labels


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def histogram_chart(summary: ClassSummary) -> Chart:
    top = max((b.count for b in summary.histogram), default=0) or 1
    step = PLOT_W / max(len(summary.histogram), 1)
    bars = []
    for i, b in enumerate(summary.histogram):
        height = PLOT_H * b.count / top
        bars.append(
            Bar(
                x=MARGIN + i * step + 2,
                y=MARGIN + PLOT_H - height,
                width=step - 4,
                height=height,
                label=f"{b.low}",
                value=str(b.count),
                title=f"{b.count} student(s) scored {b.label} %",
                data=str(b.count),
            )
        )
    return Chart(MARGIN * 2 + PLOT_W, PLOT_H + MARGIN * 2, bars=tuple(bars))


def objective_chart(summary: ClassSummary) -> Chart:
    width = 300
    bars = []
    for i, o in enumerate(summary.objectives):
        bars.append(
            Bar(
                x=LABEL_W,
                y=i * ROW_H + 4,
                width=width * o.pass_rate,
                height=ROW_H - 8,
                label=_short(o.title),
                value=f"{o.earned}/{o.graded} ({o.pass_rate * 100:.0f} %)",
                title=f"{o.title} ({o.kind}, {o.points_possible} points): earned by "
                f"{o.earned} of {o.graded}",
                data=f"{o.pass_rate:.4f}",
            )
        )
    return Chart(LABEL_W + width + 120, max(len(bars), 1) * ROW_H, bars=tuple(bars))


def heat_colour(fraction: float | None) -> str:
    """Grey where the domain is not practised; red (0) through amber to green (1)."""
    if fraction is None:
        return "#eaeef2"
    low, mid, high = (207, 34, 46), (212, 167, 44), (45, 164, 78)
    f = min(max(fraction, 0.0), 1.0)
    a, b, t = (low, mid, f * 2) if f < 0.5 else (mid, high, (f - 0.5) * 2)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def heat_chart(summary: ClassSummary, records: Sequence[StudentRecord]) -> Chart:
    columns = tuple(
        Bar(NAME_W + j * CELL_W, 0, CELL_W, CELL_H, str(d), "", CISSP_DOMAINS[d], str(d))
        for j, d in enumerate(summary.domains)
    )
    rows, cells = [], []
    for i, r in enumerate(records):
        y = (i + 1) * CELL_H
        rows.append(Bar(0, y, NAME_W, CELL_H, _short(r.id, 24), "", r.name or r.id, r.id))
        for j, d in enumerate(summary.domains):
            c = summary.cell(r.id, d)
            fraction = c.fraction if c is not None else None
            text = "" if fraction is None else f"{fraction * 100:.0f}"
            title = (
                f"{r.id}: CISSP {d} not practised"
                if fraction is None
                else f"{r.id}: CISSP {d} ({CISSP_DOMAINS[d]}) {fraction * 100:.0f} %"
            )
            data = "" if fraction is None else f"{fraction:.4f}"
            cells.append(Cell(NAME_W + j * CELL_W, y, heat_colour(fraction), text, title, data))
    width = NAME_W + CELL_W * len(summary.domains)
    return Chart(
        width, (len(records) + 1) * CELL_H, cells=tuple(cells), columns=columns, rows=tuple(rows)
    )


def minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def solve_chart(summary: ClassSummary) -> Chart:
    width = 300
    longest = max((s for _, s in summary.solve_times), default=0.0) or 1.0
    bars = tuple(
        Bar(
            x=NAME_W,
            y=i * ROW_H + 4,
            width=width * seconds / longest,
            height=ROW_H - 8,
            label=_short(student, 24),
            value=minutes(seconds),
            title=f"{student}: {minutes(seconds)} (min:s) to solve",
            data=f"{seconds:g}",
        )
        for i, (student, seconds) in enumerate(summary.solve_times)
    )
    return Chart(NAME_W + width + 80, max(len(bars), 1) * ROW_H, bars=bars)


def score_href(link: str | None) -> str | None:
    """A relative link (``./``), percent-encoded: ``javascript:`` or ``//host`` cannot
    survive."""
    if not link:
        return None
    return "./" + quote(link.lstrip("/"), safe="/._-~")


def render_class_html(summary: ClassSummary, records: Sequence[StudentRecord]) -> str:
    context: dict[str, Any] = {
        "s": summary,
        "records": records,
        "histogram": histogram_chart(summary),
        "objectives": objective_chart(summary),
        "heat": heat_chart(summary, records),
        "solve": solve_chart(summary),
        "href": score_href,
        "minutes": minutes,
        "cissp": CISSP_DOMAINS,
    }
    return _ENV.get_template("class.html").render(context)
