"""What an applier works with: one instance on a backend, the lab's folder, the variables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.backends.base import Backend, ExecResult, FileSpec
from labctl.errors import LabctlError

#: Host programs run as this user; it may read what the hosts' root may not (no capabilities).
SERVICE_USER: Final = "labctl"


class InjectError(LabctlError):
    """An inject could not be applied (its one-line reason)."""


@dataclass(frozen=True)
class InjectLog:
    """What one inject did: the record kept in the instance's event log."""

    kind: str
    host: str
    summary: str
    changed: bool


@dataclass(frozen=True)
class FileMeta:
    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class InjectContext:
    """One live instance and what the lab's injects may refer to."""

    backend: Backend
    instance_id: str
    lab_dir: Path
    #: Template variables: params, student, instance.
    variables: Mapping[str, Any]
    #: Host name → role (spacecraft, ground-station, ...).
    roles: Mapping[str, str] = field(default_factory=dict)
    #: Values of secret parameters: never shown in a log record.
    secret_values: frozenset[str] = frozenset()

    def shown(self, value: Any) -> str:
        """``value`` as a log record may show it: secret parameters masked."""
        return "<secret>" if str(value) in self.secret_values else repr(value)

    def run(self, host: str, argv: Sequence[str], user: str = "root") -> ExecResult:
        return self.backend.exec(self.instance_id, host, list(argv), user=user)

    def check(self, host: str, argv: Sequence[str], user: str = "root") -> str:
        """Run ``argv``; its output, or InjectError quoting the command and its last line."""
        result = self.run(host, argv, user)
        if result.exit_code != 0:
            last = (result.output.strip().splitlines() or ["no output"])[-1]
            raise InjectError(f"`{' '.join(argv[:3])}` exited with {result.exit_code}: {last}")
        return result.output

    def stat(self, host: str, path: str) -> FileMeta | None:
        """Mode and owner of ``path``; None when it does not exist.

        Tried as root, then as the service user: on hosts without capabilities root
        cannot even look into the service user's 0700 directories (the keys).
        """
        for user in ("root", SERVICE_USER):
            result = self.run(host, ["stat", "-c", "%a %u %g", path], user)
            fields = result.output.split()
            if result.exit_code == 0 and len(fields) == 3 and all(f.isdigit() for f in fields):
                return FileMeta(int(fields[0], 8), int(fields[1]), int(fields[2]))
        return None

    def read(self, host: str, path: str) -> bytes:
        return self.backend.copy_from(self.instance_id, host, path)

    def write(self, host: str, path: str, content: bytes, meta: FileMeta) -> None:
        spec = FileSpec(content, mode=meta.mode, uid=meta.uid, gid=meta.gid)
        self.backend.copy_to(self.instance_id, host, {path: spec})

    def ids(self, host: str, owner: str) -> tuple[int, int]:
        """(uid, gid) of the account ``owner`` on ``host``."""
        uid = self.check(host, ["id", "-u", owner]).strip()
        gid = self.check(host, ["id", "-g", owner]).strip()
        if not (uid.isdigit() and gid.isdigit()):
            raise InjectError(f"no account {owner!r} on {host}")
        return int(uid), int(gid)
