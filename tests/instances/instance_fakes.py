"""A backend that keeps instances in memory: the interface without an engine."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar, NoReturn

from labctl.backends.base import (
    BeforeStart,
    DownReport,
    ExecResult,
    FileSpec,
    FileStat,
    HostStatus,
    ImageInfo,
    InstancePlan,
    Progress,
    Recovery,
    no_progress,
    register_backend,
)
from labctl.errors import BackendError, NotFoundError

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nlabctl:x:10001:10001::/var/lib/labctl:/bin/false\n"
#: The attacker image also has the student's login account.
ATTACKER_PASSWD = PASSWD + b"student:x:1000:1000::/home/student:/bin/bash\n"


@register_backend("memory")
class MemoryBackend:
    name = "memory"
    #: Shared by every instance of the class, as an engine is shared by every client.
    engines: ClassVar[dict[str, InstancePlan]] = {}
    fail_up: ClassVar[str | None] = None
    #: (instance, host, path) → what copy_to wrote: injects read back what they wrote.
    files: ClassVar[dict[tuple[str, str, str], FileSpec]] = {}
    restarts: ClassVar[list[tuple[str, str]]] = []
    #: (instance, host) of every ``recover``; whether it makes the host ready again.
    recoveries: ClassVar[list[tuple[str, str]]] = []
    recover_ready: ClassVar[bool] = True
    #: Roles ``prepare_images`` was asked for.
    prepared: ClassVar[list[str]] = []
    #: Instances whose hosts ``stop`` stopped (``start`` starts them again).
    stopped: ClassVar[set[str]] = set()

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
        *,
        keep_on_failure: bool = False,
    ) -> list[HostStatus]:
        if MemoryBackend.fail_up:
            if keep_on_failure:  # created, then a host failed: left as it is
                self.engines[plan.instance_id] = plan
            raise BackendError("bring up", MemoryBackend.fail_up)
        self.engines[plan.instance_id] = plan  # created: the copy pair and stat work
        try:
            if before_start is not None:
                before_start(plan)
        except BaseException:
            if not keep_on_failure:
                del self.engines[plan.instance_id]
            raise
        for host in plan.hosts:
            progress(host.name, "healthy")
        return self.status(plan.instance_id)

    def down(self, instance_id: str, progress: Progress = no_progress) -> DownReport:
        self.stopped.discard(instance_id)
        plan = self.engines.pop(instance_id, None)
        if plan is None:
            return DownReport(0, 0, 0)
        return DownReport(len(plan.hosts), len(plan.networks), 0)

    def _plan(self, instance_id: str, host: str) -> InstancePlan:
        plan = self.engines.get(instance_id)
        if plan is None or host not in {h.name for h in plan.hosts}:
            raise NotFoundError("host", host)
        return plan

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        self._plan(instance_id, host)
        return ExecResult(0, " ".join(argv))

    def read_file(self, instance_id: str, host: str, path: str) -> tuple[bytes, FileStat]:
        return self.copy_from(instance_id, host, path), self.stat(instance_id, host, path)

    def stat(self, instance_id: str, host: str, path: str) -> FileStat:
        """Every file exists: 0644 labctl unless written."""
        self._plan(instance_id, host)
        spec = self.files.get((instance_id, host, path), FileSpec(b"", 0o644, 10001, 10001))
        return FileStat(spec.mode, spec.uid, spec.gid)

    def copy_to(self, instance_id: str, host: str, files: Mapping[str, FileSpec]) -> None:
        self._plan(instance_id, host)
        for path, spec in files.items():
            self.files[instance_id, host, path] = spec

    def copy_from(self, instance_id: str, host: str, path: str) -> bytes:
        self._plan(instance_id, host)
        spec = self.files.get((instance_id, host, path))
        if spec is None and path == "/etc/passwd":
            return ATTACKER_PASSWD if host == "attacker" else PASSWD
        return spec.content or b"" if spec is not None else b""

    def restart(self, instance_id: str, host: str) -> HostStatus:
        self._plan(instance_id, host)
        self.restarts.append((instance_id, host))
        return next(s for s in self.status(instance_id) if s.host == host)

    def recover(self, instance_id: str, host: str) -> Recovery:
        """The attacker has a login user (student); a runaway count of 512 drops to 3."""
        self._plan(instance_id, host)
        self.recoveries.append((instance_id, host))
        users = ("student",) if host == "attacker" else ()
        ready = MemoryBackend.recover_ready
        after, why = (3, "") if ready else (512, "512 of 512 processes still in use")
        return Recovery(host, users, 512, after, 512, ready, why, ("/home/student", "/tmp"))

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        self._plan(instance_id, host)
        return True

    def disconnect(self, instance_id: str, host: str, network: str) -> bool:
        self._plan(instance_id, host)
        return True

    def logs(self, instance_id: str, host: str, tail: int = 200) -> str:
        self._plan(instance_id, host)
        return f"{host} log\n"

    def status(self, instance_id: str) -> list[HostStatus]:
        plan = self.engines.get(instance_id)
        if plan is None:
            return []
        ports: dict[str, dict[str, int]] = {}
        for host in plan.hosts:
            for i, port in enumerate(host.published):
                ports.setdefault(host.name, {})[port] = 40000 + i
                if port in host.forwards:  # as the docker backend shows a gateway's ports
                    target, target_port = host.forwards[port]
                    ports.setdefault(target, {})[target_port] = 40000 + i
        if instance_id in self.stopped:
            return [HostStatus(h.name, "exited", "none") for h in plan.hosts]
        return [
            HostStatus(h.name, "running", "healthy", ports=ports.get(h.name, {}), uptime_s=65.0)
            for h in plan.hosts
        ]

    def instances(self) -> list[str]:
        return sorted(self.engines)

    def stop(self, instance_id: str, progress: Progress = no_progress) -> int:
        plan = self.engines.get(instance_id)
        if plan is None or instance_id in self.stopped:
            return 0
        self.stopped.add(instance_id)
        return len(plan.hosts)

    def start(self, instance_id: str, progress: Progress = no_progress) -> list[HostStatus]:
        if instance_id not in self.engines:
            raise BackendError(f"start instance {instance_id}", "it has no host on the engine")
        self.stopped.discard(instance_id)
        return self.status(instance_id)

    def shell_argv(self, instance_id: str, host: str, user: str | None = None) -> list[str]:
        self._plan(instance_id, host)
        return ["true", f"shell on {host} of {instance_id} as {user or 'root'}"]

    def vantages(self) -> NoReturn:
        raise NotFoundError("vantage support", self.name, hint="this backend has none")

    def prepare_images(self, roles: Sequence[str], progress: Progress = no_progress) -> list[str]:
        self.prepared.extend(roles)
        return []

    def build_images(
        self, progress: Progress = no_progress, force: bool = False, arch: str | None = None
    ) -> None:
        progress("runtime", "current")

    def list_images(self) -> list[ImageInfo]:
        return [ImageInfo("runtime", "labctl/runtime:test", "current", 1.0)]

    def save_images(self, path: Path, written: Callable[[int], None]) -> list[str]:
        path.write_bytes(b"images")
        written(6)
        return ["labctl/runtime:test"]

    def load_images(self, path: Path, progress: Progress = no_progress) -> list[str]:
        progress("labctl/runtime:test", "Loaded")
        return ["labctl/runtime:test"]


class HomeBackend(MemoryBackend):
    """Every exec prints ``home`` as the kept-home program does (Base64 of a gzip'd tar)."""

    home: ClassVar[bytes] = b""

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        self._plan(instance_id, host)
        return ExecResult(0, base64.b64encode(self.home).decode() + "\n")
