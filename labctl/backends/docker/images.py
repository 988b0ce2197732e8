"""Lab images: build (cached, by content hash), list, save to and load from one archive.

``labctl/runtime`` (python3, tini, labctl's dependencies from the wheelhouse) is built
FROM the base image; each host image ``labctl/<role>`` FROM the runtime, from
``containers/<role>/`` plus the labctl wheel, installed last so that a change to labctl
rebuilds seconds of each image, not its apt layers. Every image carries
``org.labctl.source-hash``: a hash of its build context, of the dependency wheel versions
(runtime) or the labctl sources (hosts), and of the image it is built from. An image
whose label matches is current and is not rebuilt.

Images are built for the engine's own CPU architecture unless asked for another
(:mod:`.arch`): every image is labelled with its architecture, and ``up`` refuses images
the engine cannot run.
"""

from __future__ import annotations

import fcntl
import hashlib
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import docker
import docker.errors

import labctl
from labctl.backends.base import MANAGED_LABEL, ROLE_LABEL, ImageInfo, Progress, no_progress
from labctl.backends.docker.arch import ARCH_LABEL, Arch, arch_named, engine_arch, runs_foreign
from labctl.backends.docker.baseimage import base_tag, ensure_base_image
from labctl.backends.docker.engine import engine_call
from labctl.backends.docker.wheelhouse import (
    Wheelhouse,
    build_wheelhouse,
    cache_dir,
    existing_wheelhouse,
    project_sources,
    tree_digest,
)
from labctl.backends.profiles import image_tag
from labctl.errors import BackendError, NotFoundError

RUNTIME: Final = "runtime"
HOST_ROLES: Final = (
    "spacecraft",
    "rf-link",
    "ground-station",
    "mission-control",
    "attacker",
    "log-server",
)
HASH_LABEL: Final = "org.labctl.source-hash"
VERSION_LABEL: Final = "org.labctl.version"
SAVE_CHUNK: Final = 2 * 1024 * 1024


def project_root() -> Path:
    """The source tree labctl runs from: images need its containers/ and sources."""
    root = Path(labctl.__file__).resolve().parent.parent
    if not (root / "containers" / RUNTIME / "Dockerfile").is_file():
        raise NotFoundError(
            "image sources",
            str(root / "containers"),
            hint="build images from a source checkout of labctl, or load saved ones: "
            "labctl images load ARCHIVE",
        )
    return root


@dataclass(frozen=True)
class _Hashes:
    runtime: str | None
    hosts: dict[str, str | None]


def _hashes(
    client: docker.DockerClient, root: Path, wheelhouse: Wheelhouse | None, base: str
) -> _Hashes:
    if wheelhouse is None:
        return _Hashes(None, dict.fromkeys(HOST_ROLES))
    digest = hashlib.sha256()
    digest.update(tree_digest(root, [root / "containers" / RUNTIME]).encode())
    digest.update("\n".join(wheelhouse.dep_names).encode())
    digest.update(_image_id(client, base).encode())
    runtime = digest.hexdigest()
    project = tree_digest(root, project_sources(root))
    hosts = {
        role: hashlib.sha256(
            (runtime + project + tree_digest(root, [root / "containers" / role])).encode()
        ).hexdigest()
        for role in HOST_ROLES
    }
    return _Hashes(runtime, dict(hosts))


def _image_id(client: docker.DockerClient, tag: str) -> str:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return "missing"


def _arch_of(labels: dict[str, str], native: Arch) -> Arch:
    """An image's architecture label; an image without one was built before labels
    existed, for the engine's own."""
    try:
        return arch_named(labels.get(ARCH_LABEL) or native.name)
    except BackendError:
        return native


