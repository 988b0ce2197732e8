"""Fixtures for the scenario engine: a fake engine holding the hosts' real config files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the fake lives next to this file.
sys.path.insert(0, str(Path(__file__).parent))

from scenario_fakes import FakeBackend, FakeHost

from labctl.backends.base import FileSpec
from labctl.scenario import InjectContext
from labctl.spec import LoadedLab, load_lab

REPO = Path(__file__).resolve().parents[2]
LABCTL = 10001


def config(host: str) -> FileSpec:
    text = (REPO / "containers" / host / f"{host}.yaml").read_bytes()
    return FileSpec(text, mode=0o644, uid=LABCTL, gid=LABCTL)


def key() -> FileSpec:
    return FileSpec(b"00" * 16 + b"\n", mode=0o600, uid=LABCTL, gid=LABCTL)


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend(
        hosts={
            "spacecraft": FakeHost(
                files={
                    "/etc/labctl/spacecraft.yaml": config("spacecraft"),
                    "/etc/labctl/keys/uplink.key": key(),
                },
                sshd_pid=None,
                networks={"rf"},
            ),
            "ground-station": FakeHost(
                files={
                    "/etc/labctl/ground-station.yaml": config("ground-station"),
                    "/etc/labctl/keys/uplink.key": key(),
                },
                networks={"rf", "ground"},
            ),
            "rf-link": FakeHost(files={"/etc/labctl/rf-link.yaml": config("rf-link")}),
            "mission-control": FakeHost(
                files={"/etc/labctl/mission-control.yaml": config("mission-control")},
                networks={"ground", "corp"},
            ),
            "attacker": FakeHost(networks={"corp"}, users={"student": {"shell": "/bin/bash"}}),
        }
    )


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text(
        "Welcome {{ student.name }} to SC {{ params.scid }}\n"
    )
    return tmp_path


@pytest.fixture
def ctx(backend: FakeBackend, lab_dir: Path) -> InjectContext:
    return InjectContext(
        backend,  # type: ignore[arg-type]
        "lab-ana",
        lab_dir,
        {"params": {"scid": 321, "key": "ab" * 16, "pw": "hunter2"}, "student": {"name": "ana"}},
        {name: name for name in backend.hosts},
        frozenset({"hunter2"}),
    )


@pytest.fixture(scope="session")
def replay_lab() -> LoadedLab:
    return load_lab(REPO / "labs" / "tc-replay")
