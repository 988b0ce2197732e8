"""``labctl briefing`` in-process, on a Typer app that registers it as labctl's app would."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from labctl.cli import scenario
from labctl.errors import NotFoundError
from labctl.instances import InstanceRecord, InstanceStore
from labctl.scenario import parameters
from labctl.spec import LoadedLab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command()(scenario.briefing)
    return app


def test_briefing_prints_the_students_public_values(
    app: typer.Typer, replay_lab: LoadedLab, tmp_path: Path
) -> None:
    env = {"LABCTL_HOME": str(tmp_path), "LABCTL_LABS_DIR": str(REPO / "labs")}
    store = InstanceStore(tmp_path / "labctl.db")
    store.reserve(InstanceRecord("tc-replay-ana", "tc-replay", "ana", 77, "now", "running"))
    result = CliRunner().invoke(app, ["briefing", "tc-replay-ana", "--raw"], env=env)
    assert result.exit_code == 0, result.output
    params = parameters(replay_lab.spec, "ana", 77)
    assert result.output.startswith("# Telecommand replay — briefing for ana")
    assert f"SPI {params.values['uplink_spi']}" in result.output
    assert params.values["uplink_key"] not in result.output


def test_briefing_of_an_unknown_instance(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["briefing", "nope"], env={"LABCTL_HOME": str(tmp_path)})
    assert isinstance(result.exception, NotFoundError)
