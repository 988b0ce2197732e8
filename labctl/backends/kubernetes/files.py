"""A host's mounts, its files and environment as Secrets and ConfigMaps, and the init
container that prepares them before the host starts.

Docker does two things before a host's first start that Kubernetes does not: it seeds a
new volume with what the image holds at its path, and labctl writes the plan's files
(SDLS keys, owner ``labctl``, mode 0600) through the archive API. Secret and ConfigMap
volumes cannot stand in for the files: they are read-only, and their files belong to
root (or to the pod's fsGroup, which makes them group-readable), while a lab must be able
to rekey (otar-rekey) and students to fix a key's mode (gs-ssh-keys). So the files travel
in a Secret (keys, and anything not world-readable) or a ConfigMap (the rest), mounted
only in an init container, ``labctl-prepare``, which runs the host's own image with the
host's own confinement and

1. copies the image's content into each volume (Docker's volume seeding),
2. gives a root host's tmpfs mounts the owner and mode the plan asks for,
3. installs each file with the plan's exact mode and owner where the host will see it.

Volumes are emptyDirs: they live as long as the pod, as a Docker volume lives as long as
the instance (``down`` removes both), and need no storage class (docs/kubernetes.md).
"""

from __future__ import annotations

import base64
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from labctl.backends.base import FileSpec, HostPlan, InstancePlan
from labctl.backends.kubernetes.meta import dns_label, host_labels, metadata
from labctl.backends.kubernetes.security import RunAs

PREPARE: Final = "labctl-prepare"
#: Where the init container sees each mount, and the files to install.
STAGE: Final = "/labctl/stage"
FILES: Final = "/labctl/files"
FILES_VOLUME: Final = "labctl-files"
#: Size bounds of the volumes, above the worst case of what the hosts keep there
#: (docs/ground-segment.md, "Disk": mission control's archive 72 MiB and audit trail
#: 16 MiB, the rf-link's capture 95.4 MiB, the log collector's store 64 MiB).
VOLUME_MIB: Final = {"/etc/labctl": 16, "/var/lib/labctl": 96, "/var/log/labctl": 128}
DEFAULT_VOLUME_MIB: Final = 16
#: File names that hold keys whatever their mode.
KEY_SUFFIXES: Final = (".key", ".pem")
_NOT_KEY_CHAR: Final = re.compile(r"[^-._a-zA-Z0-9]+")
_SIZE: Final = re.compile(r"^(?P<number>\d+)(?P<unit>[kmg]?)$")
_UNIT_MIB: Final = {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024}


@dataclass(frozen=True)
class Mount:
    """A volume of the pod and where the host sees it."""

    volume: str
    path: str
    size_mib: int
    #: A tmpfs (an emptyDir in memory, counted against the memory limit, as in Docker).
    memory: bool = False
    read_only: bool = False
    #: Holds what the image has at ``path`` before the host starts (a Docker volume).
    seeded: bool = False
    #: tmpfs options beyond the size (uid, gid, mode).
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        return f"{STAGE}/{self.volume}"


def host_mounts(host: HostPlan) -> list[Mount]:
    """The host's tmpfs mounts, its volumes and, for files that no volume holds, a
    volume at their folder (seeded, so the image's other files there stay)."""
    mounts = [_tmpfs(path, options) for path, options in host.tmpfs.items()]
    mounts += [
        Mount(
            _volume_name("volume", path),
            path,
            VOLUME_MIB.get(path, DEFAULT_VOLUME_MIB),
            read_only=path in host.read_only_volumes,
            seeded=True,
        )
        for path in host.volumes
    ]
    folder = files_folder(host.files)
    if folder is not None and _holder(folder, mounts) is None:
        mounts.append(Mount(_volume_name("files", folder), folder, DEFAULT_VOLUME_MIB, seeded=True))
    return mounts


def _tmpfs(path: str, options: str) -> Mount:
    pairs = dict(word.partition("=")[::2] for word in options.split(",") if word)
    size = pairs.pop("size", "")
    return Mount(_volume_name("tmpfs", path), path, _mib(size), memory=True, options=pairs)


def _mib(size: str) -> int:
    """A tmpfs ``size=`` (``64m``) in MiB; no size means Docker's default, half the host's
    memory: bounded here by the memory limit alone, so the volume gets none of its own."""
    match = _SIZE.match(size.lower())
    if match is None:
        return 0
    return max(1, round(int(match["number"]) * _UNIT_MIB[match["unit"]]))


def _volume_name(kind: str, path: str) -> str:
    return dns_label(f"{kind}-{path}")


def files_folder(files: Mapping[str, FileSpec]) -> str | None:
    """The deepest folder holding every file (a listed folder holds itself), as the
    Docker backend writes them: one archive into one folder."""
    if not files:
        return None
    common = posixpath.commonpath(list(files))
    listed_folder = common in files and files[common].content is None
    return common if listed_folder else posixpath.dirname(common)


def _holder(path: str, mounts: list[Mount]) -> Mount | None:
    """The innermost mount that holds ``path``."""
    holding = [m for m in mounts if path == m.path or path.startswith(m.path.rstrip("/") + "/")]
    return max(holding, key=lambda m: len(m.path), default=None)


def pod_volumes(mounts: list[Mount]) -> list[dict[str, Any]]:
    volumes = []
    for mount in mounts:
        empty: dict[str, Any] = {"medium": "Memory"} if mount.memory else {}
        if mount.size_mib:
            empty["sizeLimit"] = f"{mount.size_mib}Mi"
        volumes.append({"name": mount.volume, "emptyDir": empty})
    return volumes


