"""Shared fixtures for tests on the real engine."""

from __future__ import annotations

import sys
from pathlib import Path

import docker
import pytest

from labctl.backends.docker import DockerBackend
from labctl.backends.docker.images import build_images

# --import-mode=importlib puts no test directory on sys.path; live.py sits next to this file.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def lab_backend(docker_client: docker.DockerClient) -> DockerBackend:
    """The Docker backend, with the lab images built (a no-op when they are current)."""
    build_images(docker_client)
    return DockerBackend(docker_client)
