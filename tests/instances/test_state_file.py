"""A state file labctl cannot write, or that is not a labctl database: every command that
writes state says so in one line before it acts (nothing on the engine is touched, the
file is left as it is); commands that only read keep working on a read-only file."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from instance_fakes import MemoryBackend
from typer.testing import Result

REPO = Path(__file__).resolve().parents[2]
ROSTER = str(REPO / "docs" / "examples" / "roster.csv")
Invoke = Callable[..., Result]


@pytest.fixture
def run(cli: Invoke) -> Invoke:
    return cli


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` unwritable even for root (the immutable attribute), else by its mode."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("as root a file is read-only only with chattr +i, which failed here")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def _one_line(result: Result) -> str:
    lines = result.output.strip().splitlines()
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("what", ["file", "folder"])
def test_down_with_a_read_only_state_refuses_before_removing_anything(
    run: Invoke, tmp_path: Path, what: str
) -> None:
    assert run("up", "tc-replay", "--student", "ana").exit_code == 0
    db = tmp_path / "home" / "labctl.db"
    before = db.read_bytes()
    with read_only(db if what == "file" else db.parent):
        result = run("down", "tc-replay-ana")
        status = run("status")
    line = _one_line(result)
    assert result.exit_code == 1
    assert f"the state file {db} is read-only" in line, line
    assert "LABCTL_HOME" in line
    assert "tc-replay-ana" in MemoryBackend.engines  # nothing was removed
    assert db.read_bytes() == before
    assert status.exit_code == 0, status.output  # reading still works
    assert "tc-replay-ana" in status.stdout


def test_up_and_session_commands_refuse_a_read_only_state(run: Invoke, tmp_path: Path) -> None:
    assert run("session", "start", "tc-replay", "-r", ROSTER, "--name", "ro").exit_code == 0
    engines = set(MemoryBackend.engines)
    db = tmp_path / "home" / "labctl.db"
    with read_only(db):
        results = [
            run("up", "tc-replay", "--student", "ben"),
            run("session", "stop", "ro"),
            run("session", "reset", "ro", "ana.lima"),
            run("session", "start", "tc-replay", "-r", ROSTER, "--name", "ro2"),
            run("down", "--all"),
        ]
    for result in results:
        assert result.exit_code == 1, result.output
        assert "is read-only" in _one_line(result)
    assert set(MemoryBackend.engines) == engines


def _overwrite_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    db.write_bytes(bytes(data))


def _not_sqlite(db: Path) -> None:
    db.write_bytes(b"id,name\nnot a database\n" * 40)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(_not_sqlite, id="not-sqlite"),
        pytest.param(_overwrite_pages, id="malformed"),
    ],
)
def test_a_state_file_that_is_not_a_database_is_one_line(
    run: Invoke, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    assert run("up", "tc-replay", "--student", "ana").exit_code == 0
    db = tmp_path / "home" / "labctl.db"
    damage(db)
    damaged = db.read_bytes()
    for args in (["status"], ["down", "tc-replay-ana"], ["up", "tc-replay", "--student", "b"]):
        result = run(*args)
        line = _one_line(result)
        assert result.exit_code == 1, result.output
        assert f"the state file {db} is not a usable labctl database" in line, line
        assert "move it aside" in line
    assert db.read_bytes() == damaged  # loses nothing: the file is left for inspection
    assert "tc-replay-ana" in MemoryBackend.engines


def test_read_only_check_is_in_the_core(tmp_path: Path, memory_backend: MemoryBackend) -> None:
    from labctl.instances import Instances, InstanceStore, StateError
    from labctl.spec import load_lab

    store = InstanceStore(tmp_path / "labctl.db")
    instances = Instances(memory_backend, store)
    instances.up(load_lab(REPO / "labs" / "tc-replay"), "ana")
    with read_only(store.path), pytest.raises(StateError, match="is read-only"):
        instances.down("tc-replay-ana")
    assert "tc-replay-ana" in MemoryBackend.engines
