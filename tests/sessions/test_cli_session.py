"""`labctl session …` in-process on the in-memory backend, through the real root app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from instance_fakes import MemoryBackend
from typer.testing import CliRunner, Result

from labctl.cli.app import app

REPO = Path(__file__).resolve().parents[2]
Invoke = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, memory_backend: MemoryBackend) -> Invoke:
    runner = CliRunner()
    env = {
        "LABCTL_BACKEND": "memory",
        "LABCTL_HOME": str(tmp_path / "home"),
        "LABCTL_LABS_DIR": str(REPO / "labs"),
        "COLUMNS": "250",
    }

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_a_class_from_roster_to_stop(run: Invoke, tmp_path: Path) -> None:
    roster = str(REPO / "docs/examples/roster.csv")
    result = run("session", "start", "tc-replay", "--roster", roster, "--parallel", "3")
    assert result.exit_code == 0, result.output
    assert "session roster: 5 started, 0 kept running, 0 repaired, 0 failed" in result.stdout
    listed = run("session", "list")
    assert "roster" in listed.stdout
    assert "5/5" in listed.stdout
    status = run("session", "status")
    assert status.exit_code == 0, status.output
    for student in ("ana.lima", "bo.chen", "chidi.okafor", "dana.weiss", "emil.novak"):
        assert student in status.stdout
    assert "running" in status.stdout
    assert "ssh -p" in status.stdout
    reset = run("session", "reset", "roster", "bo.chen")
    assert reset.exit_code == 0, reset.output
    assert "fresh instance tc-replay-roster-bo-chen" in reset.stdout
    handout = run("session", "handout", "roster", "-o", str(tmp_path / "ho"))
    assert handout.exit_code == 0, handout.output
    assert len(list((tmp_path / "ho").glob("*.md"))) == 5
    sheet = (tmp_path / "ho" / "bo-chen.md").read_text(encoding="utf-8")
    assert "the class portal" in sheet  # the portal's address and login, no port
    assert "`bo.chen`" in sheet
    assert "ssh -p" not in sheet.split("\n---\n")[0]
    given = run(
        "session",
        "handout",
        "roster",
        "-o",
        str(tmp_path / "p"),
        "--portal",
        "https://lab.example.edu:8443/",
    )
    assert given.exit_code == 0, given.output
    assert "https://lab.example.edu:8443/" in (tmp_path / "p" / "bo-chen.md").read_text()
    ported = run("session", "handout", "roster", "-o", str(tmp_path / "ports"), "--ports")
    assert ported.exit_code == 0, ported.output
    assert "ssh -p" in (tmp_path / "ports" / "bo-chen.md").read_text()
    bad = run("session", "handout", "roster", "--portal", "lab.example.edu")
    assert bad.exit_code == 2
    assert "give the URL labctl serve prints" in bad.output
    stopped = run("session", "stop", "roster")
    assert stopped.exit_code == 0, stopped.output
    assert "5 instance(s)" in stopped.stdout
    assert MemoryBackend.engines == {}
    assert "no session" in run("session", "list").stdout


def test_errors_are_one_line(run: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,name,email\nana,Ana,ana@x.org\nana,Ana 2,a2@x.org\n")
    result = run("session", "start", "tc-replay", "--roster", str(bad))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {bad}:3: duplicate student id 'ana' (already on line 2)"
    ]
    missing = run("session", "status", "nope")
    assert missing.exit_code == 3
    assert "no session named 'nope'" in missing.output
    assert "Traceback" not in missing.output


def test_status_shows_the_seed_only_when_asked(run: Invoke, tmp_path: Path) -> None:
    """The status is projected in class; with the seed and the lab, anyone could derive
    every student's secrets."""
    from labctl.instances import InstanceStore
    from labctl.sessions.store import SessionStore

    roster = str(REPO / "docs/examples/roster.csv")
    assert run("session", "start", "tc-replay", "--roster", roster).exit_code == 0
    seed = str(SessionStore(InstanceStore(tmp_path / "home" / "labctl.db")).all()[0].seed)
    shown = run("session", "status")
    assert shown.exit_code == 0, shown.output
    assert "seed" not in shown.output
    assert seed not in shown.output
    asked = run("session", "status", "--show-seed")
    assert asked.exit_code == 0, asked.output
    assert f"seed {seed}" in asked.output
