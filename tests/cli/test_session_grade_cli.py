"""``labctl session grade`` and ``labctl session export`` on fake sessions and checks."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graders.checks.base import CheckResult, Status
from graders.live import classgrade
from graders.live.grade import GradeTarget
from labctl.cli import session as session_cli
from labctl.cli.app import app
from labctl.errors import NotFoundError
from labctl.sessions import Member
from labctl.spec import LoadedLab

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "labs" / "tc-replay" / "solution" / "sample-report.md"
runner = CliRunner()


@dataclass
class Record:
    lab: str = "tc-replay"


class FakeSessions:
    def __init__(self) -> None:
        self.rows = [
            Member("ada", "Ada", "ada@x.org", "", 0, "tc-replay-s1-ada", 7, "running", "", "ada"),
            Member("=bob", "Bob", "bob@x.org", "", 1, "tc-replay-s1-bob", 7, "failed", "no", "bob"),
        ]

    def get(self, name: str) -> Record:
        if name != "s1":
            raise NotFoundError("session", name, hint="known sessions: s1")
        return Record()

    def members(self, name: str) -> list[Member]:
        return self.rows

    def target(self, member: Member, loaded: LoadedLab) -> GradeTarget:
        if member.status != "running":
            raise NotFoundError("instance", member.instance)
        return GradeTarget(member.instance, member.unit, member.seed, "http://x", {})


def passing(backend: Any, loaded: LoadedLab, target: GradeTarget) -> dict[str, CheckResult]:
    return {o.id: CheckResult(Status.PASS, "ok") for o in loaded.spec.objectives if o.check}


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    real = classgrade.grade_class

    def grade_class(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **kwargs, checks=passing)

    monkeypatch.setattr(session_cli, "_sessions", FakeSessions)
    monkeypatch.setattr(session_cli, "_backend", object)
    monkeypatch.setattr(session_cli, "grade_class", grade_class)


@pytest.mark.usefixtures("fakes")
def test_grade_then_export(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "ada.md").write_bytes(SAMPLE.read_bytes())
    out = tmp_path / "grades"
    done = runner.invoke(app, ["session", "grade", "s1", "-r", str(reports), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "1 of 2 graded" in done.output
    assert "not graded: no running instance (failed: no)" in done.output
    assert (out / "class.html").is_file()
    assert (out / "students" / "ada" / "score.html").is_file()

    exported = runner.invoke(app, ["session", "export", "s1", "--grades", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert [r[0] for r in rows[1:]] == ["ada", "'=bob"]

    target = tmp_path / "class.json"
    args = ["session", "export", "s1", "-g", str(out), "-f", "json", "-o", str(target)]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads(target.read_text())["students"][0]["id"] == "ada"

    bad = runner.invoke(app, ["session", "export", "s1", "-g", str(out), "-f", "xls"])
    assert bad.exit_code != 0
    assert "--format 'xls'" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.usefixtures("fakes")
def test_export_without_grades_says_what_to_do(tmp_path: Path) -> None:
    done = runner.invoke(app, ["session", "export", "s1", "-g", str(tmp_path / "none")])
    assert done.exit_code != 0
    assert "grade the session first" in done.output
