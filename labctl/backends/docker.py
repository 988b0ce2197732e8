"""The ``docker`` backend: one lab instance on one Docker engine, through the SDK.

Per instance: the plan's internal networks ``labctl-<id>-<net>`` (the lab's rf, ground,
corp and the gateway's links), all with ``inhibit_ipv4`` so the bridge holds no host
address: the host is unreachable from them (docs/ci.md). The access network
``labctl-<id>-access`` is not internal, because the engine publishes ports only from a
network with a gateway; it has inter-container traffic and masquerading off and binds
published ports to 127.0.0.1. The plan puts only its gateway (a TCP relay) there, never
a host students control: that network's bridge address is the host's, and the engine
forwards anything leaving it (see docs/backends.md).

``up`` creates networks, volumes and containers, writes the plan's files, calls its
``before_start`` hook (the archive API works on created containers, named volumes
included), starts the containers in parallel and waits until every host is ready; on any
failure, or Ctrl-C, it removes what it created.

Readiness is the host's own test (the image's health check, or the plan's), kept in the
``org.labctl.ready`` label and run by labctl when it needs an answer (``up``, ``restart``,
``status``), answered from /proc when the engine runs on this machine
(:mod:`labctl.backends.readiness`); the engine runs no periodic health checks.
Everything carries ``org.labctl.instance=<id>``, which is what ``down`` removes by.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import docker
import docker.errors
import docker.types
import requests
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume
from docker.types import EndpointConfig

from labctl.backends import hostguard, readiness, subnets
from labctl.backends.base import (
    FORWARDS_LABEL,
    HOST_LABEL,
    INSTANCE_LABEL,
    LAB_LABEL,
    MANAGED_LABEL,
    READY_LABEL,
    ROLE_LABEL,
    BeforeStart,
    DownReport,
    ExecResult,
    FileSpec,
    FileStat,
    HostPlan,
    HostStatus,
    InstancePlan,
    NetworkPlan,
    Progress,
    Recovery,
    no_progress,
    register_backend,
)
from labctl.backends.baseimage import docker_client
from labctl.backends.profiles import HOME_SEED
from labctl.errors import BackendError, NotFoundError

LAB_NETWORK_OPTIONS: Final = {"com.docker.network.bridge.inhibit_ipv4": "true"}
#: Tries at a free subnet when other labctl processes create networks at the same time.
SUBNET_ATTEMPTS: Final = 8
ACCESS_NETWORK_OPTIONS: Final = {
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
    "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1",
}
LOOPBACK: Final = "127.0.0.1"
#: Every container's output: rotated, at most 3 MiB on the engine's disk (students can
#: write to /proc/1/fd/1 as root, and hostile traffic makes hosts log).
LOG_CONFIG: Final = docker.types.LogConfig(
    type=docker.types.LogConfig.types.JSON, config={"max-size": "1m", "max-file": "3"}
)
#: Said once per process, when the engine refuses ``storage_opt size``.
UNBOUNDED_WARNING: Final = (
    "warning: this engine cannot bound writable root file systems (root on the ground "
    "station can fill its disk; docs/security.md)"
)
#: Where a sidecar mounts a read-only volume of a host to write it (see _put_files).
SIDECAR_MOUNT: Final = "/labctl-volume"
#: /dev/shm (the engine's default is 64 MiB of memory, not counted in any limit we set).
SHM_SIZE: Final = "16m"
#: A host whose readiness test fails this long after its start is unhealthy, not starting.
START_GRACE_S: Final = 20.0
MAX_COPY_BYTES: Final = 64 * 1024 * 1024
#: Image files remembered by read_file (see DockerBackend._pristine): size and count caps.
PRISTINE_MAX_BYTES: Final = 256 * 1024
PRISTINE_MAX_FILES: Final = 512
_ENGINE_ERRORS: Final = (docker.errors.DockerException, requests.exceptions.RequestException)
Filters = dict[str, str | list[str] | bool]


def _by_instance(instance_id: str) -> Filters:
    return {"label": f"{INSTANCE_LABEL}={instance_id}"}


def resource_name(instance_id: str, *parts: str) -> str:
    """``labctl-<instance>-<part>...``: names of networks, volumes and containers."""
    return "-".join(("labctl", instance_id, *parts))


def volume_name(instance_id: str, host: str, path: str) -> str:
    return resource_name(instance_id, host, path.strip("/").replace("/", "-"))


@contextmanager
def engine_call(operation: str) -> Iterator[None]:
    """Turn the SDK's exceptions into one BackendError naming the operation."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise BackendError(operation, _explain(exc)) from exc
    except _ENGINE_ERRORS as exc:
        raise BackendError(operation, _explain(exc)) from exc


