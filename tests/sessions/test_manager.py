"""The session manager against the in-memory backend: parallel start, retry, resume after
an interruption, status explanations, reset, stop, handouts, teams."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from instance_fakes import MemoryBackend

from labctl.backends.base import (
    BeforeStart,
    ExecResult,
    HostStatus,
    InstancePlan,
    Progress,
    no_progress,
)
from labctl.errors import BackendError, LabctlError, NotFoundError
from labctl.instances import InstanceStore
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH
from labctl.scenario import parameters
from labctl.sessions import SessionBusyError, Sessions, parse_roster
from labctl.sessions.store import RUNNING, STARTING
from labctl.spec import LoadedLab, load_lab

REPO = Path(__file__).resolve().parents[2]
FIVE = b"id,name,email\n" + b"".join(
    b"st%d,Student %d,st%d@example.edu\n" % (i, i, i) for i in range(5)
)


class FlakyBackend(MemoryBackend):
    """Fails the first ``failures[instance]`` ups of an instance; counts concurrent ups."""

    failures: ClassVar[dict[str, int]] = {}
    running: ClassVar[int] = 0
    most: ClassVar[int] = 0
    lock: ClassVar[threading.Lock] = threading.Lock()

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
        *,
        keep_on_failure: bool = False,
    ) -> list[HostStatus]:
        with FlakyBackend.lock:
            FlakyBackend.running += 1
            FlakyBackend.most = max(FlakyBackend.most, FlakyBackend.running)
        try:
            time.sleep(0.05)
            left = self.failures.get(plan.instance_id, 0)
            if left:
                self.failures[plan.instance_id] = left - 1
                raise BackendError("bring up", f"{plan.instance_id} would not start")
            return super().up(plan, progress, before_start, keep_on_failure=keep_on_failure)
        finally:
            with FlakyBackend.lock:
                FlakyBackend.running -= 1


@pytest.fixture
def backend(memory_backend: MemoryBackend) -> Iterator[FlakyBackend]:
    FlakyBackend.failures.clear()
    FlakyBackend.most = 0
    yield FlakyBackend()
    FlakyBackend.failures.clear()


@pytest.fixture
def sessions(backend: FlakyBackend, store: InstanceStore) -> Sessions:
    return Sessions(backend, store)


def test_start_runs_every_student_in_parallel_with_the_session_seed(
    sessions: Sessions, replay_lab: LoadedLab, backend: FlakyBackend
) -> None:
    seen: list[tuple[str, str]] = []
    report = sessions.start(
        replay_lab,
        parse_roster(FIVE),
        name="cls",
        parallel=3,
        progress=lambda u, m: seen.append((u, m)),
    )
    assert sorted(report.started) == [f"st{i}" for i in range(5)]
    assert not report.failed
    assert not report.kept
    assert 1 < FlakyBackend.most <= 3
    members = sessions.members("cls")
    seed = sessions.get("cls").seed
    assert [(m.student, m.slot, m.instance, m.seed, m.status) for m in members] == [
        (f"st{i}", i, f"tc-replay-cls-st{i}", seed, RUNNING) for i in range(5)
    ]
    assert sorted(backend.instances()) == [m.instance for m in members]
    for m in members:
        record = sessions.instances.get(m.instance)
        assert (record.student, record.seed, record.slot) == (m.student, seed, m.slot)
    assert {u for u, m in seen if m.startswith("ready")} == {f"st{i}" for i in range(5)}


def test_slots_keep_weak_passwords_unique(sessions: Sessions, access_lab: LoadedLab) -> None:
    roster = b"id,name,email\n" + b"".join(b"p%d,P,p%d@x.org\n" % (i, i) for i in range(12))
    sessions.start(access_lab, parse_roster(roster), name="pw", parallel=4)
    passwords = []
    for m in sessions.members("pw"):
        record = sessions.instances.get(m.instance)
        passwords.append(
            parameters(access_lab.spec, record.student, record.seed, record.slot).values[
                "admin_password"
            ]
        )
    assert len(set(passwords)) == len(passwords)


def test_a_failure_is_retried_once_then_reported_without_stopping_the_others(
    sessions: Sessions, replay_lab: LoadedLab, backend: FlakyBackend
) -> None:
    FlakyBackend.failures.update({"tc-replay-cls-st1": 1, "tc-replay-cls-st3": 5})
    report = sessions.start(replay_lab, parse_roster(FIVE), name="cls", parallel=2)
    assert sorted(report.started) == ["st0", "st1", "st2", "st4"]
    assert list(report.failed) == ["st3"]
    assert "would not start" in report.failed["st3"]
    by_id = {m.student: m for m in sessions.members("cls")}
    assert by_id["st3"].status == "failed"
    assert "would not start" in by_id["st3"].error
    assert FlakyBackend.failures["tc-replay-cls-st3"] == 3  # two attempts, no more
    rows = {r.member.student: r for r in sessions.status("cls", replay_lab)}
    assert rows["st3"].state == "failed"
    assert rows["st0"].state == RUNNING
    assert rows["st0"].connection
    # the next start finishes the session and keeps what runs
    FlakyBackend.failures.clear()
    again = sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    assert again.started == ["st3"]
    assert sorted(again.kept) == ["st0", "st1", "st2", "st4"]


def test_an_interrupted_start_is_explained_and_repaired(
    sessions: Sessions, replay_lab: LoadedLab, backend: FlakyBackend
) -> None:
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    # as a labctl killed inside `up` leaves it: member and record starting, hosts half made
    sessions.db.set_status("cls", "tc-replay-cls-st2", STARTING)
    sessions.instances.store.update("tc-replay-cls-st2", status="starting")
    # and one whose containers exist without any record
    sessions.db.set_status("cls", "tc-replay-cls-st4", STARTING)
    sessions.instances.store.delete("tc-replay-cls-st4")
    rows = {r.member.student: r for r in sessions.status("cls", replay_lab)}
    assert rows["st2"].state == "interrupted"
    assert "session start" in rows["st2"].explanation
    report = sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    assert sorted(report.repaired) == ["st2", "st4"]
    assert sorted(report.started) == ["st2", "st4"]
    assert {r.state for r in sessions.status("cls", replay_lab)} == {RUNNING}


def test_a_lost_instance_is_degraded_and_start_replaces_it(
    sessions: Sessions, replay_lab: LoadedLab, backend: FlakyBackend
) -> None:
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    backend.down("tc-replay-cls-st0")
    rows = {r.member.student: r for r in sessions.status("cls", replay_lab)}
    assert rows["st0"].state == "degraded"
    report = sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    assert report.repaired == ["st0"]
    assert report.started == ["st0"]


def test_start_refuses_another_roster_or_lab(
    sessions: Sessions, replay_lab: LoadedLab, access_lab: LoadedLab
) -> None:
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    with pytest.raises(LabctlError, match="is not the roster session 'cls'"):
        sessions.start(replay_lab, parse_roster(FIVE + b"late,L,l@x.org\n"), name="cls")
    with pytest.raises(LabctlError, match="runs lab tc-replay, not mc-access"):
        sessions.start(access_lab, parse_roster(FIVE), name="cls")
    with pytest.raises(LabctlError, match="session name 'Bad Name'"):
        sessions.start(replay_lab, parse_roster(FIVE), name="Bad Name")
    long_ids = b"id,name,email\n" + b"x" * 24 + b",X,x@x.org\n"
    with pytest.raises(LabctlError, match="use a shorter session name"):
        sessions.start(replay_lab, parse_roster(long_ids), name="a-long-session-n")


def test_a_busy_session_is_refused(sessions: Sessions, replay_lab: LoadedLab) -> None:
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    with sessions.db.lock("cls"):
        with pytest.raises(SessionBusyError, match="session 'cls' is busy"):
            sessions.start(replay_lab, parse_roster(FIVE), name="cls")
        with pytest.raises(SessionBusyError):
            sessions.stop("cls")
        with pytest.raises(SessionBusyError):
            sessions.reset("cls", "st0", replay_lab)


def test_reset_gives_a_fresh_instance_with_the_same_parameters_and_password(
    sessions: Sessions, replay_lab: LoadedLab, backend: FlakyBackend
) -> None:
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    before = sessions.instances.get("tc-replay-cls-st1")
    time.sleep(1.1)
    member = sessions.reset("cls", "st1", replay_lab)
    after = sessions.instances.get(member.instance)
    assert after.created != before.created
    assert (after.seed, after.slot, after.access) == (before.seed, before.slot, before.access)
    with pytest.raises(NotFoundError, match="no student named 'nobody'"):
        sessions.reset("cls", "nobody", replay_lab)


def test_stop_removes_everything_and_the_session(
    sessions: Sessions, replay_lab: LoadedLab, backend: FlakyBackend
) -> None:
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    report = sessions.stop("cls")
    assert report.instances == 5
    assert report.containers > 0
    assert backend.instances() == []
    assert sessions.instances.store.all() == []
    assert sessions.all() == []
    with pytest.raises(NotFoundError, match="no session named 'cls'"):
        sessions.stop("cls")


def test_teams_share_an_instance(sessions: Sessions, replay_lab: LoadedLab) -> None:
    report = sessions.start(replay_lab, parse_roster(FIVE), name="cls", teams=2)
    assert sorted(report.started) == ["team-1", "team-2"]
    members = sessions.members("cls")
    assert [(m.student, m.team, m.instance, m.slot) for m in members] == [
        ("st0", "team-1", "tc-replay-cls-team-1", 0),
        ("st2", "team-1", "tc-replay-cls-team-1", 0),
        ("st4", "team-1", "tc-replay-cls-team-1", 0),
        ("st1", "team-2", "tc-replay-cls-team-2", 1),
        ("st3", "team-2", "tc-replay-cls-team-2", 1),
    ]
    again = sessions.start(replay_lab, parse_roster(FIVE), name="cls", teams=2)
    assert sorted(again.kept) == ["team-1", "team-2"]


def test_handouts_hold_connection_password_and_briefing(
    sessions: Sessions, replay_lab: LoadedLab, tmp_path: Path, backend: FlakyBackend
) -> None:
    FlakyBackend.failures["tc-replay-cls-st4"] = 2
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    paths, skipped = sessions.handout("cls", replay_lab, tmp_path / "out")
    assert [p.name for p in paths] == [f"st{i}.md" for i in range(4)]
    assert skipped == {"st4": "failed"}
    text = paths[0].read_text(encoding="utf-8")
    record = sessions.instances.get("tc-replay-cls-st0")
    assert record.access["password"] in text
    assert "ssh -p" in text
    assert "briefing" in text.lower()
    assert paths[0].stat().st_mode & 0o777 == 0o600


class AdversaryLogBackend(FlakyBackend):
    """Answers `cat` of the adversary's log: two entries, one broken line."""

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        if host != ADVERSARY_HOST:
            return super().exec(instance_id, host, argv, user)
        assert list(argv) == ["cat", LOG_PATH]
        entry = '{"t": "2026-01-01T00:00:0%dZ", "step": 0, "repeat": 0, "action": "jam",'
        entry += ' "outcome": "done"}'
        return ExecResult(0, "\n".join([entry % 1, "{not json", entry % 2]) + "\n")


def test_status_counts_the_adversarys_actions(
    store: InstanceStore, replay_lab: LoadedLab, memory_backend: MemoryBackend
) -> None:
    defence = load_lab(REPO / "labs" / "pass-defence")
    assert defence.spec.adversary
    sessions = Sessions(AdversaryLogBackend(), store)
    sessions.start(replay_lab, parse_roster(FIVE), name="cls")
    rows = sessions.status("cls", defence)
    assert {r.adversary for r in rows} == {2}
    assert {r.adversary for r in sessions.status("cls", replay_lab)} == {None}
