"""The score files a grading run writes: three views of one score, whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graders.checks.base import CheckResult, Status
from graders.score import score
from graders.score.files import write_score_files, write_text
from labctl.errors import LabctlError
from labctl.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
LOADED = load_lab(REPO / "labs" / "tc-replay")


def test_the_three_score_files_hold_the_same_score(tmp_path: Path) -> None:
    results = {o.id: CheckResult(Status.PASS, "ok") for o in LOADED.spec.objectives if o.check}
    report = score(LOADED.spec, results, None, instance="i", student="ada", graded_at="t")
    folder = tmp_path / "scores" / "i"
    written = write_score_files(report, folder)
    assert [p.name for p in written] == ["score.json", "score.md", "score.html"]
    assert json.loads((folder / "score.json").read_text("utf-8"))["points"] == report.points
    assert "ada" in (folder / "score.md").read_text("utf-8")
    assert (folder / "score.html").read_text("utf-8").lstrip().startswith("<!")
    assert sorted(p.name for p in folder.iterdir()) == ["score.html", "score.json", "score.md"]


def test_a_failed_write_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "grades.csv"
    write_text(target, "old\n")
    (tmp_path / ".grades.csv.partial").mkdir()  # the partial file cannot be written
    with pytest.raises(LabctlError, match=r"cannot write .*grades\.csv"):
        write_text(target, "new\n")
    assert target.read_text("utf-8") == "old\n"
