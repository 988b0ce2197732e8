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
from labctl.cli.context import Environment
from labctl.errors import LabctlError

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

    def invoke(*args: str, obj: Environment | None = None) -> Result:
        return runner.invoke(app, list(args), env=env, obj=obj)

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


def test_shell_runs_the_backends_command_in_place_of_labctl(run: Invoke) -> None:
    programs: list[list[str]] = []
    env = Environment(exec_program=programs.append)
    assert run("up", "tc-replay", "--student", "ana").exit_code == 0
    assert run("shell", "tc-replay-ana", obj=env).exit_code == 0
    assert programs == [["true", "shell on attacker of tc-replay-ana as student"]]
    assert run("shell", "tc-replay-nobody", obj=env).exit_code == 3
    assert len(programs) == 1


def _killed_during_the_health_wait(tmp_path: Path, student: str = "ana") -> None:
    """What a `labctl up` killed while waiting for health leaves: a `starting` record
    without ports, every host on the engine running and healthy, no labctl on it."""
    import dataclasses

    from labctl.instances import InstanceRecord, InstanceStore
    from labctl.spec import load_lab

    store = InstanceStore(tmp_path / "labctl.db")
    ident = f"tc-replay-{student}"
    record = InstanceRecord(ident, "tc-replay", student, 7, "2026-01-01T00:00:00+00:00", "starting")
    store.reserve(dataclasses.replace(record, backend="memory"))
    from labctl.instances.plan import plan_instance

    loaded = load_lab(REPO / "labs" / "tc-replay")
    MemoryBackend.engines[ident] = plan_instance(loaded, ident, student=student, seed=7)


def test_status_of_an_interrupted_up_says_so_and_how_to_repair(run: Invoke, tmp_path: Path) -> None:
    _killed_during_the_health_wait(tmp_path)
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "tc-replay-ana (interrupted)" in result.stdout
    assert (
        "tc-replay-ana: a start was interrupted; re-run `labctl up tc-replay --student ana`"
        " to finish it, or `labctl down tc-replay-ana` to remove it"
    ) in " ".join(result.stdout.split())


def test_status_of_an_up_under_way_says_who_is_on_it(run: Invoke, tmp_path: Path) -> None:
    from labctl.instances.locks import hold, lock_path

    _killed_during_the_health_wait(tmp_path)
    with hold(lock_path(tmp_path / "labctl.db", "instance", "tc-replay-ana"), LabctlError):
        result = run("status", "tc-replay-ana")
    assert "tc-replay-ana (starting)" in result.stdout
    assert "being started by labctl (pid" in result.stdout
    assert "interrupted" not in result.stdout


def test_up_again_finishes_an_interrupted_up(run: Invoke, tmp_path: Path) -> None:
    _killed_during_the_health_wait(tmp_path)
    result = run("up", "tc-replay", "--student", "ana")
    assert result.exit_code == 0, result.output
    assert "instance tc-replay-ana is up" in result.stdout
    status = run("status")
    assert "interrupted" not in status.stdout
    assert "40000→22" in status.stdout


def test_status_does_not_advise_removing_what_is_not_recorded_here(run: Invoke) -> None:
    """The engine is shared: an instance of another state file is listed, not explained
    as something to remove."""
    from labctl.instances.plan import plan_instance
    from labctl.spec import load_lab

    loaded = load_lab(REPO / "labs" / "tc-replay")
    MemoryBackend.engines["tc-replay-other"] = plan_instance(
        loaded, "tc-replay-other", student="other", seed=1
    )
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "tc-replay-other" in result.stdout
    assert "labctl down" not in result.stdout
    assert "(not recorded)" not in result.stdout


def test_up_keep_on_failure_says_how_to_inspect_and_remove(
    run: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MemoryBackend, "fail_up", "spacecraft refuses its configuration")
    result = run("up", "tc-replay", "--student", "ana", "--keep-on-failure")
    assert result.exit_code == 4, result.output
    assert "spacecraft refuses its configuration" in result.stderr
    assert "labctl logs tc-replay-ana HOST" in result.stderr
    assert "remove it with labctl down tc-replay-ana" in result.stderr
    status = run("status")
    assert "tc-replay-ana (failed)" in status.stdout
    monkeypatch.setattr(MemoryBackend, "fail_up", None)
    assert run("down", "tc-replay-ana").exit_code == 0
