"""Helpers of the fault tests (issue 12): the real ``labctl`` as a subprocess, killed with
SIGKILL at a point of its progress output; what the engine and the host guard still hold
of a test's instances."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
from live import REPO

from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker.hostguard import bridge_of, parse_listing

LABCTL = [sys.executable, "-m", "labctl"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def labctl_env(home: Path, docker_host: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "LABCTL_HOME": str(home),
        "LABCTL_LABS_DIR": str(REPO / "labs"),
        "COLUMNS": "250",
        "TERM": "xterm",
    }
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
    return env


def labctl(
    home: Path,
    *args: str,
    prefix: Sequence[str] = (),
    docker_host: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """One labctl command to its end (``prefix``: e.g. a network namespace to run it in)."""
    return subprocess.run(
        [*prefix, *LABCTL, *args],
        env=labctl_env(home, docker_host),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What a command printed, both streams, with Rich's line folding undone."""
    return " ".join((result.stdout + result.stderr).split())


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    assert "internal error" not in text.lower(), text


@dataclass(frozen=True)
class Kill:
    """How a killed command went: what it printed, and whether the kill came first."""

    output: str
    killed: bool
    seconds: float


def kill_at(
    home: Path, args: Sequence[str], marker: str | None, delay: float, timeout: float = 300
) -> Kill:
    """Run labctl on a pseudo-terminal (so Rich draws its progress as it goes) and SIGKILL
    it ``delay`` seconds after ``marker`` first appears in its output (after the start when
    ``marker`` is None). Only the labctl process is killed, as the kernel's OOM killer or
    a lost SSH session would."""
    master, slave = os.openpty()
    began = time.monotonic()
    child = subprocess.Popen(
        [*LABCTL, *args],
        env=labctl_env(home),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    output = ""
    kill_time = began + delay if marker is None else None
    try:
        while child.poll() is None:
            now = time.monotonic()
            assert now - began < timeout, f"labctl {args} neither ended nor reached {marker!r}"
            if kill_time is not None and now >= kill_time:
                child.kill()
                child.wait()
                return Kill(output, True, now - began)
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    output += _ANSI.sub("", os.read(master, 65536).decode(errors="replace"))
                except OSError:  # the child closed the terminal
                    continue
            if kill_time is None and marker is not None and marker in output:
                kill_time = time.monotonic() + delay
        return Kill(output, False, time.monotonic() - began)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        os.close(master)


def leftovers(client: docker.DockerClient, idents: Iterable[str]) -> list[str]:
    """Containers, networks and volumes labelled with one of ``idents``."""
    found = []
    for ident in idents:
        selector: dict[str, str | list[str] | bool] = {"label": f"{INSTANCE_LABEL}={ident}"}
        found += [f"container {c.name}" for c in client.containers.list(all=True, filters=selector)]
        found += [f"network {n.name}" for n in client.networks.list(filters=selector)]
        found += [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
    return found


def bridges(client: docker.DockerClient, idents: Iterable[str]) -> set[str]:
    """The host interfaces of the instances' networks (what the guard lists)."""
    names = set()
    for ident in idents:
        selector: dict[str, str | list[str] | bool] = {"label": f"{INSTANCE_LABEL}={ident}"}
        names |= {bridge_of(n.attrs) for n in client.networks.list(filters=selector)}
    return names


def guarded(prefix: Sequence[str] = ()) -> set[str]:
    """Every interface in the host guard's sets (inet and arp), read with ``nft -j``
    (``prefix``: in another network namespace)."""
    members: set[str] = set()
    for family in ("inet", "arp"):
        listing = subprocess.run(
            [*prefix, "nft", "-j", "list", "table", family, "labctl_guard"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if listing.returncode != 0:  # no table yet: nothing in it
            assert "No such file" in listing.stderr, listing.stderr
            continue
        for names in parse_listing(listing.stdout).members.values():
            members |= names
    return members
