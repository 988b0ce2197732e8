"""``labctl session grade`` and ``labctl session export`` on fake sessions and checks."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from cli_env import Run, environment, invoke

from graders.checks.base import CheckResult, Status
from graders.live.target import GradeTarget
from labctl.backends.base import Backend
from labctl.cli.context import Environment
from labctl.core.api import Core
from labctl.core.sessions import SessionsApi
from labctl.core.settings import Settings
from labctl.errors import NotFoundError
from labctl.instances import InstanceStore
from labctl.sessions import Member, Sessions
from labctl.spec import LoadedLab

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "labs" / "tc-replay" / "solution" / "sample-report.md"


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
def env(tmp_path: Path) -> Environment:
    """The CLI on a core whose sessions are fakes and whose checks all pass."""

    def core(settings: Settings) -> Core:
        made = Core(
            Settings(REPO / "labs"),
            backend=cast(Backend, object()),
            store=InstanceStore(tmp_path / "state" / "labctl.db"),
        )
        sessions = SessionsApi(cast(Sessions, FakeSessions()), made.instances)
        sessions.checks = passing
        made.__dict__["sessions"] = sessions
        return made

    return environment(core)


def run(env: Environment, *args: str) -> Run:
    return invoke(env, "session", *args)


def test_grade_then_export(env: Environment, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "ada.md").write_bytes(SAMPLE.read_bytes())
    out = tmp_path / "grades"
    done = run(env, "grade", "s1", "-r", str(reports), "-o", str(out))
    assert done.exit_code == 0, done.output
    assert "1 of 2 graded" in done.output
    assert "not graded: no running instance (failed: no)" in done.output
    assert (out / "class.html").is_file()
    assert (out / "students" / "ada" / "score.html").is_file()

    exported = run(env, "export", "s1", "--grades", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(exported.out)))
    assert [r[0] for r in rows[1:]] == ["ada", "'=bob"]

    target = tmp_path / "class.json"
    args = ["export", "s1", "-g", str(out), "-f", "json", "-o", str(target)]
    assert run(env, *args).exit_code == 0
    assert json.loads(target.read_text())["students"][0]["id"] == "ada"

    bad = run(env, "export", "s1", "-g", str(out), "-f", "xls")
    assert bad.exit_code != 0
    assert "--format 'xls'" in bad.output
    assert "Traceback" not in bad.output


def test_export_without_grades_says_what_to_do(env: Environment, tmp_path: Path) -> None:
    done = run(env, "export", "s1", "-g", str(tmp_path / "none"))
    assert done.exit_code != 0
    assert "grade the session first" in done.output
