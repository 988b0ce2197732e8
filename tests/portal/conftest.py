"""The portal's live tests share one class session of two tc-replay students (package
scope: it is started once for the folder and stopped at the end)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from labctl.backends.docker.images import build_images
from labctl.core.api import Core
from labctl.core.settings import Settings
from labctl.portal.portal import Portal

# --import-mode=importlib puts no test directory on sys.path; portal_live.py is here.
sys.path.insert(0, str(Path(__file__).parent))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def klass(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Core, str, list[str]]]:
    build_images(docker_client)  # current images (a no-op when they are)
    home = tmp_path_factory.mktemp("portal-home")
    tag = uuid.uuid4().hex[:4]
    ids = [f"p{tag}a", f"p{tag}b"]
    roster = home / "class.csv"
    roster.write_text(
        "id,name,email\n" + "".join(f"{s},Student {s},{s}@example.edu\n" for s in ids)
    )
    settings = Settings(labs_dir=REPO / "labs", state_file=home / "labctl.db")
    core = Core(settings)
    name = f"portal{tag}"
    core.sessions.start("tc-replay", roster, name=name, parallel=2)
    try:
        yield core, name, ids
    finally:
        core.sessions.stop(name)


@pytest.fixture(scope="package")
def portal(klass: tuple[Core, str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Portal:
    core, name, _ = klass
    made = Portal(core, [name], grades_dir=tmp_path_factory.mktemp("grades"))
    made.sync_accounts()
    made.add_instructor("teacher", "teacher-password")
    return made
