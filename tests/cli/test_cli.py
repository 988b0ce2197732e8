"""The CLI in-process: output, exit statuses, one-line errors, --debug."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from cli_env import environment, invoke
from typer.testing import CliRunner

from labctl import __version__
from labctl.cli.app import EXIT_INTERNAL, app
from labctl.core.api import Core
from labctl.core.settings import Settings
from labctl.errors import NotFoundError, SpecError

REPO = Path(__file__).resolve().parents[2]
LABS = REPO / "labs"
EXAMPLE = REPO / "docs" / "examples" / "example-lab"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"labctl {__version__}"


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "labs" in result.output
    assert "schema" in result.output


def test_labs_list_shows_the_replay_lab(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--labs-dir", str(LABS), "labs", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "tc-replay" in result.stdout
    assert "EX-0001.01" in result.stdout


def test_labs_list_marks_invalid_labs(runner: CliRunner, tmp_path: Path) -> None:
    shutil.copytree(LABS / "tc-replay", tmp_path / "tc-replay")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "lab.yaml").write_text("id: broken\n", encoding="utf-8")
    result = runner.invoke(
        app, ["--labs-dir", str(tmp_path), "labs", "list"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0
    assert "tc-replay" in result.stdout
    assert "invalid" in result.stdout
    assert "labctl labs validate" in result.stderr


def test_labs_show(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["--labs-dir", str(LABS), "labs", "show", "tc-replay"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    for text in ("Telecommand replay", "replay-rejected", "anti-replay-disabled", "uplink_key"):
        assert text in result.stdout


def test_labs_show_json_round_trips(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--labs-dir", str(LABS), "labs", "show", "tc-replay", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["id"] == "tc-replay"


def test_unknown_lab_is_one_line_with_a_suggestion(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--labs-dir", str(LABS), "labs", "show", "tc-replya"])
    assert result.exit_code == NotFoundError.exit_code
    assert result.stderr.strip() == "error: no lab named 'tc-replya'; did you mean 'tc-replay'?"
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--debug", "--labs-dir", str(LABS), "labs", "show", "nope"])
    assert isinstance(result.exception, NotFoundError)


def test_validate_default_folder_passes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--labs-dir", str(LABS), "labs", "validate"])
    assert result.exit_code == 0, result.output
    assert "ok tc-replay" in result.stdout


def test_validate_example_and_labs_together(runner: CliRunner) -> None:
    result = runner.invoke(app, ["labs", "validate", str(EXAMPLE), str(LABS)])
    assert result.exit_code == 0, result.output
    assert "ok example-lab" in result.stdout


def test_validate_reports_problems_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    lab = tmp_path / "tc-replay"
    shutil.copytree(LABS / "tc-replay", lab)
    text = (lab / "lab.yaml").read_text(encoding="utf-8").replace("mode: both", "mode: bothh")
    (lab / "lab.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["labs", "validate", str(lab)])
    assert result.exit_code == SpecError.exit_code
    assert "lab.yaml:" in result.stdout
    assert "mode: input should be 'attack', 'defence' or 'both' (got 'bothh')" in result.stdout
    assert "1 problem(s) in 1 lab(s)" in result.stderr


def test_validate_missing_path_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["labs", "validate", str(tmp_path / "nope")])
    assert result.exit_code == NotFoundError.exit_code
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_empty_folder_says_so(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["labs", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "no labs found" in result.stderr


def test_schema_prints_valid_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "CheckRef_replay_rejected" in schema["$defs"]


def test_schema_to_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "lab.schema.json"
    result = runner.invoke(app, ["schema", "-o", str(target)])
    assert result.exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "Lab"


def test_schema_to_unwritable_file_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "-o", str(tmp_path / "no" / "such" / "dir.json")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot write")


def test_unexpected_exception_is_reported_as_internal_error() -> None:
    def explode(settings: Settings) -> Core:
        raise RuntimeError("boom")

    result = invoke(environment(explode), "labs", "validate")
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error: RuntimeError: boom" in result.err
    assert "--debug" in result.err
    assert result.out == ""


def test_usage_error_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["labs", "show"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_every_command_group_is_registered(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    for command in (
        "labs",
        "schema",
        "report",
        "images",
        "up",
        "down",
        "status",
        "shell",
        "logs",
        "briefing",
        "selftest",
        "k8s",
    ):
        assert f" {command} " in result.stdout, command


def test_selftest_unknown_lab_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--labs-dir", str(LABS), "selftest", "tc-replya"])
    assert result.exit_code == NotFoundError.exit_code
    assert "did you mean 'tc-replay'" in result.stderr