def _explain(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return " ".join(str(exc.explanation).split())
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass
class _Created:
    """What one ``up`` made so far, in creation order: exactly what a rollback removes."""

    networks: list[Network] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)


@register_backend("docker")
class DockerBackend:
    """Runs instances on the Docker engine named by the environment."""

    name = "docker"

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        health_timeout_s: float = 180.0,
        poll_s: float = 0.5,
    ) -> None:
        self._client = client
        self.health_timeout_s = health_timeout_s
        self.poll_s = poll_s
        #: (image id, path) → the image's file, as a created container shows it: a class
        #: of 35 reads the same configuration files of the same images 35 times.
        self._pristine: dict[tuple[str, str], tuple[bytes, FileStat] | None] = {}
        #: Container id → paths labctl wrote into it while it was created (not pristine).
        self._written: dict[str, set[str]] = {}
        self._network_lock = threading.Lock()
        #: Whether the engine bounds writable root file systems (None: not asked yet).
        self.writable_bounded: bool | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    # --- up / down ---------------------------------------------------------------------

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
    ) -> list[HostStatus]:
        self._refuse_existing(plan.instance_id)
        created = _Created()
        try:
            self._create_all(plan, created, progress)
            self._guard(created.networks, protect=True)
            progress("host", "guarded from the lab networks")
            if before_start is not None:
                before_start(plan)
            self._start_all(created.containers, progress)
            for container in created.containers:
                self._written.pop(str(container.id), None)
            self._wait_healthy(plan, created.containers, progress)
        except BaseException:
            self._rollback(created, progress)
            raise
        return self.status(plan.instance_id)

    def _refuse_existing(self, instance_id: str) -> None:
        selector = _by_instance(instance_id)
        with engine_call(f"look for instance {instance_id}"):
            exists = bool(self.client.containers.list(all=True, filters=selector, sparse=True))
            exists = exists or bool(self._networks(selector))
        if exists:
            raise BackendError(
                f"bring up instance {instance_id}",
                "the engine already holds containers or networks of this instance",
                hint=f"remove them first: labctl down {instance_id}",
            )

    def _create_all(self, plan: InstancePlan, created: _Created, progress: Progress) -> None:
        networks = {}
        # One list of the engine's subnets per instance, not per network (at class size
        # the list is every network's details); the lock keeps this process's threads
        # from picking the same free block.
        with self._network_lock:
            used = self._used_subnets()
            for network in plan.networks:
                networks[network.name] = self._create_network(plan, network, used)
                created.networks.append(networks[network.name])
                progress(network.name, "network created")
        for host in plan.hosts:
            created.volumes += self._create_volumes(plan, host)
            asked = self.writable_bounded
            created.containers.append(self._create_container(plan, host, networks))
            progress(host.name, "container created")
            if asked is None and self.writable_bounded is False:
                progress("engine", UNBOUNDED_WARNING)

    def _labels(self, plan: InstancePlan, **extra: str) -> dict[str, str]:
        return {
            **plan.labels,
            MANAGED_LABEL: "true",
            INSTANCE_LABEL: plan.instance_id,
            LAB_LABEL: plan.lab,
            **extra,
        }

    def _create_network(
        self, plan: InstancePlan, network: NetworkPlan, used: list[subnets.Subnet]
    ) -> Network:
        """A bridge network on a /27 of labctl's pool (see labctl.backends.subnets) that
        ``used`` does not hold (and then does); when another process took the same block
        meanwhile, the engine is asked again and the next free one taken."""
        name = resource_name(plan.instance_id, network.name)
        options = ACCESS_NETWORK_OPTIONS if network.access else LAB_NETWORK_OPTIONS
        within = subnets.pool()
        for attempt in range(SUBNET_ATTEMPTS):
            if attempt:
                used[:] = self._used_subnets()
            subnet = subnets.free_subnet(used, within, skip=attempt)
            ipam = docker.types.IPAMConfig(
                pool_configs=[
                    docker.types.IPAMPool(
                        subnet=str(subnet), gateway=str(subnet.network_address + 1)
                    )
                ]
            )
            try:
                made = self.client.networks.create(
                    name,
                    driver="bridge",
                    internal=not network.access,
                    options=dict(options),
                    labels=self._labels(plan),
                    ipam=ipam,
                    check_duplicate=True,
                )
                used.append(subnet)
                return made
            except docker.errors.APIError as exc:
                if "overlap" not in str(exc).lower() or attempt == SUBNET_ATTEMPTS - 1:
                    raise BackendError(f"create network {name}", _explain(exc)) from exc
        raise BackendError(f"create network {name}", "no subnet could be allocated")

    def _used_subnets(self) -> list[subnets.Subnet]:
        with engine_call("list networks"):
            found = self.client.api.networks()
        texts = [
            str(config.get("Subnet", ""))
            for network in found
            for config in ((network.get("IPAM") or {}).get("Config") or [])
        ]
        return subnets.parse_used(texts)

    def _create_volumes(self, plan: InstancePlan, host: HostPlan) -> list[Volume]:
        volumes = []
        for path in host.volumes:
            name = volume_name(plan.instance_id, host.name, path)
            with engine_call(f"create volume {name}"):
                volumes.append(
                    self.client.volumes.create(
                        name, labels=self._labels(plan, **{HOST_LABEL: host.name})
                    )
                )
        return volumes

    def _create_container(
        self, plan: InstancePlan, host: HostPlan, networks: Mapping[str, Network]
    ) -> Container:
        first, *others = _attach_order(plan, host)
        name = resource_name(plan.instance_id, host.name)
        ready = json.dumps(ready_test(self.client, host))
        labels = self._labels(plan, **_host_labels(host), **{READY_LABEL: ready})
        options = {
            "name": name,
            "network": networks[first].name,
            "networking_config": {str(networks[first].name): self._endpoint(plan, host, first)},
            **_container_options(plan, host, labels),
        }
        with engine_call(f"create container {name}"):
            container = self._create_bounded(host, options)
            for network in others:
                networks[network].connect(container, aliases=[host.name])
        if host.files:
            _put_files(container, host.files)
        self._written[str(container.id)] = set(host.files)
        return container

    def _create_bounded(self, host: HostPlan, options: dict[str, Any]) -> Container:
        """Create with the host's writable layer bounded (``storage_opt size``) where the
        engine's storage can bound it (overlay2 on XFS with pquota, btrfs, zfs); once the
        engine says it cannot, without (``writable_bounded`` says which it was)."""
        size = host.limits.writable_mib
        if size is not None and self.writable_bounded is not False:
            try:
                made = self.client.containers.create(
                    host.image, storage_opt={"size": f"{size}m"}, **options
                )
            except docker.errors.APIError as exc:
                if "storage-opt" not in str(exc).lower():
                    raise
                self.writable_bounded = False
            else:
                self.writable_bounded = True
                return made
        return self.client.containers.create(host.image, **options)

    def _endpoint(self, plan: InstancePlan, host: HostPlan, network: str) -> EndpointConfig:
        aliases = [] if _is_access(plan, network) else [host.name]
        return self.client.api.create_endpoint_config(aliases=aliases)

    def _start_all(self, containers: Sequence[Container], progress: Progress) -> None:
        def start(container: Container) -> None:
            with engine_call(f"start container {container.name}"):
                container.start()
            progress(_host_of(container), "started")

        with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
            for future in [pool.submit(start, c) for c in containers]:
                future.result()

    def _wait_healthy(
        self, plan: InstancePlan, containers: Sequence[Container], progress: Progress
    ) -> None:
        waiting = {c.name: c for c in containers}
        pids: dict[str, int] = {}
        deadline = time.monotonic() + self.health_timeout_s
        while waiting:
            for name, container in list(waiting.items()):
                if self._healthy(container, pids):
                    progress(_host_of(container), "healthy")
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                raise _unhealthy(plan, waiting.values())
            if waiting:
                time.sleep(self.poll_s)

    def _healthy(self, container: Container, pids: dict[str, int]) -> bool:
        """Running (a crash or restart fails at once) and its readiness test passes now.

        ``pids``: the first process of each container seen running. While that process
        is still there (the engine runs here), /proc alone answers, without asking the
        engine (an inspect per host per poll is most of ``up``'s own CPU at class size);
        once it is gone, the engine says whether the host crashed or restarted."""
        argv = _ready_argv(container)
        if container.name in pids:
            answer = readiness.ready_here(pids[container.name], str(container.id), argv)
            if answer is not None:
                return answer
        with engine_call(f"inspect container {container.name}"):
            container.reload()
        state = container.attrs["State"]
        if state["Status"] in {"exited", "dead"} or container.attrs.get("RestartCount", 0) > 0:
            raise _crashed(container)
        if state["Status"] != "running":
            return False
        pids[str(container.name)] = int(state.get("Pid") or 0)
        return _ready(container)

    def _rollback(self, created: _Created, progress: Progress) -> None:
        """Remove what ``up`` created, newest first; carry on past individual failures."""
        for container in reversed(created.containers):
            self._written.pop(str(container.id), None)
            _quietly(lambda c=container: c.remove(force=True, v=True))
            progress(_host_of(container), "removed (rollback)")
        for volume in reversed(created.volumes):
            _quietly(lambda v=volume: v.remove(force=True))
        _quietly(lambda: self._guard(created.networks, protect=False))
        for network in reversed(created.networks):
            _quietly(network.remove)
            progress(str(network.name), "network removed (rollback)")

    def _guard(self, networks: Sequence[Network], *, protect: bool) -> None:
        """Add these networks' bridges to the host guard, or remove them from it
        (labctl.backends.hostguard; off with LABCTL_HOST_GUARD=off)."""
        if not networks or not hostguard.enabled():
            return
        lab: list[str] = []
        access: list[str] = []
        for network in networks:
            internal = bool(network.attrs.get("Internal"))
            (lab if internal else access).append(hostguard.bridge_of(network.attrs))
        guard = hostguard.HostGuard(self.client)
        if protect:
            guard.protect(lab, access)
        else:
            guard.release(lab, access)

    def down(self, instance_id: str, progress: Progress = no_progress) -> DownReport:
        selector = _by_instance(instance_id)
        with engine_call(f"remove instance {instance_id}"):
            containers = self.client.containers.list(
                all=True, filters=selector, ignore_removed=True
            )
            with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
                list(pool.map(_remove_container, containers))
            for container in containers:
                self._written.pop(str(container.id), None)
                progress(_host_of(container), "removed")
            networks = self.client.networks.list(filters=selector)
            for network in networks:
                network.remove()
                progress(str(network.name), "network removed")
            volumes = self.client.volumes.list(filters=selector)
            for volume in volumes:
                volume.remove(force=True)
        # A stale entry names a bridge that is gone (ids are never reused): harmless, so a
        # failure to forget it does not fail down.
        _quietly(lambda: self._guard(networks, protect=False))
        return DownReport(len(containers), len(networks), len(volumes))

    # --- exec / copy / logs ------------------------------------------------------------

    def container(self, instance_id: str, host: str) -> Container:
        """The host's container: by its name (one inspect), if its labels say it is that
        host of that instance; else by label (a list over every container)."""
        try:
            named = self.client.containers.get(resource_name(instance_id, host))
        except docker.errors.NotFound:
            named = None
        except _ENGINE_ERRORS as exc:
            raise BackendError(f"find host {host} of {instance_id}", _explain(exc)) from exc
        if named is not None and _is_host(named, instance_id, host):
            return named
        selector: Filters = {"label": [f"{INSTANCE_LABEL}={instance_id}", f"{HOST_LABEL}={host}"]}
        with engine_call(f"find host {host} of {instance_id}"):
            found = self.client.containers.list(all=True, filters=selector)
        if not found:
            raise NotFoundError("host", host, hint=f"not part of instance {instance_id!r}")
        return found[0]

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        container = self.container(instance_id, host)
        with engine_call(f"exec {argv[0] if argv else '?'} in {container.name}"):
            exit_code, output = container.exec_run(list(argv), user=user)
        text = output.decode(errors="replace") if isinstance(output, bytes) else ""
        return ExecResult(exit_code if exit_code is not None else -1, text)

    def copy_to(self, instance_id: str, host: str, files: Mapping[str, FileSpec]) -> None:
        """Write files through the engine's archive API (not into tmpfs mounts: /run, /tmp)."""
        container = self.container(instance_id, host)
        _put_files(container, files)
        self._written.setdefault(str(container.id), set()).update(files)

    def copy_from(self, instance_id: str, host: str, path: str) -> bytes:
        container = self.container(instance_id, host)
        operation = f"copy {path} out of {container.name}"
        return _file_from_tar(_archive_of(container, path, operation), operation)

    def read_file(self, instance_id: str, host: str, path: str) -> tuple[bytes, FileStat] | None:
        """One archive: its header is the stat, its member the content. A created host's
        file labctl has not written is its image's: read once per image and path."""
        container = self.container(instance_id, host)
        written = self._written.get(str(container.id), set())
        pristine = container.status == "created" and path not in written
        key = (str(container.attrs.get("Image", "")), path)
        if pristine and key in self._pristine:
            return self._pristine[key]
        found = self._read_file(container, path)
        small = found is None or len(found[0]) <= PRISTINE_MAX_BYTES
        if pristine and key[0] and small and len(self._pristine) < PRISTINE_MAX_FILES:
            self._pristine[key] = found
        return found

    def _read_file(self, container: Container, path: str) -> tuple[bytes, FileStat] | None:
        operation = f"read {path} in {container.name}"
        data = _archive_unless_missing(container, path, operation)
        if data is None:
            return None
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            first = tar.next()
            extracted = tar.extractfile(first) if first is not None and first.isfile() else None
            if first is None or extracted is None:
                raise BackendError(operation, "not a regular file")
            return extracted.read(), FileStat(first.mode & 0o7777, first.uid, first.gid)

    def stat(self, instance_id: str, host: str, path: str) -> FileStat | None:
        """From the archive's header: the engine reads as root, capabilities or not."""
        container = self.container(instance_id, host)
        operation = f"stat {path} in {container.name}"
        data = _archive_unless_missing(container, path, operation)
        if data is None:
            return None
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            first = tar.next()
        if first is None:
            raise BackendError(operation, "the engine sent an empty archive")
        return FileStat(first.mode & 0o7777, first.uid, first.gid)

    def logs(self, instance_id: str, host: str, tail: int = 200) -> str:
        container = self.container(instance_id, host)
        with engine_call(f"read logs of {container.name}"):
            raw = container.logs(tail=tail)
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)

    # --- restart / networks (the scenario engine) ----------------------------------------

    def restart(self, instance_id: str, host: str) -> HostStatus:
        """Restart the container; its health check must pass again within the timeout."""
        container = self.container(instance_id, host)
        with engine_call(f"restart {container.name}"):
            container.restart(timeout=10)
        deadline = time.monotonic() + self.health_timeout_s
        while not self._healthy_now(container):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"restart {container.name}", f"not healthy in time{_last_log(container)}"
                )
            time.sleep(self.poll_s / 4)
        return next(s for s in self.status(instance_id) if s.host == host)

    def recover(self, instance_id: str, host: str) -> Recovery:
        """End the host's login users' processes in place, from a sidecar in its PID
        namespace (labctl.backends.docker_recover); say whether it is ready again."""
        from labctl.backends.docker_recover import recover_in_place

        return recover_in_place(self, instance_id, host)

    def _healthy_now(self, container: Container) -> bool:
        """Its health check passes now (the engine's last verdict predates the restart)."""
        with engine_call(f"inspect container {container.name}"):
            container.reload()
        if container.attrs["State"]["Status"] in {"exited", "dead"}:
            raise _crashed(container)
        return container.attrs["State"]["Status"] == "running" and _ready(container)

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        container, net = self._attachment(instance_id, host, network)
        if str(net.name) in container.attrs["NetworkSettings"]["Networks"]:
            return False
        with engine_call(f"connect {container.name} to {net.name}"):
            net.connect(container, aliases=[host])
        return True

    def disconnect(self, instance_id: str, host: str, network: str) -> bool:
        container, net = self._attachment(instance_id, host, network)
        if str(net.name) not in container.attrs["NetworkSettings"]["Networks"]:
            return False
        with engine_call(f"disconnect {container.name} from {net.name}"):
            net.disconnect(container)
        return True

    def _attachment(self, instance_id: str, host: str, network: str) -> tuple[Container, Network]:
        container = self.container(instance_id, host)
        name = resource_name(instance_id, network)
        with engine_call(f"find network {name}"):
            found = [n for n in self.client.networks.list(names=[name]) if n.name == name]
        if not found:
            raise NotFoundError("network", network, hint=f"instance {instance_id} does not use it")
        return container, found[0]

    # --- status ------------------------------------------------------------------------

    def status(self, instance_id: str) -> list[HostStatus]:
        selector = _by_instance(instance_id)
        with engine_call(f"status of instance {instance_id}"):
            # ignore_removed: a container removed between the list and its inspect (a
            # `down` of the same instance elsewhere) is not an error of this call.
            containers = self.client.containers.list(
                all=True, filters=selector, ignore_removed=True
            )
        prefix = resource_name(instance_id, "")
        # A container without a host label is labctl's own short-lived helper (a file
        # writer, a recovery sidecar): not a host of the instance.
        hosts = [c for c in containers if c.labels.get(HOST_LABEL)]
        statuses = [_host_status(c.attrs, c.labels[HOST_LABEL], prefix, _health(c)) for c in hosts]
        return sorted(_forwarded(statuses, hosts), key=lambda s: s.host)

    def instances(self) -> list[str]:
        selector: Filters = {"label": INSTANCE_LABEL}
        with engine_call("list instances"):
            # sparse: one list call, no inspect per container; another user's `down`
            # between the list and an inspect would otherwise fail this call.
            found = {
                c.attrs["Labels"][INSTANCE_LABEL]
                for c in self.client.containers.list(all=True, filters=selector, sparse=True)
            }
            found |= {n.attrs["Labels"][INSTANCE_LABEL] for n in self._networks(selector)}
        return sorted(found)

    def _networks(self, selector: Filters) -> list[Network]:
        return list(self.client.networks.list(filters=selector))


