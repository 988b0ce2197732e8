"""Files into and out of hosts, through the engine's archive API (never a program in a
host a student may own).

Writes take one archive per mount the files are on (the root file system or a volume),
extracted into the deepest directory holding that mount's files; a read-only volume is
written through a created, never-started sidecar (the engine writes no archive into a
read-only mount); a path under a tmpfs mount is refused, since the running host would
never see it. Reads take one archive: its header is the stat, its member the content. A
created host's file labctl has not written is its image's, read once per image and path;
one labctl wrote into it is answered from what was written, without the engine.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from collections.abc import Mapping
from typing import Final

import docker.errors
from docker.models.containers import Container

from labctl.backends.base import INSTANCE_LABEL, MANAGED_LABEL, FileSpec, FileStat
from labctl.backends.docker.engine import LOG_CONFIG, engine_call
from labctl.errors import BackendError
from labctl.range.wiring import HOME_SEED

#: Where a sidecar mounts a read-only volume of a host to write it (see put_files).
SIDECAR_MOUNT: Final = "/labctl-volume"
MAX_COPY_BYTES: Final = 64 * 1024 * 1024
#: Image files remembered by :class:`Files` (pristine reads): size and count caps.
PRISTINE_MAX_BYTES: Final = 256 * 1024
PRISTINE_MAX_FILES: Final = 512


class Files:
    """Reads and writes, with what a class of 35 would otherwise read 35 times: the same
    configuration files of the same images."""

    def __init__(self) -> None:
        #: (image id, path) → the image's file, as a created container shows it.
        self._pristine: dict[tuple[str, str], tuple[bytes, FileStat] | None] = {}
        #: Container id → what labctl wrote into it while it was created (not pristine).
        self._written: dict[str, dict[str, FileSpec]] = {}

    def put(self, container: Container, files: Mapping[str, FileSpec]) -> None:
        put_files(container, files)
        self._written.setdefault(str(container.id), {}).update(files)

    def written(self, container: Container, files: Mapping[str, FileSpec]) -> None:
        """``files`` were written into the created ``container`` (not its image's any more)."""
        self._written[str(container.id)] = dict(files)

    def forget(self, container: Container) -> None:
        """The container started or went: its files are no longer its image's."""
        self._written.pop(str(container.id), None)

    def read(self, container: Container, path: str) -> tuple[bytes, FileStat] | None:
        written = self._written.get(str(container.id), {})
        created = container.status == "created"
        spec = written.get(path)
        if created and spec is not None and spec.content is not None:
            return spec.content, FileStat(spec.mode, spec.uid, spec.gid)
        pristine = created and path not in written
        key = (str(container.attrs.get("Image", "")), path)
        if pristine and key in self._pristine:
            return self._pristine[key]
        found = read_file(container, path)
        small = found is None or len(found[0]) <= PRISTINE_MAX_BYTES
        if pristine and key[0] and small and len(self._pristine) < PRISTINE_MAX_FILES:
            self._pristine[key] = found
        return found


def read_file(container: Container, path: str) -> tuple[bytes, FileStat] | None:
    found = _first_member(container, path, f"read {path} in {container.name}", content=True)
    if found is None:
        return None
    stat_of, content = found
    return content, stat_of


def stat(container: Container, path: str) -> FileStat | None:
    """From the archive's header: the engine reads as root, capabilities or not."""
    found = _first_member(container, path, f"stat {path} in {container.name}", content=False)
    return None if found is None else found[0]


def _first_member(
    container: Container, path: str, operation: str, *, content: bool
) -> tuple[FileStat, bytes] | None:
    """The archive of ``path``: its first member's mode and owner, and (``content``) its
    bytes, which must then be a regular file's; None when ``path`` does not exist."""
    data = archive_unless_missing(container, path, operation)
    if data is None:
        return None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        first = tar.next()
        if first is None:
            raise BackendError(operation, "the engine sent an empty archive")
        found = FileStat(first.mode & 0o7777, first.uid, first.gid)
        if not content:
            return found, b""
        extracted = tar.extractfile(first) if first.isfile() else None
        if extracted is None:
            raise BackendError(operation, "not a regular file")
        return found, extracted.read()


def copy_from(container: Container, path: str) -> bytes:
    operation = f"copy {path} out of {container.name}"
    return file_from_tar(archive_of(container, path, operation), operation)


def put_files(container: Container, files: Mapping[str, FileSpec]) -> None:
    """One archive per mount the files are on, extracted into the deepest directory
    holding that mount's files: on a read-only root file system that is a volume, and the
    engine refuses extraction into "/" itself."""
    if not files:
        return
    if not all(path.startswith("/") for path in files):
        raise BackendError("copy files", f"not all absolute paths: {', '.join(files)}")
    refuse_tmpfs(container, files)
    for group in by_mount(container, files).values():
        _put_group(container, group)


def by_mount(container: Container, files: Mapping[str, FileSpec]) -> dict[str, dict[str, FileSpec]]:
    """``files`` grouped by the deepest mount holding each one's folder ("/": none)."""
    mounts = sorted(
        (str(m.get("Destination", "")) for m in container.attrs.get("Mounts") or []),
        key=len,
        reverse=True,
    )
    groups: dict[str, dict[str, FileSpec]] = {}
    for path, spec in files.items():
        folder = posixpath.dirname(path.rstrip("/"))
        mount = next((m for m in mounts if m and _under(folder, m)), "/")
        groups.setdefault(mount, {})[path] = spec
    return groups


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _put_group(container: Container, files: Mapping[str, FileSpec]) -> None:
    destination = posixpath.commonpath([posixpath.dirname(p.rstrip("/")) for p in files])
    archive = tar_of({posixpath.relpath(p, destination): s for p, s in files.items()})
    with engine_call(f"copy {len(files)} file(s) into {container.name}:{destination}"):
        volume = read_only_volume(container, destination)
        if volume is not None:
            put_through_sidecar(container, volume, destination, archive)
        elif not container.put_archive(destination, archive):
            raise BackendError(f"copy files into {container.name}", "the engine refused")


def read_only_volume(container: Container, path: str) -> tuple[str, str] | None:
    """(volume name, mount point) of the read-only volume holding ``path``, if one does."""
    for mount in container.attrs.get("Mounts") or []:
        where = str(mount.get("Destination", ""))
        inside = path == where or path.startswith(where.rstrip("/") + "/")
        if inside and mount.get("Type") == "volume" and not mount.get("RW", True):
            return str(mount["Name"]), where
    return None


def put_through_sidecar(
    container: Container, volume: tuple[str, str], destination: str, archive: bytes
) -> None:
    """The engine writes no archive into a read-only mount: a created (never started)
    container of the same image, with no network, mounts the volume writable for it."""
    name, mount_point = volume
    inside = posixpath.join(SIDECAR_MOUNT, posixpath.relpath(destination, mount_point))
    if container.client is None:
        raise BackendError(f"copy files into {container.name}", "no engine client")
    sidecar = container.client.containers.create(
        container.attrs["Image"],
        ["true"],
        entrypoint=[],
        name=f"{container.name}-writer",
        labels={MANAGED_LABEL: "true", **_instance_label(container)},
        network_disabled=True,
        volumes={name: {"bind": SIDECAR_MOUNT, "mode": "rw"}},
        log_config=LOG_CONFIG,
    )
    try:
        if not sidecar.put_archive(posixpath.normpath(inside), archive):
            raise BackendError(f"copy files into {container.name}", "the engine refused")
    finally:
        sidecar.remove(force=True)


def _instance_label(container: Container) -> dict[str, str]:
    labels = container.labels or {}
    return {INSTANCE_LABEL: labels[INSTANCE_LABEL]} if INSTANCE_LABEL in labels else {}


def refuse_tmpfs(container: Container, files: Mapping[str, FileSpec]) -> None:
    """The archive API writes under a tmpfs mount, where the running host never sees it."""
    mounts = (container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}
    for path in files:
        for mount in mounts:
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                raise BackendError(
                    f"copy {path} into {container.name}",
                    f"{mount} is a tmpfs mount there: what is written under it is hidden",
                    hint="files for the student's home go to "
                    f"{HOME_SEED}/ (copied into the home at every start; docs/scenarios.md)",
                )


def tar_of(files: Mapping[str, FileSpec]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, spec in files.items():
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = spec.mode, spec.uid, spec.gid, time.time()
            if spec.content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(spec.content)
                tar.addfile(info, io.BytesIO(spec.content))
    return buffer.getvalue()


def archive_of(container: Container, path: str, operation: str) -> bytes:
    """``path`` (and what is under it) as a tar archive, through the archive API."""
    with engine_call(operation):
        chunks, found = container.get_archive(path)
        if int((found or {}).get("size", 0)) > MAX_COPY_BYTES:
            raise BackendError(operation, f"larger than {MAX_COPY_BYTES} octets")
        return b"".join(chunks)


def archive_unless_missing(container: Container, path: str, operation: str) -> bytes | None:
    """``path`` as an archive, or None when it does not exist."""
    try:
        return archive_of(container, path, operation)
    except BackendError as exc:
        if isinstance(exc.__cause__, docker.errors.NotFound):
            return None
        raise


def file_from_tar(data: bytes, operation: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        extracted = tar.extractfile(member) if member is not None else None
        if extracted is None:
            raise BackendError(operation, "not a regular file")
        return extracted.read()
