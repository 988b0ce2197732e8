"""Fixtures for the instance tests: an in-memory backend, a state database per test."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

# --import-mode=importlib puts no test directory on sys.path; the fake lives next to this file.
sys.path.insert(0, str(Path(__file__).parent))

from instance_fakes import MemoryBackend

from labctl.instances import InstanceStore
from labctl.spec import LoadedLab, load_lab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def replay_lab() -> LoadedLab:
    return load_lab(REPO / "labs" / "tc-replay")


@pytest.fixture
def store(tmp_path: Path) -> InstanceStore:
    return InstanceStore(tmp_path / "state" / "labctl.db")


@pytest.fixture
def memory_backend() -> Iterator[MemoryBackend]:
    MemoryBackend.engines.clear()
    yield MemoryBackend()
    MemoryBackend.engines.clear()
    MemoryBackend.files.clear()
    MemoryBackend.restarts.clear()
    MemoryBackend.stopped.clear()
    MemoryBackend.recoveries.clear()
    MemoryBackend.recover_ready = True


@pytest.fixture
def cli(tmp_path: Path, memory_backend: MemoryBackend) -> Callable[..., Result]:
    """The CLI in-process on the memory backend, with a state folder of its own."""
    from labctl.cli.app import app

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
