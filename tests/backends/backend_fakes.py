"""An in-process stand-in for the parts of the Docker SDK the docker backend uses.

It records every object it creates and removes, so tests can prove that a failed ``up``
leaves nothing behind. Only behaviour the backend relies on is modelled.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import posixpath
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from labctl.backends.base import (
    ACCESS_NETWORK,
    FileSpec,
    HostPlan,
    InstancePlan,
    Limits,
    NetworkPlan,
)

_ids = itertools.count(1)


def _matches(labels: dict[str, str], filters: dict[str, Any] | None) -> bool:
    wanted = (filters or {}).get("label", [])
    for item in [wanted] if isinstance(wanted, str) else wanted:
        key, _, value = item.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


@dataclass
class FakeNetwork:
    client: FakeClient
    name: str
    labels: dict[str, str]
    internal: bool
    options: dict[str, str]
    connected: list[tuple[str, list[str]]] = field(default_factory=list)
    subnet: str = ""
    gateway: str = ""

    id: str = field(default_factory=lambda: f"{next(_ids):012x}" + "0" * 52)

    @property
    def attrs(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Labels": self.labels,
            "Internal": self.internal,
            "Options": self.options,
        }

    def connect(self, container: FakeContainer, aliases: list[str]) -> None:
        self.connected.append((container.name, aliases))
        container.networks.append(self.name)

    def remove(self) -> None:
        self.client.networks.objects.remove(self)
        self.client.removed.append(("network", self.name))


@dataclass
class FakeVolume:
    client: FakeClient
    name: str
    labels: dict[str, str]

    def remove(self, force: bool = False) -> None:
        self.client.volumes.objects.remove(self)
        self.client.removed.append(("volume", self.name))


@dataclass
class FakeContainer:
    client: FakeClient
    name: str
    labels: dict[str, str]
    options: dict[str, Any]
    networks: list[str] = field(default_factory=list)
    status: str = "created"
    health: str | None = "starting"
    health_exit: int = 0
    archives: list[tuple[str, bytes]] = field(default_factory=list)
    ports: dict[str, Any] = field(default_factory=dict)
    #: The engine's pids count, one per ``stats`` call (the last one repeats).
    pids: list[int] = field(default_factory=lambda: [2])
    exit_code: int = 0
    #: What the container's program wrote (``logs``).
    log: bytes = b"log line\n"

    @property
    def id(self) -> str:
        return f"id-{self.name}"

    @property
    def attrs(self) -> dict[str, Any]:
        state: dict[str, Any] = {"Status": self.status, "Running": self.status == "running"}
        state["StartedAt"] = "2026-01-01T00:00:00.000000000Z"
        if self.health is not None:
            state["Health"] = {"Status": self.health}
        return {
            "Labels": self.labels,  # what a sparse list entry carries
            "Image": f"sha256:{self.options.get('image', '')}",
            "State": state,
            "RestartCount": 0,
            "Config": {"Healthcheck": {"Test": ["CMD", "true"]}},
            "HostConfig": {"Tmpfs": self.options.get("tmpfs", {})},
            "NetworkSettings": {
                "Ports": self.ports,
                "Networks": {n: {"IPAddress": "10.0.0.2"} for n in self.networks},
            },
        }

    def start(self) -> None:
        self.status = "running"
        self.client.on_start(self)

    def reload(self) -> None:
        pass

    def exec_run(self, argv: list[str], user: str = "") -> tuple[int, bytes]:
        self.client.execs.append((self.name, argv))
        return self.health_exit, b""

    def put_archive(self, path: str, data: bytes) -> bool:
        self.archives.append((path, data))
        return True

    def get_archive(self, path: str) -> tuple[list[bytes], dict[str, Any]]:
        """``path`` as the newest archive put here holds it (created containers too)."""
        self.client.archive_reads.append((self.name, path))
        for destination, data in reversed(self.archives):
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                found = {m.name: m for m in tar.getmembers()}
                member = found.get(posixpath.relpath(path, destination))
                if member is not None:
                    return [_tar_of_member(tar, member)], {"size": member.size}
        from docker.errors import NotFound

        raise NotFound(f"Could not find the file {path} in container {self.name}")

    def logs(self, tail: int = 0) -> bytes:
        lines = self.log.splitlines(keepends=True)
        return b"".join(lines[-tail:] if tail else lines)

    def stats(self, stream: bool = True, one_shot: bool = False) -> dict[str, Any]:
        current = self.pids.pop(0) if len(self.pids) > 1 else self.pids[0]
        return {"pids_stats": {"current": current, "limit": self.options.get("pids_limit")}}

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        self.status = "exited"
        return {"StatusCode": self.exit_code}

    def remove(self, force: bool = False, v: bool = False) -> None:
        self.client.containers.objects.remove(self)
        self.client.removed.append(("container", self.name))


def _tar_of_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        content = tar.extractfile(member) if member.isfile() else None
        renamed = copy.copy(member)
        renamed.name = posixpath.basename(member.name)
        out.addfile(renamed, content)
    return buffer.getvalue()


class _Collection:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.objects: list[Any] = []

    def list(
        self,
        all: bool = False,
        filters: dict[str, Any] | None = None,
        sparse: bool = False,
        ignore_removed: bool = False,
    ) -> list[Any]:
        return [o for o in self.objects if _matches(o.labels, filters)]


class _Networks(_Collection):
    def create(
        self,
        name: str,
        *,
        driver: str,
        internal: bool,
        options: dict[str, str],
        labels: dict[str, str],
        check_duplicate: bool,
        ipam: Any = None,
    ) -> FakeNetwork:
        subnet = ipam["Config"][0]["Subnet"] if ipam else ""
        gateway = ipam["Config"][0].get("Gateway", "") if ipam else ""
        if subnet and any(n.subnet == subnet for n in self.objects):
            raise docker.errors.APIError("Pool overlaps with other one on this address space")
        network = FakeNetwork(
            self.client, name, labels, internal, options, subnet=subnet, gateway=gateway
        )
        self.objects.append(network)
        return network


class _Volumes(_Collection):
    def create(self, name: str, labels: dict[str, str]) -> FakeVolume:
        volume = FakeVolume(self.client, name, labels)
        self.objects.append(volume)
        return volume


class _Containers(_Collection):
    def run(self, image: str, command: list[str], **options: Any) -> bytes:
        """Only the host guard runs one-shot containers (labctl.backends.docker.hostguard)."""
        assert options["network_mode"] == "host"
        assert options["cap_add"] == ["NET_ADMIN"]
        assert options["remove"]
        assert options["read_only"]
        return self.client.nft.run(command[-1], options.get("environment") or {})

    def get(self, name: str) -> FakeContainer:
        for container in self.objects:
            if container.name == name:
                return container  # type: ignore[no-any-return]
        raise docker.errors.NotFound(f"No such container: {name}")

    def create(
        self,
        image: str,
        command: list[str] | None = None,
        *,
        name: str,
        labels: dict[str, str],
        network: str | None = None,
        networking_config: dict[str, Any] | None = None,
        **options: Any,
    ) -> FakeContainer:
        if "storage_opt" in options and not self.client.storage_limits:
            raise docker.errors.APIError(
                '500 Server Error: Internal Server Error ("--storage-opt is supported only '
                "for overlay over xfs with 'pquota' mount option\")"
            )
        if self.client.fail_create and self.client.fail_create == labels.get("org.labctl.host"):
            from docker.errors import APIError

            raise APIError("create failed")
        container = FakeContainer(
            self.client,
            name,
            labels,
            {"image": image, "command": command, "networking_config": networking_config, **options},
            [network] if network else [],
        )
        self.objects.append(container)
        self.client.created.append(container)
        return container


class FakeNft:
    """The host's nftables as the host guard's containers see it: its sets' members."""

    def __init__(self) -> None:
        self.table = False
        self.members: dict[str, set[str]] = {}
        self.calls = 0

    def run(self, shell: str, environment: dict[str, str]) -> bytes:
        self.calls += 1
        for line in environment.get("RULES", "").splitlines():
            if line.startswith("add table"):
                self.table = True
            if line.startswith("add element"):
                self._change(line, add=True)
        for command in re.findall(r"nft '(delete element [^']*)'", shell):
            self._change(command, add=False)
        return self._listing().encode()

    def _change(self, line: str, *, add: bool) -> None:
        _, _, family, _, name, *_ = line.split()
        names = set(re.findall(r'"([^"]+)"', line))
        key = f"{family}/{name}"
        current = self.members.setdefault(key, set())
        self.members[key] = current | names if add else current - names

    def _listing(self) -> str:
        if not self.table:
            return ""
        documents = []
        for family, rules in (("inet", 4), ("arp", 2)):
            items: list[dict[str, Any]] = [
                {"rule": {"family": family, "table": "labctl_guard"}} for _ in range(rules)
            ]
            items += [
                {
                    "set": {
                        "family": family,
                        "table": "labctl_guard",
                        "name": key.split("/")[1],
                        "elem": sorted(members),
                    }
                }
                for key, members in self.members.items()
                if key.startswith(family + "/") and members
            ]
            documents.append(json.dumps({"nftables": items}))
        return "\n".join(documents)


