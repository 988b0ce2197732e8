"""The security campaign (docs/security.md): attacks on the range itself, run on the real
engine like tests/integration, whose fixtures and helpers (``lab_backend``, ``live``) it
shares."""

from __future__ import annotations

import sys
from pathlib import Path

import docker
import pytest

from labctl.backends.docker import DockerBackend
from labctl.backends.docker.images import build_images

# --import-mode=importlib puts no test directory on sys.path; live.py is tests/integration's.
# Appended, not put first: other folders' `from conftest import ...` must find their own.
_INTEGRATION = str(Path(__file__).parent.parent / "integration")
if _INTEGRATION not in sys.path:
    sys.path.append(_INTEGRATION)


@pytest.fixture(scope="session")
def lab_backend(docker_client: docker.DockerClient) -> DockerBackend:
    """The Docker backend, with the lab images built (a no-op when they are current)."""
    build_images(docker_client)
    return DockerBackend(docker_client)