# --- helpers -----------------------------------------------------------------------------


def _remove_container(container: Container) -> None:
    """Remove it with its anonymous volumes; one already gone (a concurrent ``down``) is fine."""
    with suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)


def _is_host(container: Container, instance_id: str, host: str) -> bool:
    labels = container.labels
    return (labels.get(INSTANCE_LABEL), labels.get(HOST_LABEL)) == (instance_id, host)


def _is_access(plan: InstancePlan, network: str) -> bool:
    return any(n.name == network and n.access for n in plan.networks)


def _attach_order(plan: InstancePlan, host: HostPlan) -> list[str]:
    """The access network first, so published ports are bound on it; then the lab ones."""
    order = sorted(host.networks, key=lambda n: (not _is_access(plan, n), n))
    if not order:
        raise BackendError(f"plan host {host.name}", "it is attached to no network")
    return order


def _host_labels(host: HostPlan) -> dict[str, str]:
    labels = {HOST_LABEL: host.name, ROLE_LABEL: host.role}
    if host.forwards:
        labels[FORWARDS_LABEL] = json.dumps({k: list(v) for k, v in host.forwards.items()})
    return labels


def _last_log(container: Container) -> str:
    """``: <its last log line>``, or nothing: why a host is not healthy (a host program
    waiting for its configuration to be fixed says so there)."""
    try:
        tail = container.logs(tail=3).decode("utf-8", errors="replace").strip().splitlines()
    except (docker.errors.DockerException, requests.RequestException):
        return ""
    return f": {' / '.join(tail[-2:])[:400]}" if tail else ""


