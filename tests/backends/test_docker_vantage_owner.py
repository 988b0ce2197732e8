"""A grader vantage left by a killed labctl is told from one a live grading run uses
(labctl.backends.docker.vantage: the owner label, host:pid:start)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from labctl.backends.docker.vantage import _orphaned, _owner


def test_a_live_process_owns_its_vantage() -> None:
    owner = _owner(os.getpid())
    assert owner is not None
    assert owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert not _orphaned(owner)


def test_the_vantage_of_an_ended_process_is_orphaned() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owner = _owner(child.pid)
    child.kill()
    child.wait()
    assert owner is not None
    assert _orphaned(owner)


def test_a_reused_pid_is_not_the_owner() -> None:
    host, pid, start = str(_owner(os.getpid())).split(":")
    assert _orphaned(f"{host}:{pid}:{int(start) + 1}")


def test_unknown_owners_are_never_taken_for_orphans() -> None:
    assert not _orphaned("")  # a vantage made before the label existed
    assert not _orphaned(f"another-{socket.gethostname()}:1:1")  # another machine's labctl
    assert not _orphaned(f"{socket.gethostname()}:x:1")
