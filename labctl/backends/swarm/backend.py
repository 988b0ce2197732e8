"""``SwarmBackend``: the :class:`~labctl.backends.base.Backend` on a Docker Swarm.

An instance is placed on one node by load (:mod:`.nodes`); its hosts are services pinned
there (:mod:`.services`), its networks attachable overlays (:mod:`.networks`). The
gateway, the instance's only published entry point, runs on labctl's own node (the
portal's), its ports on that node's loopback; it reaches the hosts over its link
overlays, wherever they run.

``up`` creates the networks and services; each task's container waits at its start gate
(:mod:`.gate`) while labctl writes the plan's files and calls ``before_start`` (the
archive API works on the waiting container), then the gates open and labctl waits until
every host is ready. Every file written is also kept as a swarm config (:mod:`.kept`),
so ``restart`` (a new task, a new container) gets them back before its gate opens.

Everything on a running host (exec, files, logs, shells, readiness, recovery, the
grader's vantages) is the docker backend's code, on the host's node's engine:
:class:`NodeEngine` is a :class:`DockerBackend` whose ``container`` is the one of the
host's current task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from labctl.backends.base import (
    GATEWAY_HOST,
    HOST_LABEL,
    INSTANCE_LABEL,
    BeforeStart,
    DownReport,
    ExecResult,
    FileSpec,
    FileStat,
    HostStatus,
    ImageInfo,
    InstancePlan,
    NodeInfo,
    Progress,
    Recovery,
    no_progress,
    register_backend,
)
from labctl.backends.docker import DockerBackend, health, hostguard
from labctl.backends.docker.baseimage import docker_client
from labctl.backends.docker.engine import Filters, engine_call, resource_name
from labctl.backends.docker.status import forwarded, host_status
from labctl.backends.docker.vantage import DockerChannel, DockerVantages
from labctl.backends.swarm import gate, kept, services
from labctl.backends.swarm.images import copy_missing, images_arch
from labctl.backends.swarm.networks import OverlayNetworks
from labctl.backends.swarm.nodes import (
    NODE_LABEL,
    Engines,
    api_of,
    choose_node,
    list_nodes,
    runs,
)
from labctl.backends.swarm.nodes import manager_node_id as ask_manager
from labctl.backends.vantage import VANTAGE_ROLE
from labctl.errors import BackendError, NotFoundError

#: The bridge a node's tasks publish ports through (made by scripts/swarm-node.sh).
GATEWAY_BRIDGE = "docker_gwbridge"
#: How long ``down`` waits for the engines to let go of the instance's networks and volumes.
RELEASE_S = 60.0


class NodeEngine(DockerBackend):
    """The docker backend on one node's engine, for the hosts of the swarm's instances."""

    def __init__(self, swarm: SwarmBackend, client: docker.DockerClient) -> None:
        super().__init__(client, swarm.health_timeout_s, swarm.poll_s)
        self.swarm = swarm

    def container(self, instance_id: str, host: str) -> Container:
        return self.swarm.task_container(instance_id, host)

    def status(self, instance_id: str) -> list[HostStatus]:
        return self.swarm.status(instance_id)


@register_backend("swarm")
class SwarmBackend:
    """Runs instances on the swarm whose manager is the engine named by the environment."""

    name = "swarm"

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        health_timeout_s: float = 180.0,
        poll_s: float = 0.5,
    ) -> None:
        self._client = client
        self.health_timeout_s = health_timeout_s
        self.poll_s = poll_s
        self._engines: Engines | None = None
        self._networks: OverlayNetworks | None = None
        self._on_node: dict[str, NodeEngine] = {}
        #: Held from choosing a node until the instance's services exist, so that a class
        #: started in parallel is spread by load (another labctl process may still choose
        #: at the same moment: then the spread is off by one, never wrong).
        self._placing = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def engines(self) -> Engines:
        if self._engines is None:
            self._engines = Engines(self.client, ask_manager(self.client))
        return self._engines

    @property
    def networks(self) -> OverlayNetworks:
        if self._networks is None:
            self._networks = OverlayNetworks(self.client)
        return self._networks

    def local(self) -> DockerBackend:
        """The docker backend on labctl's own engine (images)."""
        return self.engine_of(self.engines.manager_id)

    def engine_of(self, node_id: str) -> NodeEngine:
        if node_id not in self._on_node:
            self._on_node[node_id] = NodeEngine(self, self.engines.of(node_id))
        return self._on_node[node_id]

    # --- nodes ---------------------------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        """The swarm's nodes with their instances (``labctl nodes``)."""
        return list_nodes(self.client, self.engines.manager_id)

    def services_of(self, instance_id: str) -> list[dict[str, Any]]:
        with engine_call(f"list the services of {instance_id}"):
            found = api_of(self.client).services(
                filters={"label": f"{INSTANCE_LABEL}={instance_id}"}
            )
        return sorted(found, key=lambda s: str(s["Spec"]["Name"]))

    def _service(self, instance_id: str, host: str) -> dict[str, Any] | None:
        name = resource_name(instance_id, host)
        return next((s for s in self.services_of(instance_id) if s["Spec"]["Name"] == name), None)

    def instance_node(self, instance_id: str) -> str:
        """The node the instance's hosts are pinned to (its gateway may run elsewhere)."""
        for service in self.services_of(instance_id):
            labels = service["Spec"]["Labels"]
            if NODE_LABEL in labels and labels.get(HOST_LABEL) != GATEWAY_HOST:
                return str(labels[NODE_LABEL])
        raise NotFoundError("instance", instance_id, hint="labctl status")

    def task_container(self, instance_id: str, host: str) -> Container:
        """The container of the host's current task, from its node's engine; a host that
        is no service (the grader's vantage, the adversary) is a plain container on the
        instance's node."""
        service = self._service(instance_id, host)
        if service is None:
            return DockerBackend.container(self.node_engine(instance_id, host), instance_id, host)
        task = services.current_task(self.client, str(service["ID"]))
        ident = services.container_id(task) if task else ""
        if task is None or not ident:
            why = services.task_error(task) if task else "no task"
            raise BackendError(f"find host {host} of {instance_id}", f"it has no container ({why})")
        client = self.engine_of(str(task["NodeID"])).client
        with engine_call(f"find host {host} of {instance_id}"):
            return client.containers.get(ident)

    def node_engine(self, instance_id: str, host: str) -> NodeEngine:
        """The docker backend on the engine of the node ``host`` runs on."""
        return self._engine_of_service(instance_id, self._service(instance_id, host))

    def _engine_of_service(self, instance_id: str, service: Mapping[str, Any] | None) -> NodeEngine:
        """The engine a host's ``service`` runs on (None: a vantage, on the instance's node)."""
        if service is None:
            return self.engine_of(self.instance_node(instance_id))
        task = services.current_task(self.client, str(service["ID"]))
        node = str(task["NodeID"]) if task and task.get("NodeID") else ""
        return self.engine_of(node or str(service["Spec"]["Labels"][NODE_LABEL]))

    # --- up / down -----------------------------------------------------------------------

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
        *,
        keep_on_failure: bool = False,
    ) -> list[HostStatus]:
        self._refuse_existing(plan.instance_id)
        try:
            with self._placing:  # the next placement counts this instance (see _place)
                placed = self._place(plan, progress)
                self._create(plan, placed, progress)
            if GATEWAY_HOST in placed:
                self._guard_gateway_bridge(placed[GATEWAY_HOST], progress)
            containers = self._wait_containers(plan, progress)
            for host in plan.hosts:
                self.copy_to(plan.instance_id, host.name, host.files)
            if before_start is not None:
                before_start(plan)
            for host in plan.hosts:
                gate.open_gate(containers[host.name])
                progress(host.name, "started")
            health.wait_healthy(
                plan,
                list(containers.values()),
                progress,
                self.health_timeout_s,
                self.poll_s,
                kept=keep_on_failure,
            )
        except Exception:
            if not keep_on_failure:
                self.down(plan.instance_id, progress)
            raise
        except BaseException:  # interrupted: nothing is kept half made
            self.down(plan.instance_id, progress)
            raise
        return self.status(plan.instance_id)

    def _refuse_existing(self, instance_id: str) -> None:
        if self.services_of(instance_id) or self.networks.matching(instance_id):
            raise BackendError(
                f"bring up instance {instance_id}",
                "the swarm already holds services or networks of this instance",
                hint=f"remove them first: labctl down {instance_id}",
            )

    def _place(self, plan: InstancePlan, progress: Progress) -> dict[str, str]:
        """Host → node id: every host on the least loaded node that runs the images'
        architecture, the gateway on labctl's own (where the portal reaches its loopback
        ports) while that node is usable and runs it too; the images a node lacks are
        copied there from labctl's engine."""
        nodes = self.nodes()
        arch = images_arch(self.client, [h.image for h in plan.hosts])
        chosen = choose_node(nodes, arch)
        manager = next((n for n in nodes if n.id == self.engines.manager_id), None)
        own = manager is not None and manager.usable and runs(manager, arch)
        entry = manager.id if manager is not None and own else chosen.id
        placed = {h.name: entry if h.name == GATEWAY_HOST else chosen.id for h in plan.hosts}
        progress("swarm", f"placed on node {chosen.hostname} {chosen.id[:12]}")
        for node in set(placed.values()) - {self.engines.manager_id}:
            wanted = sorted({h.image for h in plan.hosts if placed[h.name] == node})
            copied = copy_missing(self.client, self.engines.of(node), wanted)
            if copied:
                progress("images", f"copied to node {node[:12]}: {', '.join(copied)}")
        return placed

    def _guard_gateway_bridge(self, node: str, progress: Progress) -> None:
        """The gateway's node's ``docker_gwbridge`` in the host guard's ``access`` set:
        only replies to the node's own connections (its port proxy) come in from it.
        The lab overlays need nothing: no interface of the node is on them. The bridge is
        shared by every instance's gateway on the node, so ``down`` never releases it."""
        if not hostguard.enabled():
            return
        hostguard.HostGuard(self.engines.of(node)).protect([], [GATEWAY_BRIDGE])
        progress("host", "guarded from the gateway's bridge")

    def _create(self, plan: InstancePlan, placed: Mapping[str, str], progress: Progress) -> None:
        self.networks.create_all(plan, [], progress)
        for host in plan.hosts:
            spec = services.service_spec(self.client, plan, host, placed[host.name])
            services.create(self.client, spec)
            progress(host.name, "service created")

    def _wait_containers(self, plan: InstancePlan, progress: Progress) -> dict[str, Container]:
        """Each host's task running at its gate: host → its container."""
        found: dict[str, Container] = {}
        deadline = time.monotonic() + self.health_timeout_s
        while len(found) < len(plan.hosts):
            for host in plan.hosts:
                if host.name not in found and self._task_running(plan.instance_id, host.name):
                    found[host.name] = self.task_container(plan.instance_id, host.name)
                    progress(host.name, "container created")
            if len(found) < len(plan.hosts):
                if time.monotonic() > deadline:
                    waiting = sorted({h.name for h in plan.hosts} - set(found))
                    raise BackendError(
                        f"bring up instance {plan.instance_id}",
                        f"no container in time for {', '.join(waiting)}",
                        hint="docker service ps --no-trunc "
                        + resource_name(plan.instance_id, waiting[0]),
                    )
                time.sleep(self.poll_s)
        return found

    def _task_running(self, instance_id: str, host: str) -> bool:
        """Whether the host's task runs; a task that ended or was rejected fails ``up``."""
        service = self._service(instance_id, host)
        if service is None:
            raise NotFoundError("host", host, hint=f"not part of instance {instance_id!r}")
        with engine_call(f"list the tasks of {service['Spec']['Name']}"):
            tasks = api_of(self.client).tasks(filters={"service": str(service["ID"])})
        if not tasks:
            return False
        task = max(tasks, key=lambda t: int((t.get("Version") or {}).get("Index", 0)))
        state = str((task.get("Status") or {}).get("State", ""))
        if state in services.ENDED:
            raise BackendError(
                f"start host {host}", f"its task {state}: {services.task_error(task)}"
            )
        return state == "running" and bool(services.container_id(task))

    def down(self, instance_id: str, progress: Progress = no_progress) -> DownReport:
        """Services, then whatever labctl ran beside them (vantages, helpers), volumes on
        every node the instance used, networks and kept files."""
        found = self.services_of(instance_id)
        nodes = {self.engines.manager_id} | {
            str(s["Spec"]["Labels"].get(NODE_LABEL))
            for s in found
            if NODE_LABEL in s["Spec"]["Labels"]
        }
        with engine_call(f"remove instance {instance_id}"):
            for service in found:
                with suppress(docker.errors.NotFound):
                    api_of(self.client).remove_service(service["ID"])
                progress(
                    str(service["Spec"]["Labels"].get(HOST_LABEL, service["Spec"]["Name"])),
                    "removed",
                )
        volumes = 0
        for node in sorted(nodes):
            volumes += self._clear_node(node, instance_id)
        networks = self.networks.matching(instance_id)
        for network in networks:
            self._remove_network(network)
            progress(str(network.name), "network removed")
        kept.forget(self.client, instance_id)
        return DownReport(len(found), len(networks), volumes)

    def _clear_node(self, node: str, instance_id: str) -> int:
        """The instance's containers (task containers swarm has not removed yet, vantages)
        and volumes on ``node``'s engine; the volumes removed."""
        try:
            client = self.engines.of(node)
        except BackendError:
            return 0  # a node that left the swarm: nothing of it to reach
        selector: Filters = {"label": f"{INSTANCE_LABEL}={instance_id}"}
        deadline = time.monotonic() + RELEASE_S
        with engine_call(f"remove the containers of {instance_id} on node {node[:12]}"):
            # Swarm removes a removed service's containers in its own time: until none is
            # left, so that `down` returning means nothing of the instance runs.
            while found := client.containers.list(all=True, filters=selector, ignore_removed=True):
                for container in found:
                    with suppress(docker.errors.NotFound, docker.errors.APIError):
                        container.remove(force=True, v=True)
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"remove instance {instance_id}",
                        f"{len(found)} container(s) still on node {node[:12]}",
                    )
                time.sleep(0.2)
        removed = 0
        with engine_call(f"remove the volumes of {instance_id} on node {node[:12]}"):
            for volume in client.volumes.list(filters=selector):
                while True:
                    try:
                        volume.remove(force=True)
                        removed += 1
                        break
                    except docker.errors.NotFound:
                        break
                    except docker.errors.APIError:  # in use by a container swarm is removing
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.5)
        return removed

    def _remove_network(self, network: Any) -> None:
        """An overlay is removable once every node has let go of its tasks' endpoints;
        the manager lists it a moment after its removal, so this waits until it does not
        (``down`` returning means nothing of the instance is listed)."""
        deadline = time.monotonic() + RELEASE_S
        name = str(network.name)
        with engine_call(f"remove network {name}"):
            while True:
                try:
                    network.remove()
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
                    continue
                if not [n for n in self.client.networks.list(names=[name]) if n.name == name]:
                    return
                if time.monotonic() > deadline:
                    raise BackendError(f"remove network {name}", "the engine still lists it")
                time.sleep(0.2)

    # --- per-host operations: the docker backend's, on the host's node -------------------

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        return self.node_engine(instance_id, host).exec(instance_id, host, argv, user)

    def copy_to(self, instance_id: str, host: str, files: Mapping[str, FileSpec]) -> None:
        """Written into the host, and kept for its next container (:mod:`.kept`); into a
        stopped host (its service scaled to nothing: no container), only kept, and
        written by :meth:`start`."""
        if not files:
            return
        service = self._service(instance_id, host)
        if service is None or services.replicas(service) > 0:
            self._engine_of_service(instance_id, service).copy_to(instance_id, host, files)
        kept.keep(self.client, instance_id, host, files)

    def copy_from(self, instance_id: str, host: str, path: str) -> bytes:
        return self.node_engine(instance_id, host).copy_from(instance_id, host, path)

    def read_file(self, instance_id: str, host: str, path: str) -> tuple[bytes, FileStat] | None:
        return self.node_engine(instance_id, host).read_file(instance_id, host, path)

    def stat(self, instance_id: str, host: str, path: str) -> FileStat | None:
        return self.node_engine(instance_id, host).stat(instance_id, host, path)

    def logs(self, instance_id: str, host: str, tail: int = 200) -> str:
        return self.node_engine(instance_id, host).logs(instance_id, host, tail)

    def shell_argv(self, instance_id: str, host: str, user: str | None = None) -> list[str]:
        """``docker exec -it`` on the host's node's engine (``--host`` when it is not ours)."""
        engine = self.node_engine(instance_id, host)
        argv = engine.shell_argv(instance_id, host, user)
        address = next(
            (self.engines.addresses.get(n) for n, e in self._on_node.items() if e is engine), None
        )
        return [argv[0], "--host", address, *argv[1:]] if address else argv

    def restart(self, instance_id: str, host: str) -> HostStatus:
        """A new task (swarm restarts no container in place): its gate waits until the
        kept files are written back, then it must pass its readiness test in time."""
        service = self._service(instance_id, host)
        if service is None:
            raise NotFoundError("host", host, hint=f"not part of instance {instance_id!r}")
        old = services.current_task(self.client, str(service["ID"]))
        template = dict(service["Spec"]["TaskTemplate"])
        template["ForceUpdate"] = int(template.get("ForceUpdate", 0)) + 1
        with engine_call(f"restart host {host} of {instance_id}"):
            api_of(self.client).update_service(
                str(service["ID"]),
                int(service["Version"]["Index"]),
                task_template=template,
                fetch_current_spec=True,
            )
        container = self._new_container(instance_id, host, old)
        self.reseed(instance_id, host, container)
        deadline = time.monotonic() + self.health_timeout_s
        while not health.healthy_now(container):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"restart {host} of {instance_id}",
                    f"not healthy in time{health.last_log(container)}",
                )
            time.sleep(self.poll_s / 4)
        return next(s for s in self.status(instance_id) if s.host == host)

    def _new_container(
        self, instance_id: str, host: str, old: Mapping[str, Any] | None
    ) -> Container:
        deadline = time.monotonic() + self.health_timeout_s
        before = services.container_id(old) if old else ""
        while True:
            with suppress(BackendError):
                if self._task_running(instance_id, host):
                    container = self.task_container(instance_id, host)
                    if container.id != before:
                        return container
            if time.monotonic() > deadline:
                raise BackendError(f"restart {host} of {instance_id}", "no new container in time")
            time.sleep(self.poll_s)

    def stop(self, instance_id: str, progress: Progress = no_progress) -> int:
        """Every host's service scaled to nothing, and waited for until its container
        has ended (10 s each to end, then killed). Swarm keeps no stopped container: what
        the student changed in a host's writable layer or tmpfs goes, as with a restart;
        the services, networks, volumes (on the same node) and kept files stay for
        :meth:`start`. The lease keeper keeps the student's home in the store first."""
        scaled: list[dict[str, Any]] = []
        for service in self._host_services(instance_id):
            if services.replicas(service) > 0:
                services.scale(self.client, service, 0)
                scaled.append(service)
        deadline = time.monotonic() + self.health_timeout_s
        for service in scaled:
            host = str(service["Spec"]["Labels"][HOST_LABEL])
            while services.running_tasks(self.client, str(service["ID"])):
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"stop instance {instance_id}", f"{host} did not end in time"
                    )
                time.sleep(self.poll_s / 2)
            progress(host, "stopped")
        return len(scaled)

    def start(self, instance_id: str, progress: Progress = no_progress) -> list[HostStatus]:
        """Every stopped host's service asked for its task again (on the same node, where
        its volumes are); each new container gets the kept files back through its gate,
        then every host must pass its readiness test within the health timeout."""
        hosts = self._host_services(instance_id)
        if not hosts:
            raise BackendError(f"start instance {instance_id}", "it has no host on the swarm")
        stopped = [s for s in hosts if services.replicas(s) == 0]
        for service in stopped:
            services.scale(self.client, service, 1)

        def back(service: dict[str, Any]) -> Container:
            host = str(service["Spec"]["Labels"][HOST_LABEL])
            container = self._new_container(instance_id, host, None)
            self.reseed(instance_id, host, container)
            progress(host, "started")
            return container

        with ThreadPoolExecutor(max_workers=max(1, len(stopped))) as pool:
            started = list(pool.map(back, stopped))
        health.wait_ready(
            started, self.health_timeout_s, self.poll_s / 4, f"start instance {instance_id}"
        )
        return self.status(instance_id)

    def _host_services(self, instance_id: str) -> list[dict[str, Any]]:
        """The services of the instance's hosts (not its vantages)."""
        return [s for s in self.services_of(instance_id) if s["Spec"]["Labels"].get(HOST_LABEL)]

    def reseed(self, instance_id: str, host: str, container: Container) -> None:
        """Write the kept files into a new container of ``host``, one by one in the order
        they were first written, attach it to (or detach it from) the networks a
        ``connect`` or ``disconnect`` changed, and open its gate."""
        engine = self.node_engine(instance_id, host)
        for path, spec in kept.kept(self.client, instance_id, host).items():
            engine.files.put(container, {path: spec})
        for network, attached in kept.wiring(self.client, instance_id, host).items():
            if attached:
                engine.connect(instance_id, host, network)
            else:
                engine.disconnect(instance_id, host, network)
        gate.open_gate(container)

    def recover(self, instance_id: str, host: str) -> Recovery:
        return self.node_engine(instance_id, host).recover(instance_id, host)

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        """Attached now, and remembered for the host's next container (:meth:`reseed`)."""
        changed = self.node_engine(instance_id, host).connect(instance_id, host, network)
        self._remember_wiring(instance_id, host, network, attached=True)
        return changed

    def disconnect(self, instance_id: str, host: str, network: str) -> bool:
        """Detached now, and remembered for the host's next container (:meth:`reseed`)."""
        changed = self.node_engine(instance_id, host).disconnect(instance_id, host, network)
        self._remember_wiring(instance_id, host, network, attached=False)
        return changed

    def _remember_wiring(self, instance_id: str, host: str, network: str, attached: bool) -> None:
        """Keep (:func:`kept.keep_wiring`) each network whose attachment now differs from
        the service's own networks. A vantage is no service: nothing kept."""
        service = self._service(instance_id, host)
        if service is None:
            return
        before = kept.wiring(self.client, instance_id, host)
        wiring = dict(before)
        # the stored template names each network by id
        template = service["Spec"]["TaskTemplate"]
        own = {str(n.get("Target", "")) for n in template.get("Networks") or []}
        name = resource_name(instance_id, network)
        if bool(own & {name, self._network_id(name)}) == attached:
            wiring.pop(network, None)
        else:
            wiring[network] = attached
        if wiring != before:
            kept.keep_wiring(self.client, instance_id, host, wiring)

    def _network_id(self, name: str) -> str:
        with engine_call(f"find network {name}"):
            found = [n for n in self.client.networks.list(names=[name]) if n.name == name]
        return str(found[0].id) if found else ""  # (the engine's filter matches parts too)

    # --- status --------------------------------------------------------------------------

    def status(self, instance_id: str) -> list[HostStatus]:
        """Each host's current task's container as its node's engine shows it; a host
        without one (its node drained or gone) as its task's state; a stopped one as
        ``exited``."""
        prefix = resource_name(instance_id, "")
        statuses: list[HostStatus] = []
        containers: list[Container] = []
        missing: list[HostStatus] = []
        for service in self.services_of(instance_id):
            host = str(service["Spec"]["Labels"].get(HOST_LABEL, ""))
            if not host:
                continue
            if services.replicas(service) == 0:  # stopped (:meth:`stop`): no container
                missing.append(HostStatus(host, "exited", "none"))
                continue
            task = services.current_task(self.client, str(service["ID"]))
            container = self._container_of(task)
            if container is None:
                # pending: no node can take its task (its node drained or down)
                state = str(((task or {}).get("Status") or {}).get("State", "")) or "missing"
                missing.append(HostStatus(host, "missing" if state == "running" else state, "none"))
                continue
            statuses.append(host_status(container.attrs, host, prefix, health.health(container)))
            containers.append(container)
        return sorted([*forwarded(statuses, containers), *missing], key=lambda s: s.host)

    def _container_of(self, task: Mapping[str, Any] | None) -> Container | None:
        ident = services.container_id(task) if task else ""
        if not task or not ident:
            return None
        try:
            client = self.engine_of(str(task["NodeID"])).client
            with engine_call("inspect a task's container"):
                return client.containers.get(ident)
        except BackendError:
            return None  # its node is gone or its container was just removed

    def instances(self) -> list[str]:
        with engine_call("list instances"):
            found = {
                str(s["Spec"]["Labels"][INSTANCE_LABEL])
                for s in api_of(self.client).services(filters={"label": INSTANCE_LABEL})
            }
            found |= {
                str(n.attrs["Labels"][INSTANCE_LABEL])
                for n in self.client.networks.list(filters={"label": INSTANCE_LABEL})
            }
        return sorted(found)

    def vantages(self) -> SwarmVantages:
        return SwarmVantages(self)

    # --- images: built on labctl's engine, copied to a node when it lacks them ------------

    def prepare_images(self, roles: Sequence[str], progress: Progress = no_progress) -> list[str]:
        return self.local().prepare_images(roles, progress)

    def build_images(
        self, progress: Progress = no_progress, force: bool = False, arch: str | None = None
    ) -> None:
        self.local().build_images(progress, force, arch)

    def list_images(self) -> list[ImageInfo]:
        return self.local().list_images()

    def save_images(self, path: Path, written: Callable[[int], None]) -> list[str]:
        return self.local().save_images(path, written)

    def load_images(self, path: Path, progress: Progress = no_progress) -> list[str]:
        return self.local().load_images(path, progress)


class SwarmVantages:
    """The grader's vantage and the adversary as plain containers on the instance's node,
    joined to its attachable overlays (:class:`DockerVantages` on that node's engine)."""

    def __init__(self, swarm: SwarmBackend) -> None:
        self.swarm = swarm

    def _on(self, instance_id: str) -> DockerVantages:
        return DockerVantages(self.swarm.engine_of(self.swarm.instance_node(instance_id)))

    def run_vantage(
        self,
        instance_id: str,
        host: str,
        *,
        image: str,
        network: str,
        labels: Mapping[str, str],
        command: Sequence[str] = ("sleep", "infinity"),
        environment: Mapping[str, str] | None = None,
        role: str = VANTAGE_ROLE,
    ) -> None:
        self._on(instance_id).run_vantage(
            instance_id,
            host,
            image=image,
            network=network,
            labels=labels,
            command=command,
            environment=environment,
            role=role,
        )

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        return self._on(instance_id).remove_vantage(instance_id, host)

    def open_channel(
        self, instance_id: str, host: str, argv: Sequence[str], *, user: str
    ) -> DockerChannel:
        return self._on(instance_id).open_channel(instance_id, host, argv, user=user)
