"""``labctl report`` in-process: template and grade, output, exit statuses, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from report_samples import REPO, SEED, sample
from typer.testing import CliRunner

from labctl.cli import report
from labctl.cli.app import LabctlGroup

LABS = REPO / "labs"


@pytest.fixture
def cli() -> typer.Typer:
    """The report commands mounted as labctl mounts them (app.add_typer(report.app, ...))."""
    app = typer.Typer(cls=LabctlGroup, pretty_exceptions_enable=False)
    app.add_typer(report.app, name="report")

    @app.callback()
    def root() -> None:
        """labctl"""

    return app


def run(cli: typer.Typer, *args: str) -> object:
    env = {"LABCTL_LABS_DIR": str(LABS), "COLUMNS": "200"}
    return CliRunner().invoke(cli, ["report", *args], env=env)


def test_template_to_stdout(cli: typer.Typer) -> None:
    result = run(cli, "template", "tc-replay")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("---\n# Audit report for the labctl lab")
    assert "## Executive summary" in result.stdout


def test_template_to_file_refuses_to_overwrite(cli: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    assert run(cli, "template", "tc-replay", "-o", str(target)).exit_code == 0
    target.write_text("my work", encoding="utf-8")
    result = run(cli, "template", "tc-replay", "-o", str(target))
    assert result.exit_code == 1
    assert "already exists; use --force" in result.stderr
    assert target.read_text(encoding="utf-8") == "my work"
    assert run(cli, "template", "tc-replay", "-o", str(target), "--force").exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("---")


def test_unknown_lab(cli: typer.Typer) -> None:
    result = run(cli, "template", "tc-replai")
    assert result.exit_code == 3
    assert "did you mean 'tc-replay'" in result.stderr


def write(tmp_path: Path, name: str, student: str = "alice") -> Path:
    path = tmp_path / name
    path.write_bytes(sample(name, student))
    return path


def test_grade_prints_a_summary(cli: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "partial.md")
    result = run(cli, "grade", "tc-replay", str(path), "--student", "alice", "--seed", SEED)
    assert result.exit_code == 0, result.output
    assert "6.6 / 20 points" in result.stdout
    assert "1 injected weakness(es) missed" in result.stdout
    assert "anti-replay-disabled" not in result.stdout  # ground truth only with --instructor


def test_grade_json_student_and_instructor_views(cli: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "good.md", student="bob")
    args = ["grade", "tc-replay", str(path), "--student", "alice", "--seed", SEED, "--json"]
    student = json.loads(run(cli, *args, "--peer", "bob").stdout)
    assert student["points"] == 17.0
    assert "cheating" not in student
    instructor = json.loads(run(cli, *args, "--peer", "bob", "--instructor").stdout)
    assert [flag["other_student"] for flag in instructor["cheating"]] == ["bob", "bob"]
    assert instructor["missed"] == []


def test_instructor_summary_shows_matches_and_flags(cli: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "good.md", student="bob")
    args = ["grade", "tc-replay", str(path), "--student", "alice", "--seed", SEED]
    result = run(cli, *args, "--peer", "bob", "--instructor")
    assert "sequence-not-persisted" in result.stdout
    assert "copied secret: ops_flag of student bob in finding 1" in result.stdout


def test_hostile_report_is_printed_escaped(cli: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "hostile.md")
    args = ["grade", "tc-replay", str(path), "--student", "alice", "--seed", SEED, "--instructor"]
    result = run(cli, *args)
    assert result.exit_code == 0, result.output
    assert "0 / 20 points" in result.stdout
    assert "<img src=x onerror=alert(1)>" in result.stdout  # shown as text, not markup


def test_rich_markup_in_a_report_is_not_interpreted(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "markup.md"
    path.write_text("---\nlab: '[bold red]x[/]'\nfindings: []\n---\n", encoding="utf-8")
    result = run(cli, "grade", "tc-replay", str(path), "--student", "a", "--seed", SEED)
    assert result.exit_code == 0, result.output
    assert "'[bold red]x[/]'" in result.stdout


def test_missing_report_file(cli: typer.Typer, tmp_path: Path) -> None:
    result = run(
        cli, "grade", "tc-replay", str(tmp_path / "nope.md"), "--student", "a", "--seed", SEED
    )
    assert result.exit_code == 3
    assert "no report file named" in result.stderr


def test_seed_is_required(cli: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "good.md")
    result = run(cli, "grade", "tc-replay", str(path), "--student", "alice")
    assert result.exit_code == 2