def _container_options(
    plan: InstancePlan, host: HostPlan, labels: dict[str, str]
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hostname": host.name,
        "labels": labels,
        "environment": dict(host.environment),
        "mem_limit": f"{host.limits.memory_mib}m",
        "memswap_limit": f"{host.limits.memory_mib}m",
        "nano_cpus": int(host.limits.cpus * 1e9),
        "pids_limit": host.limits.pids,
        "cap_drop": ["ALL"],
        "cap_add": list(host.capabilities),
        "security_opt": ["no-new-privileges:true"] if host.no_new_privileges else [],
        "privileged": False,
        "read_only": host.read_only,
        "tmpfs": dict(host.tmpfs),
        "shm_size": SHM_SIZE,
        "log_config": LOG_CONFIG,
        "restart_policy": {"Name": "unless-stopped"},
        # No periodic engine health checks: each is a process in the container (0.15
        # CPU-s); labctl runs the READY_LABEL test when it needs an answer.
        "healthcheck": {"test": ["NONE"]},
        "ports": dict.fromkeys(host.published, (LOOPBACK, None)),
        "volumes": {
            volume_name(plan.instance_id, host.name, path): {
                "bind": path,
                "mode": "ro" if path in host.read_only_volumes else "rw",
            }
            for path in host.volumes
        },
    }
    if host.command is not None:
        options["command"] = list(host.command)
    if host.user is not None:
        options["user"] = host.user
    return options


