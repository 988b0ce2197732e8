"""labctl killed (SIGKILL) at points of ``up``, ``session start``, ``grade`` and ``session
grade`` on the real engine (issue 12, faults): ``status`` explains what is left without a
traceback and says what to do, running the command again repairs it, no grade written
before the kill is lost, and once the instances are down nothing labelled with them is
left on the engine and the host guard lists none of their bridges.

The kill points come from the command's own progress output (read on a pseudo-terminal,
so Rich draws it as it goes) and from seeded random delays: ``LABCTL_FAULT_SEED``
(default 1212) picks them, and every assertion message names the point.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path.
sys.path.append(str(Path(__file__).parent))

from faults import bridges, guarded, kill_at, labctl, leftovers, no_traceback, said

from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceStore
from labctl.sessions.store import RUNNING, SessionStore

pytestmark = pytest.mark.docker
SEED = int(os.environ.get("LABCTL_FAULT_SEED", "1212"))
CHANCE = random.Random(SEED)
HOSTS = 6  # tc-replay's five hosts and the gateway
#: (marker in the progress output, seconds after it): networks made, no host yet; some
#: host healthy, the others still in the health wait; a random moment of a warm `up` (6-8 s).
UP_POINTS = [
    ("network created", 0.0),
    ("healthy", 0.0),
    (None, round(CHANCE.uniform(0.3, 6.0), 2)),
]
GRADE_DELAY = round(CHANCE.uniform(2.0, 30.0), 2)
START_DELAY = round(CHANCE.uniform(0.5, 15.0), 2)


def _student(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def _all_running(backend: DockerBackend, ident: str) -> bool:
    hosts = backend.status(ident)
    return len(hosts) == HOSTS and all(h.state == "running" for h in hosts)


def _down_and_nothing_left(
    backend: DockerBackend, home: Path, ident: str, seen_bridges: set[str]
) -> None:
    down = labctl(home, "down", ident)
    assert down.returncode == 0, said(down)
    assert leftovers(backend.client, [ident]) == []
    assert seen_bridges
    assert not seen_bridges & guarded(), "bridges of a removed instance still guarded"


@pytest.mark.parametrize(("marker", "delay"), UP_POINTS)
def test_up_killed_is_explained_and_repaired(
    lab_backend: DockerBackend, tmp_path: Path, marker: str | None, delay: float
) -> None:
    home = tmp_path / "home"
    student = _student("kup")
    ident = f"tc-replay-{student}"
    store = InstanceStore(home / "labctl.db")
    point = f"up killed {delay} s after {marker or 'the start'} (LABCTL_FAULT_SEED={SEED})"
    try:
        kill = kill_at(home, ["up", "tc-replay", "--student", student], marker, delay)
        seen = bridges(lab_backend.client, [ident])
        record = store.get(ident)

        status = labctl(home, "status")
        assert status.returncode == 0, f"{point}: {said(status)}"
        no_traceback(status)
        finished = record is not None and record.status == "running"
        assert finished or kill.killed, f"{point}: up ended unfinished: {kill.output}"
        if record is None:  # killed before it recorded anything: nothing on the engine either
            assert leftovers(lab_backend.client, [ident]) == [], point
        elif not finished:
            assert record.status == "starting", point
            assert f"{ident} (interrupted)" in said(status), f"{point}: {said(status)}"
            assert f"re-run `labctl up tc-replay --student {student}`" in said(status), point
            assert f"`labctl down {ident}`" in said(status), point

        again = labctl(home, "up", "tc-replay", "--student", student)
        if not finished:
            assert again.returncode == 0, f"{point}: {said(again)}"
            assert f"instance {ident} is up" in said(again), point
        else:  # up had done its work (the kill came while it printed, or never): a second
            # one is refused and says how to go on
            assert again.returncode != 0, point
            assert f"labctl down {ident}" in said(again), point
        record = store.get(ident)
        assert record is not None, point
        assert record.status == "running", point
        assert _all_running(lab_backend, ident), f"{point}: {lab_backend.status(ident)}"
        live = bridges(lab_backend.client, [ident])
        assert live, point
        assert live <= guarded(), f"{point}: not guarded: {live - guarded()}"
        seen |= live
        status = labctl(home, "status", ident)
        assert "interrupted" not in said(status), point

        _down_and_nothing_left(lab_backend, home, ident, seen)
        assert store.get(ident) is None
    finally:
        lab_backend.down(ident)


def _scores(folder: Path) -> dict[str, dict[str, object]]:
    """Every score.json under ``folder``, parsed (a half-written file fails here)."""
    return {
        str(path.relative_to(folder)): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.rglob("score.json"))
    }


def test_grade_killed_loses_no_grade(lab_backend: DockerBackend, tmp_path: Path) -> None:
    home = tmp_path / "home"
    student = _student("kgr")
    ident = f"tc-replay-{student}"
    scores = tmp_path / "scores"
    point = "grade killed after its first objective"
    try:
        up = labctl(home, "up", "tc-replay", "--student", student)
        assert up.returncode == 0, said(up)
        seen = bridges(lab_backend.client, [ident])
        first = labctl(home, "grade", ident, "-o", str(scores))
        assert first.returncode == 0, said(first)
        before = (scores / "score.json").read_bytes()

        kill = kill_at(home, ["grade", ident, "-o", str(scores)], "mission-flies:", 0.0)
        assert kill.killed, f"grade ended before the kill: {kill.output}"
        assert (scores / "score.json").read_bytes() == before, f"{point}: the grade changed"
        assert sorted(p.name for p in scores.iterdir()) == ["score.html", "score.json", "score.md"]

        status = labctl(home, "status", ident)
        assert status.returncode == 0, said(status)
        no_traceback(status)
        again = labctl(home, "grade", ident, "-o", str(scores))
        assert again.returncode == 0, f"{point}: {said(again)}"
        graded = _scores(scores)["score.json"]
        assert graded["points"] == json.loads(before)["points"], point  # same fresh instance

        _down_and_nothing_left(lab_backend, home, ident, seen)  # the killed run's vantage too
    finally:
        lab_backend.down(ident)


def test_session_start_and_grade_killed(lab_backend: DockerBackend, tmp_path: Path) -> None:
    home = tmp_path / "home"
    tag = uuid.uuid4().hex[:4]
    students = [f"f{tag}{i}" for i in range(2)]
    roster = tmp_path / "class.csv"
    rows = [f"{s},Student {i},{s}@example.edu" for i, s in enumerate(students)]
    roster.write_text("id,name,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    name = f"f{uuid.uuid4().hex[:5]}"
    idents = [f"tc-replay-{name}-{s}" for s in students]
    start = ["session", "start", "tc-replay", "--roster", str(roster), "--name", name]
    reports, grades = tmp_path / "reports", tmp_path / "grades"
    reports.mkdir()
    store = SessionStore(InstanceStore(home / "labctl.db"))
    seen: set[str] = set()
    try:
        kill = kill_at(home, [*start, "--parallel", "2"], "started", 0.0)
        assert kill.killed, f"session start ended before the kill: {kill.output}"
        seen |= bridges(lab_backend.client, idents)
        status = labctl(home, "session", "status", name)
        assert status.returncode == 0, said(status)
        no_traceback(status)
        assert {m.status for m in store.members(name)} != {RUNNING}
        for student in students:
            line = next(ln for ln in status.stdout.splitlines() if student in ln)
            assert any(w in line for w in ("interrupted", "pending", "running")), status.stdout
        assert "session start" in said(status)  # what to do about it

        again = labctl(home, *start)
        assert again.returncode == 0, said(again)
        assert {m.status for m in store.members(name)} == {RUNNING}
        for ident in idents:  # nothing doubled by the repair
            assert _all_running(lab_backend, ident), lab_backend.status(ident)
        seen |= bridges(lab_backend.client, idents)

        grade = ["session", "grade", name, "--reports", str(reports), "-o", str(grades)]
        first = labctl(home, *grade)
        assert first.returncode == 0, said(first)
        before = _scores(grades)
        assert len(before) == len(students)
        point = f"session grade killed {GRADE_DELAY} s in (LABCTL_FAULT_SEED={SEED})"
        kill = kill_at(home, grade, "grading 2 student(s)", GRADE_DELAY)
        after = _scores(grades)  # each file whole: the old grade or a complete new one
        assert sorted(after) == sorted(before), point
        for key, score in after.items():
            assert score["points"] == before[key]["points"], f"{point}: {key}"
        json.loads((grades / "grades.json").read_text(encoding="utf-8"))

        status = labctl(home, "session", "status", name)
        assert status.returncode == 0, f"{point}: {said(status)}"
        no_traceback(status)
        third = labctl(home, *grade)
        assert third.returncode == 0, f"{point}: {said(third)}"
        assert "2 of 2 graded" in said(third), point

        stop = labctl(home, "session", "stop", name)
        assert stop.returncode == 0, said(stop)
        assert leftovers(lab_backend.client, idents) == []
        assert seen
        assert not seen & guarded()
    finally:
        labctl(home, "session", "stop", name)
        for ident in idents:
            lab_backend.down(ident)


def test_session_start_killed_at_a_random_moment(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    tag = uuid.uuid4().hex[:4]
    students = [f"g{tag}{i}" for i in range(2)]
    roster = tmp_path / "class.csv"
    rows = [f"{s},Student {i},{s}@example.edu" for i, s in enumerate(students)]
    roster.write_text("id,name,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    name = f"g{uuid.uuid4().hex[:5]}"
    idents = [f"tc-replay-{name}-{s}" for s in students]
    start = ["session", "start", "tc-replay", "--roster", str(roster), "--name", name]
    point = f"session start killed {START_DELAY} s in (LABCTL_FAULT_SEED={SEED})"
    store = SessionStore(InstanceStore(home / "labctl.db"))
    try:
        kill = kill_at(home, start, None, START_DELAY)
        seen = bridges(lab_backend.client, idents)
        status = labctl(home, "session", "status", name)
        no_traceback(status)
        if status.returncode != 0:  # killed before the session was recorded
            assert "session" in said(status), f"{point}: {said(status)}"
            assert leftovers(lab_backend.client, idents) == [], point
        elif kill.killed:
            assert "session start" in said(status), f"{point}: {said(status)}"

        again = labctl(home, *start)
        assert again.returncode == 0, f"{point}: {said(again)}"
        assert {m.status for m in store.members(name)} == {RUNNING}, point
        for ident in idents:
            assert _all_running(lab_backend, ident), f"{point}: {lab_backend.status(ident)}"
        seen |= bridges(lab_backend.client, idents)

        stop = labctl(home, "session", "stop", name)
        assert stop.returncode == 0, said(stop)
        assert leftovers(lab_backend.client, idents) == [], point
        assert not seen & guarded(), point
    finally:
        labctl(home, "session", "stop", name)
        for ident in idents:
            lab_backend.down(ident)