class _HashesByArch:
    """The wanted hashes for each architecture met, computed once each."""

    def __init__(self, client: docker.DockerClient, root: Path, native: Arch) -> None:
        self.client, self.root, self.native = client, root, native
        self._known: dict[Arch, _Hashes] = {}

    def __call__(self, arch: Arch) -> _Hashes:
        if arch not in self._known:
            wheels = existing_wheelhouse(cache_dir(), arch.machine)
            base = base_tag(arch, self.native)
            self._known[arch] = _hashes(self.client, self.root, wheels, base)
        return self._known[arch]


def _wanted(hashes: _Hashes, role: str) -> str | None:
    return hashes.runtime if role == RUNTIME else hashes.hosts[role]


def _info(
    client: docker.DockerClient, role: str, hashes: Callable[[Arch], _Hashes], native: Arch
) -> ImageInfo:
    tag = image_tag(role)
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return ImageInfo(role, tag, "missing")
    size = round(int(image.attrs.get("Size", 0)) / 1e6, 1)
    arch = _arch_of(image.labels, native)
    wanted = _wanted(hashes(arch), role)
    if wanted is None:
        return ImageInfo(role, tag, "unknown", size, arch.name)
    state = "current" if image.labels.get(HASH_LABEL) == wanted else "stale"
    return ImageInfo(role, tag, state, size, arch.name)


def list_images(client: docker.DockerClient) -> list[ImageInfo]:
    """The runtime and host images: present, current or stale, and their architecture
    (no build, no network)."""
    root = project_root()
    native = engine_arch(client)
    hashes = _HashesByArch(client, root, native)
    with engine_call("list images"):
        return [_info(client, role, hashes, native) for role in (RUNTIME, *HOST_ROLES)]


def missing_images(client: docker.DockerClient, roles: Iterable[str]) -> list[str]:
    """Roles whose image is not present at all (stale ones still run)."""
    return [role for role, labels in role_labels(client, roles).items() if labels is None]


Labels = dict[str, str]


def role_labels(client: docker.DockerClient, roles: Iterable[str]) -> dict[str, Labels | None]:
    """Each role's image labels, None for a role whose image is not present."""
    found: dict[str, dict[str, str] | None] = {}
    with engine_call("list images"):
        for role in sorted(set(roles)):
            try:
                found[role] = dict(client.images.get(image_tag(role)).labels)
            except docker.errors.ImageNotFound:
                found[role] = None
    return found


def images_arch(labels: Iterable[dict[str, str] | None]) -> str | None:
    """The one architecture label the present images carry (None: unlabelled, none
    present, or a mix)."""
    arches = {found.get(ARCH_LABEL) for found in labels if found is not None}
    return arches.pop() if len(arches) == 1 else None


#: Images (tag@source hash) of another architecture the engine was seen to run: asked
#: once per image and process.
_RUNNABLE: set[str] = set()


def check_architecture(
    client: docker.DockerClient,
    labels: dict[str, dict[str, str] | None],
    progress: Progress = no_progress,
) -> None:
    """A clear error when an image (role → its labels) is for an architecture the engine
    cannot run; a warning when the engine emulates it (it runs, with several times the
    CPU: bench/arm64.py).
    Images of the engine's own architecture cost no engine call."""
    native: Arch | None = None
    for role, found in sorted(labels.items()):
        if found is None or not found.get(ARCH_LABEL):
            continue
        native = native or engine_arch(client)
        arch = _arch_of(found, native)
        if arch == native:
            continue
        tag = image_tag(role)
        key = f"{tag}@{found.get(HASH_LABEL, '')}"
        if key in _RUNNABLE:
            continue
        if not runs_foreign(client, tag):
            raise BackendError(
                f"start {tag}",
                f"the image is for {arch.name}, and this engine runs {native.name} programs only",
                hint=f"build images for this engine with labctl images build --arch"
                f" {native.name}, or load a bundle saved on an {native.name} machine",
            )
        _RUNNABLE.add(key)
        progress(
            "images",
            f"warning: {tag} is for {arch.name}: this {native.name} engine runs it under"
            " emulation (several times the CPU)",
        )


