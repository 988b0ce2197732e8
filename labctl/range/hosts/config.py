"""Reading a host's YAML configuration file, and writing state files atomically.

Host programs read their configuration once at start. The files are what students
edit while hardening, so a mistake in them must give one clear line naming the file
and the key, and the program must refuse to start rather than run half-configured.
This module stays light (PyYAML only): every emulated host imports it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml

from labctl.errors import LabctlError

T = TypeVar("T")
C = TypeVar("C")


#: libyaml's parser when PyYAML has it: the same safe schema, a tenth of the start-up CPU.
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HostConfigError(LabctlError):
    """A host's configuration file is missing, unreadable or has a bad value."""

    exit_code = 2

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")


#: Set in the host images: on a bad configuration, wait for the file to be fixed.
WAIT_ENV: Final = "LABCTL_WAIT_ON_BAD_CONFIG"
#: How the line a waiting host prints ends (``labctl up`` looks for it in the host's log).
WAITING_SUFFIX: Final = "to be fixed; it starts again by itself"
POLL_S: Final = 1.0


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


def exit_or_wait(error: HostConfigError, path: Path, name: str) -> int:
    """After the program has printed ``error``: its exit status, or — in a container
    (``LABCTL_WAIT_ON_BAD_CONFIG=1``) — wait until ``path`` changes and start the
    program again in the same process.

    Exiting would make the container restart in a loop, and a student who mistyped a
    key could then not open a shell on the host to correct it. Waiting keeps the host
    reachable (it reports unhealthy meanwhile); SIGTERM still ends it."""
    if os.environ.get(WAIT_ENV) != "1":
        return error.exit_code
    print(f"{name}: waiting for {path} {WAITING_SUFFIX}", file=sys.stderr)
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    before = _stamp(path)
    while _stamp(path) == before:
        time.sleep(POLL_S)
    time.sleep(POLL_S)  # let an editor finish writing
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return error.exit_code  # not reached: execv replaces the process


class Config:
    """A parsed YAML mapping with typed, dotted-key access and errors that name the key."""

    def __init__(self, data: Mapping[str, Any], file: str = "<config>", prefix: str = "") -> None:
        self._data = data
        self.file = file
        self._prefix = prefix

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HostConfigError(str(path), "", f"cannot read: {exc}") from None
        try:
            data = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError as exc:
            raise HostConfigError(str(path), "", f"invalid YAML: {exc}") from None
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise HostConfigError(str(path), "", "expected a mapping of keys to values")
        return cls(data, str(path))

    def dotted(self, key: str) -> str:
        """The full dotted path of ``key`` in this section, as error messages name it."""
        return f"{self._prefix}.{key}" if self._prefix else key

    def raw(self, key: str, default: Any = ...) -> Any:
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                if default is ...:
                    raise HostConfigError(self.file, self.dotted(key), "missing")
                return default
            node = node[part]
        return node

    def get(self, key: str, kind: type[T], default: T | Any = ...) -> T:
        """The value at dotted ``key``, checked to be of ``kind`` (bool is not an int)."""
        value = self.raw(key, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise HostConfigError(
                self.file, self.dotted(key), f"expected {kind.__name__}, got {value!r}"
            )
        return value

    def section(self, key: str) -> Config:
        value = self.raw(key, {})
        if not isinstance(value, Mapping):
            raise HostConfigError(self.file, self.dotted(key), "expected a mapping")
        return Config(value, self.file, self.dotted(key))

    def keys(self) -> list[str]:
        return [str(k) for k in self._data]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def only(self, allowed: Iterable[str], key: str = "") -> None:
        """Reject keys this program does not know (at ``key``, or this section): a typo in
        a hardening setting must not be silently ignored."""
        known = set(allowed)
        section = self.section(key) if key else self
        for name in section:
            if name not in known:
                raise HostConfigError(
                    self.file,
                    section.dotted(name),
                    f"unknown key (allowed: {', '.join(sorted(known))})",
                )

    def choice(self, key: str, choices: Mapping[str, C], default: str) -> C:
        """The value at ``key`` looked up in ``choices`` (by its name in the file)."""
        value = self.get(key, str, default).lower()
        if value not in choices:
            raise HostConfigError(
                self.file, self.dotted(key), f"one of {', '.join(choices)}; got {value!r}"
            )
        return choices[value]


def write_json_atomic(path: Path, document: Any) -> None:
    """Replace ``path`` with ``document`` as JSON so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # One json.dumps then one write: json.dump streams small writes, ~40x slower.
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, sort_keys=True))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_key_file(path: Path, sizes: tuple[int, ...] = (16, 24, 32)) -> bytes:
    """A key stored as hex text (whitespace ignored)."""
    try:
        text = path.read_text(encoding="ascii")
        key = bytes.fromhex("".join(text.split()))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise HostConfigError(str(path), "", f"cannot read a hex key: {exc}") from None
    if len(key) not in sizes:
        raise HostConfigError(str(path), "", f"key of {len(key)} octets; expected one of {sizes}")
    return key


def start_again() -> None:
    """Replace this process with a fresh run of the same program (same arguments): the
    service restart an operations engineer asks for with SIGHUP (``labctl-service
    restart``). The configuration is read again; the container and its other processes
    (sshd, the engineer's own session) stay."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