class _Api:
    def __init__(self, client: FakeClient) -> None:
        self.client = client

    def create_endpoint_config(self, aliases: list[str]) -> dict[str, Any]:
        return {"Aliases": aliases}

    def networks(self) -> list[dict[str, Any]]:
        return [
            {"Name": n.name, "IPAM": {"Config": [{"Subnet": n.subnet}] if n.subnet else []}}
            for n in self.client.networks.objects
        ]


@dataclass
class FakeImage:
    attrs: dict[str, Any]


class _Images:
    def get(self, name: str) -> FakeImage:
        """Every image's health check is ``CMD true``."""
        return FakeImage({"Config": {"Healthcheck": {"Test": ["CMD", "true"]}}})


class FakeClient:
    def __init__(self) -> None:
        self.networks = _Networks(self)
        self.volumes = _Volumes(self)
        self.containers = _Containers(self)
        self.api = _Api(self)
        self.images = _Images()
        self.nft = FakeNft()
        self.removed: list[tuple[str, str]] = []
        #: Every container ever created, removed ones included.
        self.created: list[FakeContainer] = []
        self.execs: list[tuple[str, list[str]]] = []
        self.archive_reads: list[tuple[str, str]] = []
        self.fail_create: str | None = None
        #: Whether the engine's storage bounds writable layers (overlay2 on XFS + pquota).
        self.storage_limits = True
        self.on_start: Callable[[FakeContainer], None] = lambda container: None

    def everything(self) -> list[Any]:
        return [*self.networks.objects, *self.volumes.objects, *self.containers.objects]