def ready_test(client: docker.DockerClient, host: HostPlan) -> list[str]:
    """The host's readiness test: the plan's, else its image's health check."""
    if host.healthcheck is not None:
        return list(host.healthcheck)
    with engine_call(f"inspect image {host.image}"):
        config = client.images.get(host.image).attrs.get("Config") or {}
    return _test_argv((config.get("Healthcheck") or {}).get("Test") or [])


def _test_argv(test: Sequence[str]) -> list[str]:
    """An engine health-check ``Test`` as a command line ([] for none)."""
    if not test or test[0] == "NONE":
        return []
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", *test[1:]]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def _ready_argv(container: Container) -> list[str]:
    """The container's readiness test: its label, or (a container made before labctl
    kept it there) the engine health check it was created with."""
    label = container.labels.get(READY_LABEL)
    if label is None:
        return _test_argv((container.attrs["Config"].get("Healthcheck") or {}).get("Test") or [])
    try:
        argv = json.loads(label)
    except ValueError:
        return []
    return [str(word) for word in argv] if isinstance(argv, list) else []


def _ready(container: Container) -> bool:
    """The readiness test passes: answered from /proc when the engine runs here (no
    process started), else run in the container (see labctl.backends.readiness)."""
    argv = _ready_argv(container)
    if not argv:
        return True
    pid = int(container.attrs["State"].get("Pid") or 0)
    here = readiness.ready_here(pid, str(container.id or ""), argv)
    if here is not None:
        return here
    try:
        exit_code, _ = container.exec_run(argv)
    except _ENGINE_ERRORS:
        return False  # e.g. the container restarted between reload and exec
    return exit_code == 0


