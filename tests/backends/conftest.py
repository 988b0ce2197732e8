"""Fixtures for the backend unit tests: the docker backend on an in-process fake SDK."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the fakes live next to this file.
sys.path.insert(0, str(Path(__file__).parent))

from backend_fakes import FakeClient

from labctl.backends.docker import DockerBackend


@pytest.fixture
def fake_client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def backend(fake_client: FakeClient) -> DockerBackend:
    return DockerBackend(fake_client, health_timeout_s=0.5, poll_s=0.01)  # type: ignore[arg-type]