def build_images(
    client: docker.DockerClient,
    progress: Progress = no_progress,
    roles: Iterable[str] = HOST_ROLES,
    force: bool = False,
    arch: str | None = None,
) -> list[ImageInfo]:
    """Build the runtime, then the host images, skipping those already current, for
    ``arch`` (amd64, arm64; default: the engine's own architecture).

    One build at a time per cache folder: a second ``labctl`` waits for the first (an
    exclusive lock on ``build.lock``) instead of rewriting the wheelhouse under it."""
    target = arch_named(arch) if arch else None
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_images(client, progress, roles, force, target)


def _build_images(
    client: docker.DockerClient,
    progress: Progress,
    roles: Iterable[str],
    force: bool,
    target: Arch | None,
) -> list[ImageInfo]:
    root = project_root()
    native = engine_arch(client)
    arch = target or native
    base = base_tag(arch, native)
    ensure_base_image(client, base, lambda message: progress("base", message), arch)
    wheelhouse = build_wheelhouse(
        root, cache_dir(), lambda m: progress("wheelhouse", m), arch.machine
    )
    hashes = _hashes(client, root, wheelhouse, base)
    unknown = _Hashes(None, dict.fromkeys(HOST_ROLES))  # an image of another architecture

    def by_arch(found: Arch) -> _Hashes:
        return hashes if found == arch else unknown

    def stale(role: str) -> bool:
        return force or _info(client, role, by_arch, native).state != "current"

    labels = {ARCH_LABEL: arch.name}
    if stale(RUNTIME):
        with _runtime_context(root, wheelhouse) as context:
            runtime_labels = _labels(RUNTIME, hashes.runtime) | labels
            _build(client, RUNTIME, context, runtime_labels, base=base, progress=progress)
    else:
        progress(RUNTIME, "up to date")
    wanted = [r for r in roles if stale(r)]
    for role in set(roles) - set(wanted):
        progress(role, "up to date")
    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [
            pool.submit(
                _build_host,
                client,
                root=root,
                wheelhouse=wheelhouse,
                role=role,
                labels=_labels(role, hashes.hosts[role]) | labels,
                base=base,
                progress=progress,
            )
            for role in wanted
        ]:
            future.result()
    return [_info(client, role, by_arch, native) for role in roles]


def _labels(role: str, source_hash: str | None) -> dict[str, str]:
    return {
        MANAGED_LABEL: "true",
        ROLE_LABEL: role,
        HASH_LABEL: source_hash or "",
        VERSION_LABEL: labctl.__version__,
    }


def _build_host(
    client: docker.DockerClient,
    *,
    root: Path,
    wheelhouse: Wheelhouse,
    role: str,
    labels: dict[str, str],
    base: str,
    progress: Progress,
) -> None:
    context = _directory_context(root / "containers" / role)
    context.add(wheelhouse.project.parent, "wheel")  # a directory entry (recursive=False)
    context.add(wheelhouse.project, f"wheel/{wheelhouse.project.name}")
    with context as file:
        _build(client, role, file, labels, base=base, progress=progress)


def _build(
    client: docker.DockerClient,
    role: str,
    context: IO[bytes],
    labels: dict[str, str],
    *,
    base: str,
    progress: Progress,
) -> None:
    tag = image_tag(role)
    progress(role, f"building {tag}")
    args = {"BASE_IMAGE": base, "RUNTIME_IMAGE": image_tag(RUNTIME)}
    with engine_call(f"build image {tag}"):
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            labels=labels,
            buildargs=args,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        _follow(role, stream, progress)
    progress(role, f"built {tag}")


def _follow(role: str, stream: Iterator[dict[str, Any]], progress: Progress) -> None:
    """Relay build output; a step that failed arrives as an ``error`` event, not an exception."""
    for event in stream:
        if "error" in event:
            detail = " ".join(str(event["error"]).split())
            raise BackendError(f"build image {image_tag(role)}", detail)
        line = str(event.get("stream", "")).strip()
        if line:
            progress(role, line)


