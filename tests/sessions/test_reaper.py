"""Lifetimes, idle stops, caps and the queue on the in-memory backend: `session start`
queues what does not fit, one pass of the lease keeper removes, stops and starts, and
nothing the lab keeps (the workstation's home) is lost on the way."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from instance_fakes import HomeBackend, MemoryBackend

from labctl.instances import InstanceStore
from labctl.instances.leases import EXPIRED, IDLE, LIVE, utcnow
from labctl.instances.lifecycle import EXPIRED_STATUS, STOPPED
from labctl.range.wiring import HOME_SEED
from labctl.sessions import Sessions, parse_roster
from labctl.sessions.reaper import Caps, collect
from labctl.sessions.store import QUEUED, RUNNING
from labctl.spec import LoadedLab

FOUR = b"id,name,email\n" + b"".join(b"st%d,S %d,st%d@x.edu\n" % (i, i, i) for i in range(4))
ONE = b"id,name,email\nst0,S 0,st0@x.edu\n"
LEASE = (3600, 600)


def _home(text: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("./notes.txt")
        info.size, info.uid, info.gid = len(text), 1000, 1000
        tar.addfile(info, io.BytesIO(text))
    return gzip.compress(buffer.getvalue())


@pytest.fixture
def sessions(memory_backend: MemoryBackend, store: InstanceStore) -> Iterator[Sessions]:
    HomeBackend.home = _home(b"kept notes")
    yield Sessions(HomeBackend(), store)
    HomeBackend.home = b""


def _lab(replay_lab: LoadedLab) -> Callable[[str], LoadedLab]:
    return lambda lab_id: replay_lab


def test_members_beyond_the_machine_cap_are_queued_then_started_when_room_frees(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    report = sessions.start(
        replay_lab, parse_roster(FOUR), name="cls", caps=Caps(max_running=2), lease=LEASE
    )
    assert sorted(report.started) == ["st0", "st1"]
    assert report.queued == ["st2", "st3"]
    statuses = {m.student: m.status for m in sessions.members("cls")}
    assert statuses == {"st0": RUNNING, "st1": RUNNING, "st2": QUEUED, "st3": QUEUED}
    rows = {r.member.student: r for r in sessions.status("cls", replay_lab)}
    assert rows["st2"].state == QUEUED
    assert "cap is 2" in rows["st2"].explanation
    # no room yet: the pass starts nothing
    idle = collect(sessions, Caps(max_running=2), _lab(replay_lab))
    assert (idle.started, idle.queued) == ([], 2)
    # st0 goes idle: stopped, which frees its place; st2 (roster order) starts
    later = utcnow() + timedelta(seconds=601)
    report_gc = collect(sessions, Caps(max_running=2), _lab(replay_lab), now=later)
    assert sorted(report_gc.stopped) == ["tc-replay-cls-st0", "tc-replay-cls-st1"]
    assert report_gc.started == ["st2", "st3"]
    assert report_gc.queued == 0
    assert sessions.instances.get("tc-replay-cls-st2").status == "running"


def test_a_cap_per_student_counts_their_instances_in_every_session(
    sessions: Sessions, replay_lab: LoadedLab, access_lab: LoadedLab
) -> None:
    one = b"id,name,email\nana,Ana,ana@x.edu\n"
    sessions.start(replay_lab, parse_roster(one), name="mon", caps=Caps(per_student=1))
    second = sessions.start(access_lab, parse_roster(one), name="tue", caps=Caps(per_student=1))
    assert second.queued == ["ana"]
    assert "cap per student is 1" in sessions.members("tue")[0].error


def test_an_idle_instance_is_stopped_and_the_next_start_brings_it_back_with_its_home(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=LEASE)
    ident = "tc-replay-cls-st0"
    report = collect(sessions, Caps(), _lab(replay_lab), now=utcnow() + timedelta(minutes=11))
    assert report.stopped == [ident]
    assert MemoryBackend.stopped == {ident}
    assert sessions.instances.get(ident).status == STOPPED
    assert sessions.instances.leases.get(ident).state == IDLE  # type: ignore[union-attr]
    assert sessions.instances.homes.get(ident).files == 1  # type: ignore[union-attr]
    row = sessions.status("cls", replay_lab)[0]
    assert row.state == STOPPED
    again = sessions.start(replay_lab, parse_roster(ONE), name="cls")
    assert again.repaired == ["st0"]
    assert not MemoryBackend.stopped
    assert sessions.instances.get(ident).status == "running"
    assert sessions.instances.leases.get(ident).state == LIVE  # type: ignore[union-attr]
    seeded = MemoryBackend.files[(ident, "attacker", f"{HOME_SEED}/notes.txt")]
    assert seeded.content == b"kept notes"


def test_an_expired_instance_is_removed_then_made_anew_with_its_password_and_home(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=LEASE)
    ident = "tc-replay-cls-st0"
    password = sessions.instances.get(ident).access["password"]
    report = collect(sessions, Caps(), _lab(replay_lab), now=utcnow() + timedelta(hours=2))
    assert report.expired == [ident]
    assert ident not in MemoryBackend.engines
    record = sessions.instances.get(ident)
    assert (record.status, record.ports) == (EXPIRED_STATUS, {})
    assert sessions.instances.leases.get(ident).state == EXPIRED  # type: ignore[union-attr]
    assert sessions.status("cls", replay_lab)[0].state == EXPIRED_STATUS
    MemoryBackend.files.clear()
    again = sessions.start(replay_lab, parse_roster(ONE), name="cls")
    assert again.started == ["st0"]
    anew = sessions.instances.get(ident)
    assert (anew.status, anew.access["password"]) == ("running", password)
    seeded = MemoryBackend.files[(ident, "attacker", f"{HOME_SEED}/notes.txt")]
    assert seeded.content == b"kept notes"
    assert sessions.instances.leases.get(ident).lifetime == 3600  # type: ignore[union-attr]


def test_a_dry_run_changes_nothing(sessions: Sessions, replay_lab: LoadedLab) -> None:
    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=LEASE)
    report = collect(
        sessions,
        Caps(),
        _lab(replay_lab),
        now=utcnow() + timedelta(hours=2),
        dry_run=True,
    )
    assert report.expired == ["tc-replay-cls-st0"]
    assert sessions.instances.get("tc-replay-cls-st0").status == "running"


def test_reset_and_stop_forget_the_kept_home_and_the_lease(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=LEASE)
    ident = "tc-replay-cls-st0"
    sessions.instances.homes.save(sessions.backend, ident)
    sessions.reset("cls", "st0", replay_lab)
    assert sessions.instances.homes.get(ident) is None
    assert sessions.instances.leases.get(ident) is not None  # the new instance's own
    sessions.stop("cls")
    assert sessions.instances.leases.get(ident) is None
    assert sessions.instances.leases.all() == []


def test_a_session_without_a_lease_never_expires(sessions: Sessions, replay_lab: LoadedLab) -> None:
    sessions.start(replay_lab, parse_roster(ONE), name="cls")
    report = collect(sessions, Caps(), _lab(replay_lab), now=utcnow() + timedelta(days=30))
    assert not report.anything
    assert sessions.instances.leases.all() == []


def test_renew_needs_a_lifetime_and_a_live_instance(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    from labctl.errors import InputError

    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=(0, 600))
    with pytest.raises(InputError, match="no lifetime to renew"):
        sessions.instances.renew("tc-replay-cls-st0")


def test_a_home_that_cannot_be_read_keeps_an_idle_instance_running_but_not_an_expired_one(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=LEASE)
    ident = "tc-replay-cls-st0"
    HomeBackend.home = b"not an archive"
    idle = collect(sessions, Caps(), _lab(replay_lab), now=utcnow() + timedelta(minutes=11))
    assert idle.stopped == []
    assert "could not be read" in idle.left[ident] or "not a gzip" in idle.left[ident]
    assert sessions.instances.get(ident).status == "running"
    over = collect(sessions, Caps(), _lab(replay_lab), now=utcnow() + timedelta(hours=2))
    assert over.expired == [ident]
    events = [e.summary for e in sessions.instances.store.events(ident)]
    assert any("home NOT kept" in e for e in events), events


def test_a_stopped_unit_queued_on_a_full_machine_starts_again_from_the_queue(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    two = b"id,name,email\nst0,S 0,st0@x.edu\nst1,S 1,st1@x.edu\n"
    sessions.start(replay_lab, parse_roster(two), name="cls", lease=LEASE)
    first, second = "tc-replay-cls-st0", "tc-replay-cls-st1"
    sessions.instances.stop_idle(first)
    sessions.queue("cls", first, "the machine is full")  # as the portal does at its cap
    full = collect(sessions, Caps(max_running=1), _lab(replay_lab))
    assert (full.started, full.queued) == ([], 1)
    sessions.instances.stop_idle(second)
    room = collect(sessions, Caps(max_running=1), _lab(replay_lab))
    assert room.started == ["st0"]
    assert sessions.instances.get(first).status == "running"
    assert first not in MemoryBackend.stopped  # started again, not made anew
    assert {m.student: m.status for m in sessions.members("cls")}["st0"] == RUNNING


def test_an_expired_unit_queued_by_the_caps_keeps_its_password_until_it_starts(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    two = b"id,name,email\nst0,S 0,st0@x.edu\nst1,S 1,st1@x.edu\n"
    sessions.start(replay_lab, parse_roster(two), name="cls", lease=LEASE)
    first = "tc-replay-cls-st0"
    password = sessions.instances.get(first).access["password"]
    sessions.instances.expire(first)
    again = sessions.start(replay_lab, parse_roster(two), name="cls", caps=Caps(max_running=1))
    assert again.queued == ["st0"]
    assert sessions.instances.get(first).status == EXPIRED_STATUS  # record (and password) kept
    sessions.instances.stop_idle("tc-replay-cls-st1")
    room = collect(sessions, Caps(max_running=1), _lab(replay_lab))
    assert room.started == ["st0"]
    anew = sessions.instances.get(first)
    assert (anew.status, anew.access["password"]) == ("running", password)


def test_an_expired_instance_that_fails_to_come_back_stays_expired(
    sessions: Sessions, replay_lab: LoadedLab
) -> None:
    from labctl.errors import BackendError

    sessions.start(replay_lab, parse_roster(ONE), name="cls", lease=LEASE)
    ident = "tc-replay-cls-st0"
    password = sessions.instances.get(ident).access["password"]
    sessions.instances.expire(ident)
    MemoryBackend.fail_up = "no room on the engine"
    try:
        with pytest.raises(BackendError, match="no room"):
            sessions.instances.resume(replay_lab, ident)
    finally:
        MemoryBackend.fail_up = None
    kept = sessions.instances.get(ident)
    assert (kept.status, kept.access["password"]) == (EXPIRED_STATUS, password)
    assert sessions.instances.homes.get(ident) is not None