LIMITS = Limits(memory_mib=128, cpus=0.5, pids=64)


def small_plan() -> InstancePlan:
    """Three hosts on two lab networks; the attacker publishes SSH through the access network."""
    return InstancePlan(
        instance_id="lab-ana",
        lab="lab",
        hosts=(
            HostPlan(
                "spacecraft",
                "spacecraft",
                "img/sc",
                ("rf",),
                LIMITS,
                read_only=True,
                volumes=("/etc/labctl",),
                tmpfs={"/run": "mode=0755"},
                files={
                    "/etc/labctl/keys": FileSpec(None, 0o700),
                    "/etc/labctl/keys/a.key": FileSpec(b"00", 0o600),
                },
            ),
            HostPlan(
                "ground-station",
                "ground-station",
                "img/gs",
                ("ground", "rf"),
                LIMITS,
                capabilities=("NET_ADMIN",),
            ),
            HostPlan(
                "attacker",
                "attacker",
                "img/at",
                (ACCESS_NETWORK, "rf"),
                LIMITS,
                capabilities=("NET_RAW",),
                no_new_privileges=False,
                published=("22/tcp",),
            ),
        ),
        networks=(
            NetworkPlan(ACCESS_NETWORK, access=True),
            NetworkPlan("ground"),
            NetworkPlan("rf"),
        ),
    )
