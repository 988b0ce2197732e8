"""Files labctl wrote into a host, kept in the swarm as configs: a new container of the
host's task (``restart``, a move to another node) gets them again before its gate opens.

Every ``copy_to`` (the plan's files, the scenario's file injects, per-student keys) is
written into the running container and also kept as one Swarm config per path, in the
managers' raft store (encrypted on disk by the swarm), never in an image or an
environment variable. They are attached to no service: labctl writes them back itself,
with their mode and owner, through the archive API, because config and secret mounts are
read-only files and students must be able to edit some of these. Configs, not secrets:
the Engine API never gives a secret's content back, and labctl must read them to write
them again (a manager's API is root on the swarm either way). A later write of the same
path replaces its config; the order of writes is kept (a directory before its files, a
later edit after the first version).

A ``connect`` or ``disconnect`` (a scenario moving a host between networks) is kept the
same way, in one config per host of the kind ``wiring``, and done again to a new container
before its gate opens. Not in the service's spec: updating a service makes swarm start a
new task of it, which would restart the host.

A config holds at most 500 KiB and at least one octet: a directory or an empty file keeps
one placeholder octet and says so in its labels.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Final

import docker
import docker.errors

from labctl.backends.base import HOST_LABEL, INSTANCE_LABEL, MANAGED_LABEL, FileSpec
from labctl.backends.docker.engine import engine_call, resource_name
from labctl.backends.swarm.nodes import api_of
from labctl.errors import BackendError

PATH_LABEL: Final = "org.labctl.path"
MODE_LABEL: Final = "org.labctl.mode"
OWNER_LABEL: Final = "org.labctl.owner"
KIND_LABEL: Final = "org.labctl.kind"
#: Nanoseconds since the epoch of the write: the order files are written back in.
ORDER_LABEL: Final = "org.labctl.order"
MAX_BYTES: Final = 500 * 1024
#: The kind of the one config per host that keeps its network changes (no file).
WIRING_KIND: Final = "wiring"
_PLACEHOLDER: Final = b"\n"


def config_name(instance_id: str, host: str, path: str) -> str:
    """``labctl-<id>-<host>-<digest of the path>`` (a config's name is at most 64 characters)."""
    digest = hashlib.sha256(path.encode()).hexdigest()[:12]
    name = resource_name(instance_id, host, digest)
    return name if len(name) <= 64 else f"labctl-{_digest(instance_id, host, path)}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def keep(
    client: docker.DockerClient, instance_id: str, host: str, files: Mapping[str, FileSpec]
) -> None:
    """Keep ``files`` (just written into ``host``) as the instance's configs."""
    for path, spec in files.items():
        if spec.content is not None and len(spec.content) > MAX_BYTES:
            raise BackendError(
                f"keep {path} of {host}", f"larger than a swarm config holds ({MAX_BYTES} octets)"
            )
        name = config_name(instance_id, host, path)
        kind = "dir" if spec.content is None else ("file" if spec.content else "empty")
        labels = {
            MANAGED_LABEL: "true",
            INSTANCE_LABEL: instance_id,
            HOST_LABEL: host,
            PATH_LABEL: path,
            MODE_LABEL: f"{spec.mode:o}",
            OWNER_LABEL: f"{spec.uid}:{spec.gid}",
            KIND_LABEL: kind,
            ORDER_LABEL: str(time.time_ns()),
        }
        with engine_call(f"keep {path} of {host} as a swarm config"):
            _remove_named(client, name)
            client.configs.create(name=name, data=spec.content or _PLACEHOLDER, labels=labels)


def kept(client: docker.DockerClient, instance_id: str, host: str) -> dict[str, FileSpec]:
    """The files kept for ``host`` (path → file), in the order they were written."""
    selector = {"label": [f"{INSTANCE_LABEL}={instance_id}", f"{HOST_LABEL}={host}"]}
    with engine_call(f"read the files kept for {host} of {instance_id}"):
        found = api_of(client).configs(filters=selector)
    found = [c for c in found if c["Spec"]["Labels"].get(KIND_LABEL) != WIRING_KIND]
    found.sort(key=lambda c: int(c["Spec"]["Labels"].get(ORDER_LABEL, "0")))
    return dict(_file(config["Spec"]) for config in found)


def keep_wiring(
    client: docker.DockerClient, instance_id: str, host: str, wiring: Mapping[str, bool]
) -> None:
    """Keep the networks a ``connect`` or ``disconnect`` changed for ``host`` (network →
    attached), replacing what was kept; nothing kept when nothing differs."""
    name = config_name(instance_id, host, WIRING_KIND)
    labels = {
        MANAGED_LABEL: "true",
        INSTANCE_LABEL: instance_id,
        HOST_LABEL: host,
        KIND_LABEL: WIRING_KIND,
    }
    with engine_call(f"keep the networks of {host}"):
        _remove_named(client, name)
        if wiring:
            data = json.dumps(dict(wiring), sort_keys=True).encode()
            client.configs.create(name=name, data=data, labels=labels)


def wiring(client: docker.DockerClient, instance_id: str, host: str) -> dict[str, bool]:
    """What :func:`keep_wiring` kept for ``host`` (nothing, or an unreadable one: {})."""
    selector = {
        "label": [
            f"{INSTANCE_LABEL}={instance_id}",
            f"{HOST_LABEL}={host}",
            f"{KIND_LABEL}={WIRING_KIND}",
        ]
    }
    with engine_call(f"read the networks kept for {host} of {instance_id}"):
        found = api_of(client).configs(filters=selector)
    if not found:
        return {}
    try:
        kept_wiring = json.loads(base64.b64decode(found[0]["Spec"]["Data"]))
    except (ValueError, KeyError):
        return {}
    if not isinstance(kept_wiring, dict):
        return {}
    return {str(k): v for k, v in kept_wiring.items() if isinstance(v, bool)}


def _file(spec: Mapping[str, Any]) -> tuple[str, FileSpec]:
    labels = spec["Labels"]
    uid, _, gid = labels[OWNER_LABEL].partition(":")
    kind = labels[KIND_LABEL]
    content = (
        None if kind == "dir" else (b"" if kind == "empty" else base64.b64decode(spec["Data"]))
    )
    return labels[PATH_LABEL], FileSpec(content, int(labels[MODE_LABEL], 8), int(uid), int(gid))


def forget(client: docker.DockerClient, instance_id: str) -> int:
    """Remove every file kept for the instance; how many there were."""
    with engine_call(f"remove the files kept for {instance_id}"):
        found = api_of(client).configs(filters={"label": f"{INSTANCE_LABEL}={instance_id}"})
        for config in found:
            with suppress(docker.errors.NotFound):
                api_of(client).remove_config(config["ID"])
    return len(found)


def _remove_named(client: docker.DockerClient, name: str) -> None:
    for config in api_of(client).configs(filters={"name": name}):
        if config["Spec"]["Name"] == name:
            with suppress(docker.errors.NotFound):
                api_of(client).remove_config(config["ID"])
