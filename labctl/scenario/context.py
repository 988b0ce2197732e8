"""What an applier works with: one instance on a backend, the lab's folder, the variables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.backends.base import Backend, ExecResult, FileSpec
from labctl.errors import LabctlError

PASSWD: Final = "/etc/passwd"


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


class FileStage:
    """The file reads and writes of one phase of injects, batched: each file is read from
    its host once, and the changed files are written at the end (:meth:`flush`), one copy
    per host. On a created container each engine file operation mounts its root and
    volumes; a lab's set-up edits the same few files many times over."""

    def __init__(self, backend: Backend, instance_id: str) -> None:
        self.backend = backend
        self.instance_id = instance_id
        self._meta: dict[tuple[str, str], FileMeta | None] = {}
        self._content: dict[tuple[str, str], bytes] = {}
        #: host → path → file
        self._pending: dict[str, dict[str, FileSpec]] = {}

    def _fetch(self, host: str, path: str) -> None:
        """Content and metadata of a file not seen yet, in one backend operation."""
        key = (host, path)
        if key in self._meta:
            return
        found = self.backend.read_file(self.instance_id, host, path)
        if found is None:
            self._meta[key] = None
            return
        content, meta = found
        self._meta[key] = FileMeta(meta.mode, meta.uid, meta.gid)
        self._content[key] = content

    def stat(self, host: str, path: str) -> FileMeta | None:
        self._fetch(host, path)
        return self._meta[(host, path)]

    def read(self, host: str, path: str) -> bytes:
        self._fetch(host, path)
        if (host, path) not in self._content:
            raise InjectError(f"{path} does not exist on {host}")
        return self._content[(host, path)]

    def write(self, host: str, path: str, content: bytes, meta: FileMeta) -> None:
        key = (host, path)
        self._meta[key], self._content[key] = meta, content
        spec = FileSpec(content, mode=meta.mode, uid=meta.uid, gid=meta.gid)
        self._pending.setdefault(host, {})[path] = spec

    def flush(self) -> None:
        """Write what changed: one copy per host (the backend splits it where it must, e.g.
        the Docker backend writes one archive per volume the files are on)."""
        while self._pending:
            host, files = next(iter(self._pending.items()))
            self.backend.copy_to(self.instance_id, host, files)
            del self._pending[host]


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
    #: When set, file reads and writes go through it (see :func:`staged`).
    stage: FileStage | None = None

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
        """Mode and owner of ``path``; None when it does not exist. Through the backend's
        ``stat``, not a command: it works before the host's first start too."""
        if self.stage is not None:
            return self.stage.stat(host, path)
        found = self.backend.stat(self.instance_id, host, path)
        return None if found is None else FileMeta(found.mode, found.uid, found.gid)

    def read(self, host: str, path: str) -> bytes:
        if self.stage is not None:
            return self.stage.read(host, path)
        return self.backend.copy_from(self.instance_id, host, path)

    def write(self, host: str, path: str, content: bytes, meta: FileMeta) -> None:
        if self.stage is not None:
            self.stage.write(host, path, content, meta)
            return
        spec = FileSpec(content, mode=meta.mode, uid=meta.uid, gid=meta.gid)
        self.backend.copy_to(self.instance_id, host, {path: spec})

    def ids(self, host: str, owner: str) -> tuple[int, int]:
        """(uid, gid) of the account ``owner`` on ``host``, read from its ``/etc/passwd``
        (as ``id -u``/``id -g`` would say; no command, so before the first start too)."""
        passwd = self.read(host, PASSWD).decode("utf-8", errors="replace")
        for line in passwd.splitlines():
            name, _, uid, gid, *_ = [*line.split(":"), "", "", "", ""]
            if owner in (name, uid) and uid.isdigit() and gid.isdigit():
                return int(uid), int(gid)
        raise InjectError(f"no account {owner!r} on {host}")
