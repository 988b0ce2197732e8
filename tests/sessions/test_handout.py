"""Handouts from a hostile roster: the names are the roster author's text, written into
Markdown (which renders HTML), so they must come out as the text they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from instance_fakes import MemoryBackend
from markdown_it import MarkdownIt

from labctl.instances import InstanceStore
from labctl.sessions import Sessions, parse_roster
from labctl.sessions.handout import markdown_text
from labctl.spec import LoadedLab

HOSTILE = [
    "<script>alert(1)</script>",
    "[click me](http://attacker.example/) ![x](http://attacker.example/p.png)",
    "`rm -rf ~` and ``two``",
    "Ana | Lima | <b>x</b>",
    "**bold** _em_ # not a heading \\ <http://auto.example/>",
    "&lt;script&gt; is <img src=x onerror=alert(1)>",
]


def _csv(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@pytest.fixture
def sheets(
    store: InstanceStore, replay_lab: LoadedLab, memory_backend: MemoryBackend, tmp_path: Path
) -> list[str]:
    rows = [f"h{i},{_csv(name)},h{i}@example.edu" for i, name in enumerate(HOSTILE)]
    roster = parse_roster(("id,name,email\n" + "\n".join(rows) + "\n").encode())
    sessions = Sessions(memory_backend, store)
    sessions.start(replay_lab, roster, name="evil")
    paths, skipped = sessions.handout("evil", replay_lab, tmp_path / "out")
    assert skipped == {}
    return [p.read_text(encoding="utf-8") for p in paths]


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_hostile_names_render_as_their_own_text(sheets: list[str]) -> None:
    for name, sheet in zip(HOSTILE, sheets, strict=True):
        header = sheet.split("\n---\n")[0]  # the sheet; the lab's briefing follows
        html = _html(header)
        assert "<script" not in html
        assert "<img" not in html
        assert "<a " not in html
        assert "<b>" not in html
        assert "<strong>" not in html
        assert "<em>" not in html
        assert "<code>rm" not in html
        heading = html.split("</h1>")[0]
        assert _html(name).count("<p>") <= 1
        assert _unescaped(heading).startswith("<h1>"), heading
        assert name in _unescaped(heading), (name, heading)


def test_pipes_in_a_name_do_not_split_the_table(sheets: list[str]) -> None:
    html = _html(sheets[HOSTILE.index("Ana | Lima | <b>x</b>")].split("\n---\n")[0])
    rows = html.split("<tr>")[1:]
    assert rows
    for row in rows:
        assert row.count("<td>") + row.count("<th>") == 2, row
    assert "Ana | Lima | &lt;b&gt;x&lt;/b&gt;" in html


def test_markdown_text_escapes_what_markdown_and_html_would_act_on() -> None:
    assert markdown_text("<a>") == "&lt;a&gt;"
    assert markdown_text("a|b") == "a\\|b"
    assert markdown_text("[x](y)") == "\\[x\\]\\(y\\)"
    assert markdown_text("Ana Lima") == "Ana Lima"


def _unescaped(html: str) -> str:
    import html as html_module

    return html_module.unescape(html)
