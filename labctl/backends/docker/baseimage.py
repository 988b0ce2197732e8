"""The Debian bookworm base image every lab image builds on, made without a registry.

No container registry can be reached from the build, CI or training-room machines, so nothing
is ever pulled. If ``debian:bookworm-slim`` is already loaded, it is labelled and tagged as ours.
Otherwise a minimal root file system is bootstrapped with ``debootstrap --variant=minbase`` from
the host's own Debian mirror (the one apt already uses) and imported through the Docker SDK.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import docker
import docker.errors
import requests
from docker.utils import parse_repository_tag

from labctl.backends.docker.arch import ARCH_LABEL, Arch, engine_arch
from labctl.backends.docker.wheelhouse import host_machine
from labctl.errors import BackendError

Progress = Callable[[str], None]

BASE_TAG: Final = "labctl/base:bookworm"
UPSTREAM_IMAGE: Final = "debian:bookworm-slim"
SUITE: Final = "bookworm"
DEFAULT_MIRROR: Final = "http://deb.debian.org/debian"
MANAGED_LABEL: Final = "org.labctl.managed"
BOOTSTRAP_TIMEOUT_S: Final = 1800

_APT_DIR: Final = Path("/etc/apt")
_BINFMT_DIR: Final = Path("/proc/sys/fs/binfmt_misc")
# Not /tmp: it is often a tmpfs mounted nodev, where the device nodes debootstrap creates for
# the chroot (/dev/null ...) cannot be opened and package scripts fail.
_SCRATCH_PARENT: Final = Path("/var/tmp")
# Host facts debootstrap copies into the tree; Docker provides its own per container.
_HOST_FILES: Final = frozenset({"./etc/hostname", "./etc/resolv.conf"})
# Caches that only go stale in an image (lab images run apt-get update anyway), as in -slim.
_APT_CACHES: Final = ("./var/cache/apt/archives/", "./var/lib/apt/lists/")


def docker_client() -> docker.DockerClient:
    """Connect to the engine named by the environment (DOCKER_HOST or the local socket)."""
    where = os.environ.get("DOCKER_HOST", "the local socket /var/run/docker.sock")
    try:
        client = docker.from_env()
    except docker.errors.DockerException as exc:
        raise _engine_unreachable(where, exc) from exc
    try:
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        client.close()
        raise _engine_unreachable(where, exc) from exc
    return without_proxy_lookups(client)


def without_proxy_lookups(client: docker.DockerClient) -> docker.DockerClient:
    """An engine on a local socket or over SSH (``http+docker://``) is never reached
    through an HTTP proxy, yet requests looks the proxy variables up in the environment
    for every call: a quarter of labctl's own CPU time in ``up``. A ``tcp://`` engine
    keeps them (it may sit behind one)."""
    if str(client.api.base_url).startswith("http+docker://"):
        client.api.trust_env = False
    return client


def _engine_unreachable(where: str, exc: Exception) -> BackendError:
    return BackendError(
        "connect to the Docker engine",
        f"no engine answers at {where}: {_one_line(exc)}",
        hint="start the Docker engine: `systemctl start docker`, or as root "
        "`nohup dockerd >/tmp/dockerd.log 2>&1 &` (package docker.io); "
        "or set DOCKER_HOST to a running engine",
    )


def base_tag(arch: Arch, native: Arch) -> str:
    """The base image's tag for ``arch``: :data:`BASE_TAG` for the engine's own
    architecture (``native``), ``BASE_TAG-<arch>`` for another."""
    return BASE_TAG if arch == native else f"{BASE_TAG}-{arch.name}"


def ensure_base_image(
    client: docker.DockerClient,
    tag: str = BASE_TAG,
    progress: Progress | None = None,
    arch: Arch | None = None,
) -> str:
    """Return ``tag``, naming a labelled Debian bookworm image, making the image if needed.

    Reuses an image already carrying ``tag``, our label and ``arch`` (an image without the
    architecture label was made before there was one: for the engine's own); otherwise
    labels a locally loaded ``debian:bookworm-slim`` of that architecture; otherwise
    bootstraps one (needs root and debootstrap, ~30-60 s; another architecture needs
    qemu-user-static too). ``arch`` None: the engine's own."""
    report = progress or _ignore
    native = engine_arch(client)
    wanted = arch or native
    labels = _image_labels(client, tag)
    if labels is not None and labels.get(MANAGED_LABEL) == "true":
        if labels.get(ARCH_LABEL, native.name) == wanted.name:
            report(f"base image {tag} is present")
            return tag
        report(f"{tag} is for {labels.get(ARCH_LABEL)}, not {wanted.name}: making it again")
    if _image_arch(client, UPSTREAM_IMAGE) == wanted.name:
        report(f"labelling the local {UPSTREAM_IMAGE} as {tag}")
        _label_upstream(client, tag, wanted)
    else:
        _bootstrap_and_import(client, tag, report, wanted)
    labels = _image_labels(client, tag) or {}
    if labels.get(MANAGED_LABEL) != "true":
        raise BackendError("make base image", f"{tag} exists but lacks the {MANAGED_LABEL} label")
    report(f"base image {tag} is ready")
    return tag


def _ignore(message: str) -> None:
    del message


def _image_labels(client: docker.DockerClient, ref: str) -> dict[str, str] | None:
    """Labels of the local image ``ref``, or None when there is no such image."""
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise BackendError(f"inspect image {ref}", _one_line(exc)) from exc
    return {str(key): str(value) for key, value in image.labels.items()}


def _image_arch(client: docker.DockerClient, ref: str) -> str | None:
    """The architecture the engine records for the local image ``ref`` (None: absent)."""
    try:
        return str(client.images.get(ref).attrs.get("Architecture", ""))
    except docker.errors.ImageNotFound:
        return None
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise BackendError(f"inspect image {ref}", _one_line(exc)) from exc


def base_labels(source: str, arch: Arch) -> dict[str, str]:
    """Labels put on the base image; ``source`` says where its file system came from."""
    return {
        MANAGED_LABEL: "true",
        "org.labctl.role": "base-image",
        "org.labctl.suite": SUITE,
        "org.labctl.source": source,
        ARCH_LABEL: arch.name,
    }


def _label_upstream(client: docker.DockerClient, tag: str, arch: Arch) -> None:
    dockerfile = io.BytesIO(f"FROM {UPSTREAM_IMAGE}\n".encode())
    try:
        client.images.build(
            fileobj=dockerfile,
            tag=tag,
            labels=base_labels(UPSTREAM_IMAGE, arch),
            pull=False,
            rm=True,
            forcerm=True,
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise BackendError(f"label {UPSTREAM_IMAGE} as {tag}", _one_line(exc)) from exc


def _bootstrap_and_import(
    client: docker.DockerClient, tag: str, report: Progress, arch: Arch
) -> None:
    debootstrap = _bootstrap_tool()
    # debootstrap's second stage runs here, on this machine (the engine's machine may be
    # another: an engine over SSH, or a laptop building for an ARM server)
    if arch.machine != host_machine():
        require_emulation(arch)
    mirror = debian_mirror()
    parent = _SCRATCH_PARENT if _SCRATCH_PARENT.is_dir() else None
    workdir = Path(tempfile.mkdtemp(prefix="labctl-base-", dir=parent))
    try:
        rootfs = workdir / "rootfs"
        report(
            f"no {UPSTREAM_IMAGE} for {arch.name} loaded: bootstrapping Debian {SUITE}"
            f" ({arch.name}) from {mirror}"
        )
        _debootstrap(debootstrap, rootfs, mirror, report, arch)
        report("packing the root file system")
        archive = _pack(rootfs, workdir / "rootfs.tar")
        report(f"importing it as {tag}")
        _import(client, archive, tag, base_labels(f"debootstrap {mirror}", arch))
    finally:
        _remove_workdir(workdir)
        report(f"removed {workdir}")


def _bootstrap_tool() -> str:
    operation = f"bootstrap the {SUITE} base image"
    if os.geteuid() != 0:
        raise BackendError(
            operation,
            f"no {UPSTREAM_IMAGE} image is loaded, and debootstrap needs root",
            hint=f"run once as root, or load a Debian image first (`docker load` a saved "
            f"{UPSTREAM_IMAGE})",
        )
    search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which("debootstrap", path=search_path)
    if found is None:
        raise BackendError(
            operation,
            "the debootstrap program is not installed",
            hint="install it as root: apt-get install debootstrap",
        )
    return found


def require_emulation(arch: Arch, binfmt: Path = _BINFMT_DIR) -> None:
    """A clear error unless this machine's kernel runs ``arch``'s programs through an
    emulator (binfmt_misc's ``qemu-<machine>`` entry, enabled): debootstrap's second
    stage and every ``RUN`` of the image builds run them."""
    entry = binfmt / f"qemu-{arch.machine}"
    if _read(entry).splitlines()[:1] == ["enabled"]:
        return
    raise BackendError(
        f"build images for {arch.name}",
        f"this machine cannot run {arch.name} programs ({entry} is not enabled)",
        hint="install the emulator as root with apt-get install qemu-user-static"
        f" binfmt-support, then update-binfmts --enable qemu-{arch.machine} if it stays"
        " disabled",
    )


def debian_mirror(apt_dir: Path = _APT_DIR) -> str:
    """The first http(s) mirror the host's apt sources use for the bookworm suite."""
    for uri, suites in _apt_sources(apt_dir):
        if SUITE in suites and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _apt_sources(apt_dir: Path) -> Iterator[tuple[str, list[str]]]:
    """(URI, suites) of every enabled binary ``deb`` source, in apt's order."""
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            yield from _one_line_sources(_read(path))
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        yield from _deb822_sources(_read(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _one_line_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """``deb [options] URI suite [component...]`` lines."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[len("deb ") :].strip()
        if rest.startswith("["):
            rest = rest.partition("]")[2]
        words = rest.split()
        if len(words) >= 2:
            yield words[0], [words[1]]


def _deb822_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """Stanzas of a ``.sources`` file (Types/URIs/Suites/Enabled fields)."""
    for stanza in _deb822_stanzas(text):
        types = stanza.get("types", "").split()
        if "deb" not in types or stanza.get("enabled", "yes").lower() == "no":
            continue
        suites = stanza.get("suites", "").split()
        for uri in stanza.get("uris", "").split():
            yield uri, suites


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif line[0].isspace() and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            fields[key] = value.strip()


def _debootstrap(program: str, rootfs: Path, mirror: str, report: Progress, arch: Arch) -> None:
    argv = [program, f"--arch={arch.name}", "--variant=minbase", SUITE, str(rootfs), mirror]
    env = {**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    tail: deque[str] = deque(maxlen=4)
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as proc:
        watchdog = threading.Timer(BOOTSTRAP_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            for line in proc.stdout or ():
                if line.strip():
                    tail.append(line.strip())
                    report(f"debootstrap: {line.strip()}")
        finally:
            watchdog.cancel()
        status = proc.wait()
    if status != 0:
        why = "timed out" if status < 0 else f"exited with status {status}"
        raise BackendError(
            f"bootstrap the {SUITE} base image",
            f"debootstrap {why}: {' | '.join(tail)}",
            hint=f"check that the Debian mirror {mirror} is reachable (it comes from /etc/apt)",
        )


def _pack(rootfs: Path, archive: Path) -> Path:
    """Tar the tree the way ``tar -C rootfs -c .`` would, minus host facts and apt caches."""

    def keep(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if member.name in _HOST_FILES:
            return None
        if member.isfile() and member.name.startswith(_APT_CACHES):
            return None
        return member

    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(rootfs, arcname=".", filter=keep)
    return archive


def _import(client: docker.DockerClient, archive: Path, tag: str, labels: dict[str, str]) -> None:
    repository, version = parse_repository_tag(tag)
    changes = [f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
    changes.append('CMD ["bash"]')
    try:
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=version or "latest", changes=changes
        )
    except (docker.errors.APIError, requests.exceptions.RequestException, OSError) as exc:
        raise BackendError(f"import the base image as {tag}", _one_line(exc)) from exc


def _remove_workdir(workdir: Path) -> None:
    """Delete the scratch tree; first detach anything debootstrap left mounted inside it."""
    for mountpoint in _mounts_below(workdir):
        subprocess.run(["umount", "--lazy", mountpoint], check=False, capture_output=True)
    if _mounts_below(workdir):
        raise BackendError(
            "clean up the bootstrap directory",
            f"file systems are still mounted below {workdir}",
            hint=f"unmount them, then remove {workdir} by hand",
        )
    try:
        shutil.rmtree(workdir)
    except OSError as exc:
        raise BackendError(
            "clean up the bootstrap directory", _one_line(exc), hint=f"remove {workdir} by hand"
        ) from exc


def _mounts_below(directory: Path) -> list[str]:
    """Mount points inside ``directory``, deepest first (from /proc/self/mountinfo)."""
    prefix = str(directory.resolve()) + "/"
    points = []
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = _unescape_mount(fields[4])
            if point.startswith(prefix):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _unescape_mount(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
