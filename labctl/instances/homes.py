"""The student's home on the workstation, kept while the instance is stopped or gone.

The home is a tmpfs (docs/security.md): a stopped container loses it. So before labctl
stops an instance (idle) or removes it (its lifetime ended), it reads the home as a
compressed tar, through a program labctl runs as root in the workstation, and keeps it
in the state file (table ``homes``). When the instance starts again, or a new one is made
for the same student, the files go into the workstation's home seed (a volume labctl
writes before the start), and the entrypoint copies the seed into the home as it does
the lab's own files.

The archive comes from a host the student has root on, so it is read as hostile input:
regular files and directories only, relative names without ``..``, at most
:data:`MAX_FILES` entries and :data:`MAX_BYTES` octets (compressed and expanded).
Symbolic links and special files are left out (counted in the summary).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from labctl.backends.base import Backend, FileSpec
from labctl.errors import LabctlError
from labctl.instances.leases import stamp, utcnow
from labctl.instances.store import InstanceStore, Schema, register_schema
from labctl.range.wiring import HOME_SEED

STUDENT_HOME: Final = "/home/student"
WORKSTATION: Final = "attacker"
#: What labctl keeps of a home: the engine's archive API copies no more at once.
MAX_BYTES: Final = 64 * 1024 * 1024
MAX_FILES: Final = 20_000

HOMES_SCHEMA: Final = register_schema(
    Schema(
        "homes",
        (
            (
                """
CREATE TABLE IF NOT EXISTS homes (
    instance TEXT PRIMARY KEY,
    saved TEXT NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    data BLOB NOT NULL
)
""",
            ),
        ),
        first_file_version=5,
    )
)

#: Runs as root in the workstation: the home as a gzip'd tar in Base64 (exec output is
#: text), never more than MAX_BYTES + 1 compressed octets.
_SAVE: Final = (
    f"tar -C {STUDENT_HOME} --warning=none --ignore-failed-read -czf - . 2>/dev/null"
    f" | head -c {MAX_BYTES + 1} | base64 -w0"
)


class HomeTooLarge(LabctlError):
    """The home is larger than labctl keeps."""


@dataclass(frozen=True)
class SavedHome:
    instance: str
    saved: str
    files: int
    bytes: int


class Homes:
    """The ``homes`` table of a state file."""

    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    def save(self, backend: Backend, instance: str, now: datetime | None = None) -> SavedHome:
        """Read the running workstation's home and keep it (replacing an older copy);
        HomeTooLarge or a LabctlError when it cannot be read, and then nothing changes."""
        result = backend.exec(instance, WORKSTATION, ["bash", "-c", f"set -o pipefail; {_SAVE}"])
        try:
            data = base64.b64decode(result.output.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise LabctlError(
                f"the home of {instance} could not be read (exit {result.exit_code})"
            ) from None
        if len(data) > MAX_BYTES:
            raise HomeTooLarge(f"the home of {instance} is larger than {MAX_BYTES >> 20} MiB")
        files = home_files(data)  # what a restore would write: checked now, not then
        saved = SavedHome(instance, stamp(now or utcnow()), len(files), len(data))
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO homes (instance, saved, files, bytes, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (instance, saved.saved, saved.files, saved.bytes, data),
            )
        return saved

    def get(self, instance: str) -> SavedHome | None:
        with self.store.reading() as db:
            row = db.execute(
                "SELECT instance, saved, files, bytes FROM homes WHERE instance = ?", (instance,)
            ).fetchone()
        return None if row is None else SavedHome(**dict(row))

    def seed_files(self, instance: str) -> dict[str, FileSpec]:
        """The kept home as files of the workstation's home seed (empty when none)."""
        with self.store.reading() as db:
            row = db.execute("SELECT data FROM homes WHERE instance = ?", (instance,)).fetchone()
        if row is None:
            return {}
        return {
            posixpath.join(HOME_SEED, name): spec for name, spec in home_files(row["data"]).items()
        }

    def restore(self, backend: Backend, instance: str) -> int:
        """Write the kept home into the (created or stopped) workstation's home seed; the
        number of files and folders written."""
        files = self.seed_files(instance)
        if files:
            backend.copy_to(instance, WORKSTATION, files)
        return len(files)

    def forget(self, instance: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM homes WHERE instance = ?", (instance,))


def home_files(data: bytes) -> dict[str, FileSpec]:
    """Relative name → file or folder of a saved home (parents first); LabctlError for an
    archive that is not a gzip'd tar or breaks a bound."""
    try:
        raw = gzip.decompress(data) if data else b""
    except (OSError, EOFError, zlib.error) as exc:
        raise LabctlError(f"a saved home is not a gzip'd archive: {exc}") from None
    if len(raw) > MAX_BYTES + MAX_FILES * 1024:  # the content, and a header per member
        raise HomeTooLarge(f"a saved home expands to more than {MAX_BYTES >> 20} MiB")
    files: dict[str, FileSpec] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_FILES:
                    raise HomeTooLarge(f"a saved home has more than {MAX_FILES} entries")
                name = _safe_name(member.name)
                if name is None or not (member.isfile() or member.isdir()):
                    continue
                mode = member.mode & 0o7777 & ~0o6000  # never setuid or setgid
                if member.isdir():
                    files[name] = FileSpec(None, mode | 0o700, member.uid, member.gid)
                    continue
                total += member.size
                if total > MAX_BYTES:
                    raise HomeTooLarge(f"a saved home holds more than {MAX_BYTES >> 20} MiB")
                handle = tar.extractfile(member)
                content = handle.read() if handle is not None else b""
                files[name] = FileSpec(content, mode, member.uid, member.gid)
    except tarfile.TarError as exc:
        raise LabctlError(f"a saved home is not a readable archive: {exc}") from None
    return dict(sorted(files.items(), key=lambda item: (item[0].count("/"), item[0])))


def _safe_name(name: str) -> str | None:
    """``./a/b`` → ``a/b``; None for the root itself, absolute names and ``..``."""
    clean = posixpath.normpath(name.lstrip("/")) if not name.startswith("/") else ""
    if clean in {"", "."} or clean.startswith("..") or "\x00" in clean:
        return None
    return clean
