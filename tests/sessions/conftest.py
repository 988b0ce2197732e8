"""Fixtures for the session tests: the in-memory backend of the instance tests, a state
database per test, and labs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the fake lives in tests/instances.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instances"))

from instance_fakes import MemoryBackend

from labctl.instances import InstanceStore
from labctl.spec import LoadedLab, load_lab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def replay_lab() -> LoadedLab:
    return load_lab(REPO / "labs" / "tc-replay")


@pytest.fixture(scope="session")
def access_lab() -> LoadedLab:
    return load_lab(REPO / "labs" / "mc-access")


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
