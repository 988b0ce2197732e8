"""Every lab's instructor notes plan the session (a timing table that ends at the lab's
duration), list the common mistakes and what the debrief should cover."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from labctl.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
LABS = sorted(p.parent for p in (REPO / "labs").glob("*/lab.yaml"))
EXAMPLE = REPO / "docs" / "examples" / "example-lab"


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.mark.parametrize("lab", [*LABS, EXAMPLE], ids=lambda p: p.name)
def test_the_notes_plan_the_time_name_the_mistakes_and_the_debrief(lab: Path) -> None:
    loaded = load_lab(lab)
    notes = loaded.root / (loaded.spec.instructor_notes or "instructor.md")
    found = sections(notes.read_text(encoding="utf-8"))
    assert {"Timing", "Common mistakes", "Debrief"} <= set(found), sorted(found)
    rows = re.findall(r"^\| (\d+)–(\d+) \|", found["Timing"], flags=re.MULTILINE)
    assert rows, "the timing table has rows like '| 0–10 | ... |'"
    spans = [(int(a), int(b)) for a, b in rows]
    assert spans[0][0] == 0
    assert all(b > a for a, b in spans)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(spans))
    assert spans[-1][1] * 60 == loaded.spec.duration, "the plan ends at the lab's duration"
    assert len(re.findall(r"^- ", found["Common mistakes"], flags=re.MULTILINE)) >= 2
    assert len(re.findall(r"^- ", found["Debrief"], flags=re.MULTILINE)) >= 3
