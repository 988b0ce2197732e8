"""Bad command-line input, command by command: every integer is bounded to what the core
can use, every name or id must say something. Each case exits with a usage status and
one line that names the option and what to give, never a traceback and never a
silent substitute (an empty --student is not the Unix user name)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

# --import-mode=importlib puts no test directory on sys.path; the fake lives in tests/instances.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instances"))

from instance_fakes import MemoryBackend

from labctl.cli.app import app

REPO = Path(__file__).resolve().parents[2]
ROSTER = str(REPO / "docs" / "examples" / "roster.csv")
REPORT = str(REPO / "README.md")
HUGE = "99999999999999999999999"
USAGE = 2
GRADE = ["report", "grade", "tc-replay", REPORT, "--student", "a", "--seed", "1"]

#: (arguments, what the one line must contain)
CASES: list[tuple[list[str], str]] = [
    (["up", "tc-replay", "--student", "ana", "--seed", HUGE], "--seed"),
    (["up", "tc-replay", "--student", "ana", "--seed", str(2**63)], "--seed"),
    (["up", "tc-replay", "--student", "ana", "--seed", "-1"], "--seed"),
    (["up", "tc-replay", "--student", ""], "--student"),
    (["up", "tc-replay", "--student", "   "], "--student"),
    (["up", "tc-replay", "--student", "!!!"], "student"),
    (["up", "", "--student", "ana"], "LAB"),
    (["up", "tc-replay", "--student", "a" * 60], "shorter student name"),
    (["images", "build", "--arch", "riscv64"], "'amd64', 'arm64'"),
    (["images", "save", ""], "PATH"),
    (["images", "load", " "], "PATH"),
    (["--labs-dir", "", "labs", "list"], "--labs-dir"),
    (["down", ""], "INSTANCE"),
    (["down", " "], "INSTANCE"),
    (["status", ""], "INSTANCE"),
    (["logs", "tc-replay-ana", "attacker", "-n", "0"], "--tail"),
    (["logs", "tc-replay-ana", "attacker", "--tail", HUGE], "--tail"),
    (["logs", "", "attacker"], "INSTANCE"),
    (["logs", "tc-replay-ana", ""], "HOST"),
    (["shell", ""], "INSTANCE"),
    (["shell", "tc-replay-ana", " "], "HOST"),
    (["briefing", ""], "INSTANCE"),
    (["grade", ""], "INSTANCE"),
    (["check", ""], "INSTANCE"),
    (["solve", ""], "INSTANCE"),
    (["adversary", "log", ""], "INSTANCE"),
    (["selftest", "tc-replay", "--seeds", "0"], "--seeds"),
    (["selftest", "tc-replay", "--seeds", HUGE], "--seeds"),
    (["labs", "show", ""], "ID"),
    (["report", "template", " "], "LAB"),
    (["report", "grade", "tc-replay", REPORT, "--student", "", "--seed", "1"], "--student"),
    (["report", "grade", "tc-replay", REPORT, "--student", "ana", "--seed", " "], "--seed"),
    ([*GRADE, "--slot", "-1"], "--slot"),
    ([*GRADE, "--slot", HUGE], "--slot"),
    ([*GRADE, "--peer", ""], "--peer"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--teams", "0"], "--teams"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--teams", HUGE], "--teams"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--parallel", "0"], "--parallel"),
    (["session", "start", "tc-replay", "-r", ROSTER, "-j", HUGE], "--parallel"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--name", ""], "--name"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--name", "  "], "--name"),
    (["session", "start", "tc-replay", "-r", ""], "--roster"),
    (["session", "status", ""], "SESSION"),
    (["session", "reset", "", "ana"], "SESSION"),
    (["session", "reset", "roster", ""], "STUDENT"),
    (["session", "shell", "roster", " "], "STUDENT"),
    (["session", "stop", ""], "SESSION"),
    (["session", "handout", ""], "SESSION"),
    (["session", "handout", "roster", "-o", ""], "--output"),
    (["session", "grade", ""], "SESSION"),
    (["session", "grade", "roster", "-j", "0"], "--parallel"),
    (["session", "grade", "roster", "-j", HUGE], "--parallel"),
    (["session", "grade", "roster", "-j", "65"], "--parallel"),
    (["session", "start", "tc-replay", "-r", ROSTER, "-j", "17"], "--parallel"),
    (["session", "export", ""], "SESSION"),
    (["session", "export", "roster", "-f", ""], "--format"),
    (["up", "tc-replay", "--student", "ana", "--lifetime", "4x"], "--lifetime"),
    (["up", "tc-replay", "--student", "ana", "--lifetime", "9d"], "--lifetime"),
    (["up", "tc-replay", "--student", "ana", "--idle-stop", ""], "--idle-stop"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--lifetime", "-1h"], "--lifetime"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--max-running", "-1"], "--max-running"),
    (["session", "start", "tc-replay", "-r", ROSTER, "--per-student", HUGE], "--per-student"),
    (["session", "renew", "roster", "--for", "soon"], "--for"),
    (["session", "renew", ""], "SESSION"),
    (["renew", ""], "INSTANCE"),
    (["renew", "tc-replay-ana", "--for", "1y"], "--for"),
    (["suspend", " "], "INSTANCE"),
    (["resume", ""], "INSTANCE"),
]


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[CliRunner]:
    MemoryBackend.engines.clear()
    yield CliRunner(
        env={
            "LABCTL_BACKEND": "memory",
            "LABCTL_HOME": str(tmp_path / "home"),
            "LABCTL_LABS_DIR": str(REPO / "labs"),
            "COLUMNS": "80",
        }
    )
    MemoryBackend.engines.clear()


@pytest.mark.parametrize(("args", "names"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_usage_line(
    runner: CliRunner, tmp_path: Path, args: list[str], names: str
) -> None:
    result = runner.invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == USAGE, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    assert names in lines[0], result.output
    assert MemoryBackend.engines == {}, "nothing may be created on bad input"
    assert not (tmp_path / "home" / "labctl.db").exists() or args[0] != "up"


def test_a_cap_from_the_environment_must_be_a_number(runner: CliRunner) -> None:
    result = runner.invoke(app, ["gc"], env={"LABCTL_MAX_RUNNING": "many"})
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "error: LABCTL_MAX_RUNNING='many': give a whole number of instances, 0 for no cap"
    ]


def test_leases_of_instances_that_cannot_have_them_are_one_line_errors(runner: CliRunner) -> None:
    assert runner.invoke(app, ["up", "tc-replay", "--student", "ana"]).exit_code == 0
    for args, wanted in [
        (["renew", "tc-replay-ana"], "has no lifetime to renew"),
        (["resume", "tc-replay-ana"], "only a stopped one starts again"),
        (["renew", "tc-replay-bob"], "no instance named 'tc-replay-bob'"),
    ]:
        result = runner.invoke(app, args)
        lines = result.output.strip().splitlines()
        assert result.exit_code != 0, result.output
        assert len(lines) == 1, result.output
        assert wanted in lines[0], result.output


def test_the_largest_seed_is_used_as_given(runner: CliRunner) -> None:
    result = runner.invoke(app, ["up", "tc-replay", "--student", "ana", "--seed", str(2**63 - 1)])
    assert result.exit_code == 0, result.output
    assert "tc-replay-ana is up" in result.stdout


def test_usage_errors_of_subcommands_are_one_line_with_where_to_look(runner: CliRunner) -> None:
    result = runner.invoke(app, ["logs", "x"])
    assert result.exit_code == USAGE
    assert result.output.strip().splitlines() == [
        "error: Missing argument 'HOST'. (see: labctl logs -h)"
    ]