def _health(container: Container) -> str:
    """healthy, unhealthy, starting (failing, within START_GRACE_S of its start) or none
    (not running, or no test): asked now, not the engine's last periodic verdict."""
    state = container.attrs.get("State", {})
    if not state.get("Running") or not _ready_argv(container):
        return "none"
    if _ready(container):
        return "healthy"
    uptime = _uptime(state)
    return "starting" if uptime is not None and uptime < START_GRACE_S else "unhealthy"


def _crashed(container: Container) -> BackendError:
    try:
        tail = container.logs(tail=5).decode(errors="replace").strip().splitlines()
    except _ENGINE_ERRORS:
        tail = []
    state = container.attrs["State"]
    how = (
        f"keeps exiting (restarted {container.attrs.get('RestartCount', 0)} time(s))"
        if state.get("Restarting") or state.get("Status") == "running"
        else f"exited with status {state.get('ExitCode')}"
    )
    return BackendError(
        f"start host {_host_of(container)}",
        f"its program {how}" + (f": {' | '.join(tail[-3:])}" if tail else ""),
        hint="the instance was removed again; the program's configuration is in "
        f"containers/{container.labels.get(ROLE_LABEL, _host_of(container))}/",
    )


def _unhealthy(plan: InstancePlan, containers: Iterator[Container] | Any) -> BackendError:
    names = ", ".join(sorted(_host_of(c) for c in containers))
    return BackendError(
        f"bring up instance {plan.instance_id}",
        f"not healthy in time: {names}",
        hint="the instance was removed again; a host program that runs but never "
        "listens on its port fails this way",
    )


