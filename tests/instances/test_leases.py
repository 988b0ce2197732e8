"""Leases and kept homes, without an engine: durations, the lease table, the home
archive read as hostile input."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from instance_fakes import HomeBackend, MemoryBackend

from labctl.backends.base import FileSpec
from labctl.errors import InputError, LabctlError
from labctl.instances import InstanceStore
from labctl.instances.homes import MAX_FILES, HomeTooLarge, home_files
from labctl.instances.leases import IDLE, LIVE, Leases, parse_duration, summary
from labctl.range.wiring import HOME_SEED
from labctl.spec import LoadedLab

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4h", 14400),
        ("90m", 5400),
        ("1h30m", 5400),
        ("2d", 172800),
        ("45s", 45),
        ("0", 0),
        ("none", 0),
        (" 3H ", 10800),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "--lifetime") == seconds


@pytest.mark.parametrize("text", ["", "4", "4x", "h", "-1h", "1.5h", "8d", "1h 30m"])
def test_bad_durations_say_what_to_write(text: str) -> None:
    with pytest.raises(InputError, match="--lifetime") as caught:
        parse_duration(text, "--lifetime")
    assert "\n" not in str(caught.value)


def test_a_lease_expires_and_goes_idle_on_its_own_clock(tmp_path: Path) -> None:
    leases = Leases(InstanceStore(tmp_path / "labctl.db"))
    lease = leases.put("i1", 3600, 600, now=T0)
    assert lease.expires == "2026-12-06T10:00:00+00:00"
    assert not lease.expired(T0 + timedelta(minutes=59))
    assert lease.expired(T0 + timedelta(minutes=60))
    assert not lease.idle_since(T0 + timedelta(minutes=9))
    assert lease.idle_since(T0 + timedelta(minutes=10))
    leases.touch("i1", now=T0 + timedelta(minutes=8))
    touched = leases.get("i1")
    assert touched is not None
    assert not touched.idle_since(T0 + timedelta(minutes=10))
    assert touched.idle_since(T0 + timedelta(minutes=18))
    assert summary(touched, T0 + timedelta(minutes=30)) == (
        "ends in 30 min (10:00 UTC); stops after 10 min idle"
    )


def test_renewing_never_shortens_and_counts(tmp_path: Path) -> None:
    leases = Leases(InstanceStore(tmp_path / "labctl.db"))
    leases.put("i1", 3600, 0, now=T0)
    shorter = leases.renew("i1", 60, now=T0 + timedelta(minutes=1))
    assert shorter.expires == "2026-12-06T10:00:00+00:00"
    longer = leases.renew("i1", 3600, now=T0 + timedelta(minutes=30))
    assert (longer.expires, longer.renewals) == ("2026-12-06T10:30:00+00:00", 2)
    leases.set_state("i1", IDLE)
    assert leases.get("i1").state == IDLE  # type: ignore[union-attr]
    leases.set_state("i1", LIVE, now=T0 + timedelta(hours=2))
    lease = leases.get("i1")
    assert lease is not None
    assert (lease.state, lease.active) == (LIVE, "2026-12-06T11:00:00+00:00")
    leases.forget("i1")
    assert leases.get("i1") is None


def test_no_lifetime_means_no_end(tmp_path: Path) -> None:
    lease = Leases(InstanceStore(tmp_path / "labctl.db")).put("i1", 0, 0, now=T0)
    assert lease.left(T0) is None
    assert not lease.expired(T0 + timedelta(days=365))
    assert not lease.idle_since(T0 + timedelta(days=365))
    assert summary(lease, T0) == ""


def _tar(members: Sequence[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, content in members:
            info.size = len(content) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return gzip.compress(buffer.getvalue())


def _file(name: str, mode: int = 0o644, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.type = mode, 1000, 1000, kind
    return info


def test_a_home_archive_keeps_files_and_folders_and_drops_the_rest() -> None:
    link = _file("./link", kind=tarfile.SYMTYPE)
    link.linkname = "/etc/shadow"
    data = _tar(
        [
            (_file("./", 0o755, tarfile.DIRTYPE), b""),
            (_file("./work", 0o700, tarfile.DIRTYPE), b""),
            (_file("./work/notes.txt"), b"notes"),
            (_file("./tool", 0o4755), b"#!/bin/sh\n"),
            (link, b""),
            (_file("../escape.txt"), b"x"),
            (_file("/etc/cron.d/x"), b"x"),
            (_file("./fifo", kind=tarfile.FIFOTYPE), b""),
        ]
    )
    files = home_files(data)
    assert list(files) == ["tool", "work", "work/notes.txt"]  # parents first
    assert files["work/notes.txt"] == FileSpec(b"notes", 0o644, 1000, 1000)
    assert files["work"].content is None
    assert files["tool"].mode == 0o755  # never setuid


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip", "not a gzip"),
        (gzip.compress(b"not a tar" * 100, mtime=0), "not a readable archive"),
    ],
    ids=["not-gzip", "not-tar"],
)
def test_a_damaged_home_archive_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(LabctlError, match=message):
        home_files(data)


def test_a_home_archive_with_too_many_entries_is_refused() -> None:
    data = _tar([(_file(f"f{i}"), b"") for i in range(MAX_FILES + 1)])
    with pytest.raises(HomeTooLarge, match="entries"):
        home_files(data)


def test_a_saved_home_goes_into_the_home_seed(tmp_path: Path, replay_lab: LoadedLab) -> None:
    from labctl.instances import Instances

    backend = HomeBackend()
    instances = Instances(backend, InstanceStore(tmp_path / "labctl.db"))
    record = instances.up(replay_lab, "ana")
    HomeBackend.home = _tar([(_file("./report.md"), b"# my report")])
    saved = instances.homes.save(backend, record.id)
    assert (saved.files, saved.bytes) == (1, len(HomeBackend.home))
    assert instances.homes.restore(backend, record.id) == 1
    written = MemoryBackend.files[(record.id, "attacker", f"{HOME_SEED}/report.md")]
    assert written.content == b"# my report"
    instances.down(record.id)
    assert instances.homes.get(record.id) is None  # down forgets it


def test_a_home_that_cannot_be_read_changes_nothing(tmp_path: Path, replay_lab: LoadedLab) -> None:
    from labctl.instances import Instances

    backend = HomeBackend()
    instances = Instances(backend, InstanceStore(tmp_path / "labctl.db"))
    record = instances.up(replay_lab, "ana")
    HomeBackend.home = b"garbage"
    with pytest.raises(LabctlError, match="not a gzip"):
        instances.homes.save(backend, record.id)
    assert instances.homes.get(record.id) is None
    assert instances.get(record.id).status == "running"