def volume_mounts(mounts: list[Mount]) -> list[dict[str, Any]]:
    """The host's own view of its mounts."""
    return [
        {"name": m.volume, "mountPath": m.path, **({"readOnly": True} if m.read_only else {})}
        for m in mounts
    ]


# --- files and environment ---------------------------------------------------------------


def is_secret(path: str, spec: FileSpec) -> bool:
    """A key (by name or content), or a file the plan keeps from other users."""
    content = spec.content or b""
    return not spec.mode & 0o004 or path.endswith(KEY_SUFFIXES) or b"PRIVATE KEY" in content


def file_key(path: str) -> str:
    """A Secret's or ConfigMap's key for ``path``: ``etc-labctl-keys-uplink.key``."""
    return _NOT_KEY_CHAR.sub("-", path.strip("/"))


def files_name(host: HostPlan) -> str:
    return f"{host.name}-files"


def environment_name(host: HostPlan) -> str:
    return f"{host.name}-environment"


def host_objects(plan: InstancePlan, host: HostPlan) -> list[dict[str, Any]]:
    """The Secrets and ConfigMap that carry ``host``'s files and environment."""
    labels = host_labels(plan, host.name, host.role)
    contents = {path: spec.content for path, spec in host.files.items() if spec.content is not None}
    secret = {file_key(p): c for p, c in contents.items() if is_secret(p, host.files[p])}
    public = {file_key(p): c for p, c in contents.items() if not is_secret(p, host.files[p])}
    objects = []
    if secret:
        objects.append(_secret(plan, files_name(host), labels, secret))
    if public:
        objects.append(_config_map(plan, files_name(host), labels, public))
    if hidden := secret_environment(plan, host):
        env = {name: value.encode() for name, value in hidden.items()}
        objects.append(_secret(plan, environment_name(host), labels, env))
    return objects


def secret_environment(plan: InstancePlan, host: HostPlan) -> dict[str, str]:
    """The variables that travel in a Secret. The plan does not mark secrets (the
    student's password and the workstation's host key are), so every value is one
    unless the manifests show it anyway: the instance's id and its lab's."""
    shown = {plan.instance_id, plan.lab}
    return {name: value for name, value in host.environment.items() if value not in shown}


def environment(plan: InstancePlan, host: HostPlan) -> list[dict[str, Any]]:
    """The container's variables: shown values as they are, the others from the Secret."""
    hidden = secret_environment(plan, host)
    return [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": environment_name(host), "key": name}}}
        if name in hidden
        else {"name": name, "value": value}
        for name, value in sorted(host.environment.items())
    ]


def _secret(
    plan: InstancePlan, name: str, labels: Mapping[str, str], data: Mapping[str, bytes]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(plan, name, labels=labels),
        "type": "Opaque",
        "immutable": True,
        "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())},
    }


def _config_map(
    plan: InstancePlan, name: str, labels: Mapping[str, str], data: Mapping[str, bytes]
) -> dict[str, Any]:
    text, binary = {}, {}
    for k, v in sorted(data.items()):
        try:
            text[k] = v.decode("utf-8")
        except UnicodeDecodeError:
            binary[k] = base64.b64encode(v).decode()
    body: dict[str, Any] = {"data": text} if text else {}
    if binary:
        body["binaryData"] = binary
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(plan, name, labels=labels),
        "immutable": True,
        **body,
    }


def files_volume(host: HostPlan) -> dict[str, Any] | None:
    """The files for the init container: one projected volume of the Secret and the
    ConfigMap, each file with the plan's mode."""
    items: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for path, spec in host.files.items():
        if spec.content is not None:
            key = file_key(path)
            items[is_secret(path, spec)].append({"key": key, "path": key, "mode": spec.mode})
    sources = [
        {kind: {"name": files_name(host), "items": items[secret]}}
        for secret, kind in ((True, "secret"), (False, "configMap"))
        if items[secret]
    ]
    if not sources:
        return None
    return {"name": FILES_VOLUME, "projected": {"sources": sources}}


# --- the init container --------------------------------------------------------------------


def prepare_script(host: HostPlan, user: RunAs, mounts: list[Mount]) -> list[str]:
    """The init container's commands (none: the host needs no preparing)."""
    lines = [
        f"if [ -d {_q(m.path)} ]; then cp -a {_q(m.path)}/. {_q(m.stage)}/; fi"
        for m in mounts
        if m.seeded
    ]
    if user.root:  # a non-root host cannot chown; its fsGroup owns its emptyDirs
        lines += [line for m in mounts for line in _tmpfs_owner(m)]
    for path, spec in host.files.items():
        lines.append(_install(path, spec, mounts))
    return lines


def _tmpfs_owner(mount: Mount) -> list[str]:
    lines = []
    if "uid" in mount.options or "gid" in mount.options:
        owner = f"{mount.options.get('uid', '0')}:{mount.options.get('gid', '0')}"
        lines.append(f"chown {owner} {_q(mount.stage)}")
    if "mode" in mount.options:
        lines.append(f"chmod {mount.options['mode']} {_q(mount.stage)}")
    return lines


def _install(path: str, spec: FileSpec, mounts: list[Mount]) -> str:
    holder = _holder(path, mounts)
    if holder is None:  # host_mounts gives every file a holder
        raise ValueError(f"no mount holds {path}")
    target = holder.stage + path[len(holder.path.rstrip("/")) :]
    owned = f"-m {spec.mode:04o} -o {spec.uid} -g {spec.gid}"
    if spec.content is None:
        return f"install -d {owned} {_q(target)}"
    return f"install {owned} {_q(f'{FILES}/{file_key(path)}')} {_q(target)}"


def _q(text: str) -> str:
    return shlex.quote(text)