def _host_of(container: Container) -> str:
    return str(container.labels.get(HOST_LABEL, container.name))


def _quietly(action: Any) -> None:
    # The rollback goes on: leaving one thing behind beats leaving everything.
    with suppress(*_ENGINE_ERRORS):
        action()


def _put_files(container: Container, files: Mapping[str, FileSpec]) -> None:
    """Extract into the deepest directory holding every file: on a read-only root file
    system that is a volume, and the engine refuses extraction into "/" itself."""
    if not files:
        return
    if not all(path.startswith("/") for path in files):
        raise BackendError("copy files", f"not all absolute paths: {', '.join(files)}")
    _refuse_tmpfs(container, files)
    destination = posixpath.commonpath([posixpath.dirname(p.rstrip("/")) for p in files])
    archive = _tar_of({posixpath.relpath(p, destination): s for p, s in files.items()})
    with engine_call(f"copy {len(files)} file(s) into {container.name}:{destination}"):
        volume = _read_only_volume(container, destination)
        if volume is not None:
            _put_through_sidecar(container, volume, destination, archive)
        elif not container.put_archive(destination, archive):
            raise BackendError(f"copy files into {container.name}", "the engine refused")


def _read_only_volume(container: Container, path: str) -> tuple[str, str] | None:
    """(volume name, mount point) of the read-only volume holding ``path``, if one does."""
    for mount in container.attrs.get("Mounts") or []:
        where = str(mount.get("Destination", ""))
        inside = path == where or path.startswith(where.rstrip("/") + "/")
        if inside and mount.get("Type") == "volume" and not mount.get("RW", True):
            return str(mount["Name"]), where
    return None


