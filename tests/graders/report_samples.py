"""Helpers for the report grader tests: the labs, students' secrets, sample reports."""

from __future__ import annotations

import re
from pathlib import Path

from labctl.spec import load_lab
from labctl.spec.models import Lab
from labctl.spec.params import derive

REPO = Path(__file__).resolve().parents[2]
REPORTS = Path(__file__).resolve().parent / "reports"
SEED = "golden-seed"
REPLAY = load_lab(REPO / "labs" / "tc-replay").spec
EXAMPLE = load_lab(REPO / "docs" / "examples" / "example-lab").spec
_PLACEHOLDER = re.compile(rb"\{\{(\w+)(\|spaced)?\}\}")


def secrets(student: str, lab: Lab = REPLAY) -> dict[str, str]:
    return derive(lab, student, SEED).secrets()


def fill(data: bytes, values: dict[str, str]) -> bytes:
    """Replace ``{{name}}`` by the value, ``{{name|spaced}}`` by hex bytes with spaces."""

    def value(match: re.Match[bytes]) -> bytes:
        text = values[match[1].decode()]
        if match[2]:
            text = " ".join(text[i : i + 2] for i in range(0, len(text), 2))
        return text.encode()

    return _PLACEHOLDER.sub(value, data)


def sample(name: str, student: str = "alice") -> bytes:
    """A sample report with ``student``'s secrets filled in."""
    return fill((REPORTS / name).read_bytes(), secrets(student))
