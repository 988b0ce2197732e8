"""Work in progress, told apart from work a killed labctl left: a ``flock`` per piece of
work (an instance's ``up``, a class session's start) in a file beside the state database.

The kernel drops the lock when its process ends, even on ``kill -9``. So a record that
says ``starting`` while nobody holds its lock was left by an interrupted labctl, and one
whose lock is held is still being worked on (the holder's pid is in the file). Both
``labctl status`` and ``labctl session status`` decide this with :func:`starting_state`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from labctl.errors import LabctlError

#: What a ``starting`` record is: still being started, or left by a killed labctl.
STARTING: Final = "starting"
INTERRUPTED: Final = "interrupted"


def lock_path(db: Path, kind: str, name: str) -> Path:
    """``<db>.<kind>-<name>.lock`` beside the state database."""
    return db.parent / f"{db.name}.{kind}-{name}.lock"


@contextmanager
def hold(path: Path, busy: Callable[[str], LabctlError]) -> Iterator[None]:
    """Hold the exclusive lock of ``path``, or raise ``busy(holder pid)`` at once."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise LabctlError(f"cannot open the lock file {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy(_read_holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing drops the lock


def holder(path: Path) -> str | None:
    """The pid (as text, maybe empty) of the process holding the lock, None if free."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def starting_state(held_by: str | None, repair: str) -> tuple[str, str]:
    """(state, what it means and what to do) of work recorded as ``starting``: a labctl
    holding its lock is still on it; without one it was interrupted, and ``repair`` says
    how to finish or remove it."""
    if held_by is not None:
        return STARTING, f"being started by labctl (pid {held_by or '?'})"
    return INTERRUPTED, f"a start was interrupted; {repair}"


def _read_holder(fd: int) -> str:
    with suppress(OSError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return text if text.isdigit() else ""
    return ""