def _put_through_sidecar(
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


def _refuse_tmpfs(container: Container, files: Mapping[str, FileSpec]) -> None:
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


def _tar_of(files: Mapping[str, FileSpec]) -> bytes:
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


def _archive_of(container: Container, path: str, operation: str) -> bytes:
    """``path`` (and what is under it) as a tar archive, through the archive API."""
    with engine_call(operation):
        chunks, stat = container.get_archive(path)
        if int((stat or {}).get("size", 0)) > MAX_COPY_BYTES:
            raise BackendError(operation, f"larger than {MAX_COPY_BYTES} octets")
        return b"".join(chunks)


def _archive_unless_missing(container: Container, path: str, operation: str) -> bytes | None:
    """``path`` as an archive, or None when it does not exist."""
    try:
        return _archive_of(container, path, operation)
    except BackendError as exc:
        if isinstance(exc.__cause__, docker.errors.NotFound):
            return None
        raise


def _file_from_tar(data: bytes, operation: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        extracted = tar.extractfile(member) if member is not None else None
        if extracted is None:
            raise BackendError(operation, "not a regular file")
        return extracted.read()


def _host_status(attrs: Mapping[str, Any], host: str, prefix: str, health: str) -> HostStatus:
    state = attrs.get("State", {})
    settings = attrs.get("NetworkSettings", {})
    return HostStatus(
        host=host,
        state=str(state.get("Status", "unknown")),
        health=health,
        ports=_published_ports(settings.get("Ports") or {}),
        uptime_s=_uptime(state) if state.get("Running") else None,
        addresses={
            name.removeprefix(prefix): str(net.get("IPAddress", ""))
            for name, net in (settings.get("Networks") or {}).items()
        },
    )


def _forwarded(statuses: list[HostStatus], containers: list[Container]) -> list[HostStatus]:
    """Show the gateway's published ports on the hosts it relays to (22/tcp on attacker)."""
    offered: dict[str, dict[str, int]] = {}
    for container, status in zip(containers, statuses, strict=True):
        forwards = json.loads(container.labels.get(FORWARDS_LABEL) or "{}")
        for listen, (host, port) in forwards.items():
            if listen in status.ports:
                offered.setdefault(host, {})[port] = status.ports[listen]
    return [
        replace(s, ports={**s.ports, **offered[s.host]}) if s.host in offered else s
        for s in statuses
    ]


def _published_ports(ports: Mapping[str, Any]) -> dict[str, int]:
    published = {}
    for container_port, bindings in ports.items():
        for binding in bindings or ():
            if binding.get("HostIp") in {LOOPBACK, ""} and binding.get("HostPort"):
                published[container_port] = int(binding["HostPort"])
    return published


def _uptime(state: Mapping[str, Any]) -> float | None:
    started = str(state.get("StartedAt", ""))
    try:
        stamp = datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None
    return max(0.0, (datetime.now(UTC) - stamp).total_seconds())