class _Context:
    """A build context written to a temporary file, closed (and deleted) on exit."""

    def __init__(self) -> None:
        # Closed by __enter__ (the tar) and __exit__ (the file): this object is the manager.
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.tar = tarfile.open(fileobj=self.file, mode="w")  # noqa: SIM115

    def add(self, path: Path, name: str) -> None:
        self.tar.add(path, arcname=name, recursive=False, filter=_normalise)

    def __enter__(self) -> IO[bytes]:
        self.tar.close()
        self.file.seek(0)
        return self.file

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _directory_context(directory: Path) -> _Context:
    context = _Context()
    for path in sorted(directory.rglob("*")):
        context.add(path, str(path.relative_to(directory)))
    return context


def _runtime_context(root: Path, wheelhouse: Wheelhouse) -> _Context:
    context = _directory_context(root / "containers" / RUNTIME)
    for directory in ("wheelhouse", "wheelhouse/deps"):
        context.add(wheelhouse.root, directory)  # a directory entry (recursive=False)
    for wheel in wheelhouse.deps:
        context.add(wheel, f"wheelhouse/deps/{wheel.name}")
    return context


# --- save / load -------------------------------------------------------------------------


def saved_tags(client: docker.DockerClient) -> list[str]:
    """The base, runtime and host images, the base of the runtime's architecture."""
    native = engine_arch(client)
    try:
        arch = _arch_of(client.images.get(image_tag(RUNTIME)).labels, native)
    except docker.errors.ImageNotFound:
        arch = native
    tags = [base_tag(arch, native), image_tag(RUNTIME), *(image_tag(r) for r in HOST_ROLES)]
    missing = [t for t in tags if _image_id(client, t) == "missing"]
    if missing:
        raise NotFoundError("image", missing[0], hint="build the images first: labctl images build")
    return tags


def save_images(
    client: docker.DockerClient, path: Path, progress: Callable[[int], None] | None = None
) -> list[str]:
    """Write every labctl image into one ``docker save`` archive (shared layers once)."""
    tags = saved_tags(client)
    report = progress or (lambda written: None)
    written = 0
    with engine_call(f"save images to {path}"):
        # The SDK saves one image per call; the Engine API's /images/get takes several
        # names, so shared layers are stored once and plain `docker load` reads the file.
        api: Any = client.api
        response = api._get(api._url("/images/get"), params={"names": tags}, stream=True)
        api._raise_for_status(response)
        with _open_for_writing(path) as out:
            for chunk in response.iter_content(chunk_size=SAVE_CHUNK):
                out.write(chunk)
                written += len(chunk)
                report(written)
    return tags


def _open_for_writing(path: Path) -> IO[bytes]:
    try:
        return path.open("wb")
    except OSError as exc:
        raise BackendError(f"save images to {path}", exc.strerror or str(exc)) from exc


def load_images(
    client: docker.DockerClient, path: Path, progress: Progress = no_progress
) -> list[str]:
    """Load an archive written by :func:`save_images` (or by ``docker save``)."""
    try:
        archive = path.open("rb")
    except OSError as exc:
        raise BackendError(f"load images from {path}", exc.strerror or str(exc)) from exc
    loaded = []
    with archive, engine_call(f"load images from {path}"):
        api: Any = client.api  # load_image is untyped in types-docker
        for event in api.load_image(archive):
            if "error" in event:
                raise BackendError(f"load images from {path}", str(event["error"]))
            line = str(event.get("stream", "")).strip()
            if line.startswith("Loaded image:"):
                loaded.append(line.split(":", 1)[1].strip())
                progress("load", line)
    return loaded


def context_bytes(directory: Path) -> bytes:
    """The build context of ``directory`` as bytes (for tests and inspection)."""
    with _directory_context(directory) as file:
        return file.read()
