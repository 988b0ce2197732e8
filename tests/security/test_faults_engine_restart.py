"""The Docker engine restarted mid-class (issue 12, faults), on a second engine of the
test's own (``engine.py``: its own network namespace, data root, socket and firewall), so
the machine's engine is never touched.

A class of two is started and graded, then dockerd is stopped (SIGTERM: it stops every
container) and started again with the same arguments; the containers come back by their
restart policy, on new published ports in whatever order they start. Then: ``session
status`` says what happened (the hosts were restarted, their ports moved) without a
traceback and shows the ports that work now; re-running ``session start`` keeps the class
and brings the record up to date; a grade run completes and grades each student on their
own instance; the earlier grades are untouched; ``session stop`` leaves nothing on the
engine and no bridge in the host guard, whose nftables table lives in the engine's
namespace (``nft`` runs in a host-network container of that engine).

labctl runs in the engine's namespace (``nsenter --net``), where the published ports are.
Loading the lab images into the fresh engine takes about 45 s (1.1 GB of layers).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path.
sys.path.append(str(Path(__file__).parent))

from engine import SecondEngine, copy_images, second_engine
from faults import bridges, guarded, labctl, leftovers, no_traceback, said
from live import eventually

from labctl.backends.base import MANAGED_LABEL
from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceStore
from labctl.instances.lifecycle import ports_of
from labctl.sessions.store import RUNNING, SessionStore

pytestmark = pytest.mark.docker
STUDENTS = 2
#: Objectives a fresh tc-replay instance passes when grading reaches its own hosts.
FRESH_PASSES = {"mission-flies", "telemetry-flows"}


@pytest.fixture
def engine(lab_backend: DockerBackend) -> Iterator[SecondEngine]:
    """A second engine holding the lab images; destroyed afterwards, also on failure."""
    with second_engine() as started:
        images = lab_backend.client.images.list(filters={"label": f"{MANAGED_LABEL}=true"})
        names = sorted({t for i in images for t in i.tags if t.startswith("labctl/")})
        began = time.monotonic()
        target = started.client(timeout=900)
        try:
            copy_images(lab_backend.client, target, names)
        finally:
            target.close()
        print(f"{len(names)} images into the test engine in {time.monotonic() - began:.0f} s")
        yield started


def said_text(text: str) -> str:
    return " ".join(text.split())


def _scores(folder: Path) -> dict[str, dict[str, object]]:
    return {
        path.parent.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((folder / "students").glob("*/score.json"))
    }


def _passed(score: dict[str, object]) -> set[str]:
    objectives = score["objectives"]
    assert isinstance(objectives, list)
    return {o["id"] for o in objectives if o["verdict"] == "pass"}


def test_dockerd_restarted_mid_class(engine: SecondEngine, tmp_path: Path) -> None:
    home = tmp_path / "home"
    tag = uuid.uuid4().hex[:4]
    students = [f"r{tag}{i}" for i in range(STUDENTS)]
    roster = tmp_path / "class.csv"
    rows = [f"{s},Student {i},{s}@example.edu" for i, s in enumerate(students)]
    roster.write_text("id,name,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    name = f"r{uuid.uuid4().hex[:5]}"
    idents = [f"tc-replay-{name}-{s}" for s in students]
    client = engine.client(timeout=300)
    backend = DockerBackend(client)
    store = SessionStore(InstanceStore(home / "labctl.db"))
    prefix = engine.in_netns([])

    def run(*args: str) -> str:
        """The command's standard output; it must succeed without a traceback."""
        result = labctl(home, *args, prefix=prefix, docker_host=engine.docker_host)
        assert result.returncode == 0, f"labctl {' '.join(args)}: {said(result)}"
        no_traceback(result)
        return result.stdout

    start = ("session", "start", "tc-replay", "--roster", str(roster), "--name", name)
    try:
        assert f"{STUDENTS} started" in said_text(run(*start))
        seen = bridges(client, idents)
        assert seen
        assert seen <= guarded(prefix), "the guard works in the engine's namespace"
        reports = tmp_path / "reports"
        reports.mkdir()
        run("session", "grade", name, "--reports", str(reports), "-o", str(tmp_path / "g1"))
        first = _scores(tmp_path / "g1")
        assert sorted(first) == sorted(students)
        for student, score in first.items():
            assert _passed(score) >= FRESH_PASSES, (student, score)
        kept = {p: p.read_bytes() for p in (tmp_path / "g1").rglob("*") if p.is_file()}
        recorded = {i: store.instances.get(i).ports for i in idents}  # type: ignore[union-attr]

        stopped, started = engine.restart()
        print(f"dockerd stopped in {stopped:.1f} s, answered again in {started:.1f} s")
        live = {i: ports_of(backend.status(i)) for i in idents}
        moved = live != recorded

        def all_running() -> bool:
            return all(
                len(hs := backend.status(i)) == 6 and all(h.state == "running" for h in hs)
                for i in idents
            )

        eventually(all_running, 60, "every host back by its restart policy")
        status = run("session", "status", name)
        for student, ident in zip(students, idents, strict=True):
            line = next(ln for ln in status.splitlines() if f" {student} " in ln)
            assert "running" in line, status
            web = live[ident]["labctl-gateway"]
            mission_control = next(p for p in web.values() if f":{p}/" in line)
            assert live[ident]["mission-control"]["8080/tcp"] == mission_control, status
        if moved:  # and says so, with what to do; `labctl status` of an instance too
            assert "restarted" in said_text(status), status
            assert "labctl session handout" in said_text(status), status
            one = run("status", idents[0])
            assert f"{idents[0]}: its hosts were restarted" in said_text(one), one
        print(f"ports moved by the restart: {moved}")

        again = run(*start)
        assert f"{STUDENTS} kept running" in said_text(again)
        assert {m.status for m in store.members(name)} == {RUNNING}
        for ident in idents:
            assert store.instances.get(ident).ports == ports_of(backend.status(ident))  # type: ignore[union-attr]

        run("session", "grade", name, "--reports", str(reports), "-o", str(tmp_path / "g2"))
        second = _scores(tmp_path / "g2")
        assert sorted(second) == sorted(students)
        for student, score in second.items():  # each graded on their own hosts
            assert _passed(score) >= FRESH_PASSES, (student, score)
        assert {p: p.read_bytes() for p in kept} == kept, "an earlier grade changed"

        run("session", "stop", name)
        assert leftovers(client, idents) == []
        assert not seen & guarded(prefix)
        assert store.all() == []
    finally:
        labctl(home, "session", "stop", name, prefix=prefix, docker_host=engine.docker_host)
        client.close()
