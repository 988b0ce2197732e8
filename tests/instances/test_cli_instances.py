"""`labctl up/down/status/logs/shell` in-process, on the in-memory backend.

The commands are registered on the real root app exactly as labctl/cli/app.py should
register them (see docs/backends.md), so errors go through the central mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from instance_fakes import MemoryBackend
from typer.testing import CliRunner, Result

from labctl.cli import images, instances
from labctl.cli.app import LabctlGroup, root

REPO = Path(__file__).resolve().parents[2]
Invoke = Callable[..., Result]


def make_app() -> typer.Typer:
    app = typer.Typer(cls=LabctlGroup, no_args_is_help=True)
    app.callback()(root)
    app.add_typer(images.app, name="images")
    app.command("up")(instances.up)
    app.command("down")(instances.down)
    app.command("status")(instances.status)
    app.command("shell")(instances.shell)
    app.command("logs")(instances.logs)
    return app


@pytest.fixture
def run(tmp_path: Path, memory_backend: MemoryBackend) -> Invoke:
    runner = CliRunner()
    app = make_app()
    env = {
        "LABCTL_BACKEND": "memory",
        "LABCTL_HOME": str(tmp_path),
        "LABCTL_LABS_DIR": str(REPO / "labs"),
        "COLUMNS": "200",
    }

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_up_prints_how_to_connect(run: Invoke) -> None:
    result = run("up", "tc-replay", "--student", "Ana", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "instance tc-replay-ana is up" in result.stdout
    assert "ssh -p 40000 student@127.0.0.1" in result.stdout
    assert "http://127.0.0.1:40001/" in result.stdout
    assert "student password" in result.stdout


def test_up_of_an_unknown_lab_exits_3(run: Invoke) -> None:
    result = run("up", "no-such-lab")
    assert result.exit_code == 3
    assert "no lab named 'no-such-lab'" in result.output


def test_up_twice_is_one_clear_line(run: Invoke) -> None:
    run("up", "tc-replay", "--student", "ana")
    result = run("up", "tc-replay", "--student", "ana")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output


def test_status_shows_every_host(run: Invoke) -> None:
    run("up", "tc-replay", "--student", "ana")
    result = run("status")
    assert result.exit_code == 0, result.output
    for host in ("spacecraft", "rf-link", "ground-station", "mission-control", "attacker"):
        assert host in result.stdout
    assert "40000→22" in result.stdout
    assert "1m05s" in result.stdout


def test_status_without_instances(run: Invoke) -> None:
    result = run("status")
    assert result.exit_code == 0
    assert "no instance" in result.stdout


def test_down_one_and_all(run: Invoke) -> None:
    run("up", "tc-replay", "--student", "ana")
    run("up", "tc-replay", "--student", "ben")
    result = run("down", "tc-replay-ana")
    assert result.exit_code == 0, result.output
    assert "removed tc-replay-ana: 6 container(s)" in result.stdout
    result = run("down", "--all")
    assert "removed tc-replay-ben" in result.stdout
    assert "no instance" in run("status").stdout


def test_down_needs_exactly_one_target(run: Invoke) -> None:
    assert run("down").exit_code == 2
    assert run("down", "x", "--all").exit_code == 2


def test_down_of_an_unknown_instance_exits_3(run: Invoke) -> None:
    result = run("down", "nope")
    assert result.exit_code == 3
    assert "no instance named 'nope'" in result.output


def test_logs_of_a_host(run: Invoke) -> None:
    run("up", "tc-replay", "--student", "ana")
    result = run("logs", "tc-replay-ana", "rf-link")
    assert result.exit_code == 0
    assert result.stdout == "rf-link log\n"
    assert run("logs", "tc-replay-ana", "nohost").exit_code == 3


def test_shell_needs_the_docker_backend(run: Invoke) -> None:
    result = run("shell", "tc-replay-ana")
    assert result.exit_code == 1
    assert "needs the docker backend" in result.output
