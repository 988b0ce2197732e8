"""Grader vantages on the Docker engine (see :mod:`labctl.backends.vantage`)."""

from __future__ import annotations

import os
import select
import socket
import struct
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import docker.errors

from labctl.backends.base import (
    HOST_LABEL,
    INSTANCE_LABEL,
    MANAGED_LABEL,
    READY_LABEL,
    ROLE_LABEL,
)
from labctl.backends.docker.containers import SHM_SIZE
from labctl.backends.docker.engine import LOG_CONFIG, engine_call, resource_name
from labctl.backends.vantage import VANTAGE_ROLE
from labctl.errors import BackendError

if TYPE_CHECKING:
    from labctl.backends.docker.backend import DockerBackend

#: Who runs a vantage: ``host:pid:start`` of the labctl process (its start time in clock
#: ticks since boot, /proc/PID/stat), so a vantage whose labctl was killed can be told
#: from one that a live grading run is using.
OWNER_LABEL: Final = "org.labctl.vantage-owner"

#: An exec's output without a TTY is multiplexed: a header (stream, 0, 0, 0, size) per frame.
_FRAME_HEADER: Final = struct.Struct(">BxxxL")
_STDOUT_STDERR: Final = (1, 2)


class DockerChannel:
    """A ``docker exec`` with its stdin open, over the engine's hijacked connection."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream  # the SDK's socket wrapper: kept, so the connection stays open
        self._sock: socket.socket = getattr(stream, "_sock", stream)
        self._buffer = b""
        self._ended = False

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise BackendError(
                "write to a program's stdin", str(exc) or type(exc).__name__
            ) from exc

    def receive(self, timeout: float) -> bytes | None:
        payload = self._frames()
        while not payload and not self._ended:
            if not select.select([self._sock], [], [], max(timeout, 0.0))[0]:
                return None
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise BackendError(
                    "read a program's output", str(exc) or type(exc).__name__
                ) from exc
            self._ended = not chunk
            self._buffer += chunk
            payload = self._frames()
        return payload

    def _frames(self) -> bytes:
        """The payload of every complete stdout and stderr frame in the buffer."""
        payload = b""
        while len(self._buffer) >= _FRAME_HEADER.size:
            stream, size = _FRAME_HEADER.unpack_from(self._buffer)
            end = _FRAME_HEADER.size + size
            if len(self._buffer) < end:
                break
            if stream in _STDOUT_STDERR:
                payload += self._buffer[_FRAME_HEADER.size : end]
            self._buffer = self._buffer[end:]
        return payload

    def close(self) -> None:
        for close in (self._sock.close, self._stream.close):
            with suppress(OSError):
                close()


def _why(exc: OSError) -> str:
    return str(exc) or type(exc).__name__


class DockerVantages:
    def __init__(self, backend: DockerBackend) -> None:
        self.backend = backend

    def run_vantage(
        self,
        instance_id: str,
        host: str,
        *,
        image: str,
        network: str,
        labels: Mapping[str, str],
        command: Sequence[str] = ("sleep", "infinity"),
        environment: Mapping[str, str] | None = None,
        role: str = VANTAGE_ROLE,
    ) -> None:
        name = resource_name(instance_id, host)
        tags = {**labels, MANAGED_LABEL: "true", INSTANCE_LABEL: instance_id}
        # No readiness test: a vantage serves no port (its image's health check wants sshd).
        tags |= {HOST_LABEL: host, ROLE_LABEL: role, READY_LABEL: "[]"}
        tags[OWNER_LABEL] = _owner(os.getpid()) or ""
        self._clear_orphan(name)
        with engine_call(f"run vantage {name}"):
            self.backend.client.containers.run(
                image,
                list(command),
                name=name,
                hostname=host,
                labels=tags,
                network=resource_name(instance_id, network),
                environment=dict(environment or {}),
                detach=True,
                # Confined like a student host without raw sockets: UDP needs no capability.
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                read_only=True,
                tmpfs={"/tmp": "mode=1777,size=64m"},
                shm_size=SHM_SIZE,
                log_config=LOG_CONFIG,
                user="65534:65534",
                entrypoint=["/usr/bin/tini", "--"],
                mem_limit="256m",
                pids_limit=64,
                healthcheck={"test": ["NONE"]},
            )

    def _clear_orphan(self, name: str) -> None:
        """Remove a vantage of this name left by a labctl that was killed (a killed
        ``grade`` never reaches its clean-up); one a live process owns is refused."""
        try:
            existing = self.backend.client.containers.get(name)
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException:
            return  # the run that follows reports the engine's error
        owner = existing.labels.get(OWNER_LABEL, "")
        if not _orphaned(owner):
            pid = owner.split(":")[1] if owner.count(":") == 2 else "?"
            raise BackendError(
                f"run vantage {name}",
                f"another grading run (labctl pid {pid}) is using it",
                hint=f"wait until that grade or check ends (if none runs: docker rm -f {name})",
            )
        with engine_call(f"remove the orphaned vantage {name}"):
            existing.remove(force=True, v=True)

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        name = resource_name(instance_id, host)
        try:
            with engine_call(f"remove vantage {name}"):
                self.backend.client.containers.get(name).remove(force=True, v=True)
        except BackendError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return False
            raise
        return True

    def open_channel(
        self, instance_id: str, host: str, argv: Sequence[str], *, user: str
    ) -> DockerChannel:
        name = resource_name(instance_id, host)
        api = self.backend.client.api
        with engine_call(f"start {argv[0] if argv else '?'} in {name}"):
            created = api.exec_create(
                name, list(argv), stdin=True, stdout=True, stderr=True, user=user
            )
            return DockerChannel(api.exec_start(created["Id"], socket=True))


def _owner(pid: int) -> str | None:
    """``host:pid:start`` of a live process of this machine; None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return f"{socket.gethostname()}:{pid}:{fields[19].decode()}" if len(fields) > 19 else None


def _orphaned(owner: str) -> bool:
    """Whether ``owner`` (an OWNER_LABEL) names a process of this machine that has ended.
    A vantage without the label, or from another machine, is never taken for one."""
    host, _, rest = owner.partition(":")
    pid, _, _start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return _owner(int(pid)) != owner
