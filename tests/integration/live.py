"""Helpers for tests against live instances: waiting, ground truth, mission control's API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from labctl.backends.base import HOST_LABEL, INSTANCE_LABEL, ExecResult
from labctl.backends.docker import DockerBackend
from labctl.backends.docker.recover import pids_in_use
from labctl.instances import InstanceRecord, Instances, InstanceStore
from labctl.spec import LoadedLab, load_lab

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], seconds: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what}")


@contextmanager
def tc_replay_instance(
    backend: DockerBackend, state_dir: Path, prefix: str, lab: LoadedLab | None = None
) -> Iterator[tuple[Instances, InstanceRecord]]:
    """One fresh instance of tc-replay, or of ``lab`` (e.g. :func:`tc_replay_with`'s copy),
    for student ``<prefix><random>``, taken down afterwards."""
    manager = Instances(backend, InstanceStore(state_dir / "labctl.db"))
    loaded = lab if lab is not None else load_lab(REPO / "labs" / "tc-replay")
    record = manager.up(loaded, f"{prefix}{uuid.uuid4().hex[:8]}")
    try:
        yield manager, record
    finally:
        manager.down(record.id)


def truth(backend: DockerBackend, record: InstanceRecord) -> dict[str, Any]:
    """The spacecraft's ground truth, read through the engine (never over a lab network)."""
    result = backend.exec(record.id, "spacecraft", ["cat", "/run/labctl/truth.json"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def mission_control_url(record: InstanceRecord) -> str:
    """Mission control's published URL, once it is connected to the ground station."""
    ports = [p["8080/tcp"] for p in record.ports.values() if "8080/tcp" in p]
    assert ports, f"mission control publishes no port: {record.ports}"
    url = f"http://127.0.0.1:{ports[0]}"

    def linked() -> bool:
        return bool(httpx.get(f"{url}/api/health", timeout=5).json().get("ground_link"))

    eventually(linked, 30, "mission control connected to the ground station")
    return url


def login(base_url: str, user: str = "operator", password: str = "operator") -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=10)
    reply = client.post("/api/login", json={"username": user, "password": password})
    assert reply.status_code == 200, reply.text
    client.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    return client


def send(client: httpx.Client, name: str, args: dict[str, int] | None = None) -> dict[str, Any]:
    """Send a command through mission control and wait for its verification."""
    reply = client.post("/api/commands", json={"name": name, "args": args or {}})
    assert reply.status_code == 201, reply.text
    ident = reply.json()["id"]

    def done() -> dict[str, Any] | None:
        sent: dict[str, Any] = client.get(f"/api/commands/sent/{ident}").json()
        return sent if sent["status"] in {"completed", "failed"} else None

    return eventually(done, 45, f"{name} verified by the spacecraft")


#: A fork bomb, as the student would type it (run detached: it never ends by itself).
FORK_BOMB = ("bash", "-c", "bomb() { bomb | bomb & }; bomb")
#: Fifty processes one after the other (what a shell session needs in a minute), each
#: tried once: prints how many could not be created.
FIFTY_FORKS = (
    "python3",
    "-c",
    "import os\nfailed = 0\nfor _ in range(50):\n    try:\n        pid = os.fork()\n"
    "    except OSError:\n        failed += 1\n        continue\n    if pid == 0:\n"
    "        os._exit(0)\n    os.waitpid(pid, 0)\nprint('forks failed:', failed)",
)


def bounded_exec(
    backend: DockerBackend,
    ident: str,
    host: str,
    argv: Sequence[str],
    *,
    user: str = "root",
    seconds: float = 30.0,
) -> ExecResult | None:
    """``backend.exec`` given ``seconds``; None when it has not returned by then (a host
    out of pids can hold an exec: the call finishes later in a daemon thread)."""
    results: list[ExecResult] = []
    thread = threading.Thread(
        target=lambda: results.append(backend.exec(ident, host, list(argv), user=user)),
        daemon=True,
    )
    thread.start()
    thread.join(seconds)
    return results[0] if results else None


def start_detached(
    backend: DockerBackend, ident: str, host: str, argv: Sequence[str], user: str = "student"
) -> None:
    """Start ``argv`` in ``host`` and return at once (``docker exec -d``)."""
    backend.container(ident, host).exec_run(list(argv), user=user, detach=True)


def pids(backend: DockerBackend, ident: str, host: str) -> tuple[int, int]:
    """(processes in use, the pids limit) of a host, as the engine counts them."""
    current, limit = pids_in_use(backend.container(ident, host))
    assert current is not None, "the engine gives no pids count"
    assert limit is not None, "the host has no pids limit"
    return current, limit


def started_at(backend: DockerBackend, ident: str) -> dict[str, str]:
    """Host → when its container last started: a restart changes it."""
    found = backend.client.containers.list(all=True, filters={"label": f"{INSTANCE_LABEL}={ident}"})
    return {
        c.labels[HOST_LABEL]: c.attrs["State"]["StartedAt"] for c in found if HOST_LABEL in c.labels
    }


def tc_replay_with(tmp_path: Path, injects: str) -> LoadedLab:
    """A copy of tc-replay in ``tmp_path`` with ``injects`` (lab.yaml lines) added first."""
    lab = tmp_path / "tc-replay"
    shutil.copytree(REPO / "labs" / "tc-replay", lab)
    text = (lab / "lab.yaml").read_text(encoding="utf-8")
    (lab / "lab.yaml").write_text(text.replace("\ninjects:\n", f"\ninjects:\n{injects}", 1))
    return load_lab(lab)


def roster(folder: Path, count: int, prefix: str = "s") -> tuple[Path, list[str]]:
    """A roster (``folder/class.csv``) of ``count`` students with ids unique to this run."""
    tag = uuid.uuid4().hex[:4]
    ids = [f"{prefix}{tag}{i}" for i in range(count)]
    rows = [f"{s},Student {i},{s}@example.edu" for i, s in enumerate(ids)]
    path = folder / "class.csv"
    path.write_text("id,name,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path, ids


def labctl(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m labctl ARGS`` with its own state folder (:func:`labctl_env`)."""
    return subprocess.run(
        [sys.executable, "-m", "labctl", *args],
        env=labctl_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def labctl_env(home: Path) -> dict[str, str]:
    """The environment of a labctl subprocess with its own state folder and the repo's labs."""
    return {
        **os.environ,
        "LABCTL_HOME": str(home),
        "LABCTL_LABS_DIR": str(REPO / "labs"),
        "COLUMNS": "250",
    }
