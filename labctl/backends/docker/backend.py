"""``DockerBackend``: the :class:`~labctl.backends.base.Backend` on one Docker engine.

It composes the per-resource parts, as docker-py splits its client: networks
(:mod:`.networks`), containers and volumes (:mod:`.containers`), readiness
(:mod:`.health`), files (:mod:`.files`), status (:mod:`.status`), images
(:mod:`.images`), the grader's vantage containers (:mod:`.vantage`) and recovery in place
(:mod:`.recover`). Each method here is the interface's operation, told in a few calls.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
from docker.models.containers import Container

from labctl.backends.base import (
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
    Progress,
    Recovery,
    no_progress,
    register_backend,
)
from labctl.backends.docker import files as file_ops
from labctl.backends.docker import health, hostguard, images
from labctl.backends.docker.baseimage import docker_client
from labctl.backends.docker.bringup import Created, create_all, refuse_existing, rollback
from labctl.backends.docker.containers import Containers, remove, start_all
from labctl.backends.docker.engine import (
    Filters,
    by_instance,
    engine_call,
    host_of,
    quietly,
    resource_name,
)
from labctl.backends.docker.networks import Networks
from labctl.backends.docker.status import forwarded, host_status
from labctl.backends.docker.vantage import DockerVantages
from labctl.errors import BackendError


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
        self.files = file_ops.Files()
        self._networks: Networks | None = None
        self._containers: Containers | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def networks(self) -> Networks:
        if self._networks is None:
            self._networks = Networks(self.client)
        return self._networks

    @property
    def containers(self) -> Containers:
        if self._containers is None:
            self._containers = Containers(self.client)
        return self._containers

    @property
    def writable_bounded(self) -> bool | None:
        """Whether the engine bounds writable root file systems (None: not asked yet)."""
        return self.containers.writable_bounded

    # --- up / down ---------------------------------------------------------------------

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
        *,
        keep_on_failure: bool = False,
    ) -> list[HostStatus]:
        refuse_existing(self, plan.instance_id)
        created = Created()
        try:
            create_all(self, plan, created, progress)
            self.networks.guard(created.networks, protect=True)
            progress("host", "guarded from the lab networks")
            if before_start is not None:
                before_start(plan)
            start_all(created.containers, progress)
            for container in created.containers:
                self.files.forget(container)
            health.wait_healthy(
                plan,
                created.containers,
                progress,
                self.health_timeout_s,
                self.poll_s,
                kept=keep_on_failure,
            )
        except Exception:
            if not keep_on_failure:
                rollback(self, created, progress)
            raise
        except BaseException:  # interrupted: nothing is kept half made
            rollback(self, created, progress)
            raise
        return self.status(plan.instance_id)

    def down(self, instance_id: str, progress: Progress = no_progress) -> DownReport:
        selector = by_instance(instance_id)
        with engine_call(f"remove instance {instance_id}"):
            containers = self.containers.matching(selector)
            with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
                list(pool.map(remove, containers))
            for container in containers:
                self.files.forget(container)
                progress(host_of(container), "removed")
            networks = self.networks.matching(selector)
            for network in networks:
                network.remove()
                progress(str(network.name), "network removed")
            volumes = self.client.volumes.list(filters=selector)
            for volume in volumes:
                volume.remove(force=True)
        # A stale entry names a bridge that is gone (ids are never reused): harmless, so a
        # failure to forget it does not fail down.
        quietly(lambda: self.networks.guard(networks, protect=False))
        return DownReport(len(containers), len(networks), len(volumes))

    # --- exec / files / logs -----------------------------------------------------------

    def container(self, instance_id: str, host: str) -> Container:
        return self.containers.find(instance_id, host)

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
        self.files.put(self.container(instance_id, host), files)

    def copy_from(self, instance_id: str, host: str, path: str) -> bytes:
        return file_ops.copy_from(self.container(instance_id, host), path)

    def read_file(self, instance_id: str, host: str, path: str) -> tuple[bytes, FileStat] | None:
        """One archive: its header is the stat, its member the content."""
        return self.files.read(self.container(instance_id, host), path)

    def stat(self, instance_id: str, host: str, path: str) -> FileStat | None:
        return file_ops.stat(self.container(instance_id, host), path)

    def logs(self, instance_id: str, host: str, tail: int = 200) -> str:
        container = self.container(instance_id, host)
        with engine_call(f"read logs of {container.name}"):
            raw = container.logs(tail=tail)
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)

    def shell_argv(self, instance_id: str, host: str, user: str | None = None) -> list[str]:
        """``docker exec -it`` into the host: the SDK has no interactive attach with a
        terminal, so the edge runs the docker command with the user's own."""
        container = self.container(instance_id, host)
        if shutil.which("docker") is None:
            raise BackendError(
                "open a shell",
                "the docker command is not installed",
                hint="apt-get install docker.io",
            )
        who = ["--user", user, "--workdir", f"/home/{user}"] if user else []
        return ["docker", "exec", "-it", *who, str(container.name), "bash", "-l"]

    # --- restart / networks (the scenario engine) ----------------------------------------

    def restart(self, instance_id: str, host: str) -> HostStatus:
        """Restart the container; its health check must pass again within the timeout."""
        container = self.container(instance_id, host)
        with engine_call(f"restart {container.name}"):
            container.restart(timeout=10)
        deadline = time.monotonic() + self.health_timeout_s
        while not health.healthy_now(container):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"restart {container.name}", f"not healthy in time{health.last_log(container)}"
                )
            time.sleep(self.poll_s / 4)
        return next(s for s in self.status(instance_id) if s.host == host)

    def recover(self, instance_id: str, host: str) -> Recovery:
        """End the host's login users' processes in place, from a sidecar in its PID
        namespace (labctl.backends.docker.recover); say whether it is ready again."""
        from labctl.backends.docker.recover import recover_in_place

        return recover_in_place(self, instance_id, host)

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        container = self.container(instance_id, host)
        net = self.networks.find(instance_id, network)
        if str(net.name) in container.attrs["NetworkSettings"]["Networks"]:
            return False
        with engine_call(f"connect {container.name} to {net.name}"):
            net.connect(container, aliases=[host])
        return True

    def disconnect(self, instance_id: str, host: str, network: str) -> bool:
        container = self.container(instance_id, host)
        net = self.networks.find(instance_id, network)
        if str(net.name) not in container.attrs["NetworkSettings"]["Networks"]:
            return False
        with engine_call(f"disconnect {container.name} from {net.name}"):
            net.disconnect(container)
        return True

    # --- stop / start (idle instances) ----------------------------------------------------

    def stop(self, instance_id: str, progress: Progress = no_progress) -> int:
        """``docker stop`` of every host at once (10 s each to end, then killed)."""
        with engine_call(f"stop instance {instance_id}"):
            running = [
                c
                for c in self.containers.matching(by_instance(instance_id))
                if c.labels.get(HOST_LABEL) and c.status in {"running", "restarting", "paused"}
            ]

        def stop(container: Container) -> None:
            with engine_call(f"stop {container.name}"):
                container.stop(timeout=10)
            self.files.forget(container)
            progress(host_of(container), "stopped")

        with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
            list(pool.map(stop, running))
        return len(running)

    def start(self, instance_id: str, progress: Progress = no_progress) -> list[HostStatus]:
        """Start the stopped hosts together, then wait until each one's readiness test
        passes (as ``restart`` does, within the health timeout)."""
        with engine_call(f"start instance {instance_id}"):
            hosts = [
                c
                for c in self.containers.matching(by_instance(instance_id))
                if c.labels.get(HOST_LABEL)
            ]
        if not hosts:
            raise BackendError(f"start instance {instance_id}", "it has no host on the engine")
        start_all([c for c in hosts if c.status in {"created", "exited"}], progress)
        health.wait_ready(
            hosts, self.health_timeout_s, self.poll_s / 4, f"start instance {instance_id}"
        )
        for container in hosts:
            progress(host_of(container), "healthy")
        return self.status(instance_id)

    # --- status ------------------------------------------------------------------------

    def status(self, instance_id: str) -> list[HostStatus]:
        with engine_call(f"status of instance {instance_id}"):
            containers = self.containers.matching(by_instance(instance_id))
        prefix = resource_name(instance_id, "")
        # A container without a host label is labctl's own short-lived helper (a file
        # writer, a recovery sidecar): not a host of the instance.
        hosts = [c for c in containers if c.labels.get(HOST_LABEL)]
        statuses = [
            host_status(c.attrs, c.labels[HOST_LABEL], prefix, health.health(c)) for c in hosts
        ]
        return sorted(forwarded(statuses, hosts), key=lambda s: s.host)

    def instances(self) -> list[str]:
        selector: Filters = {"label": INSTANCE_LABEL}
        with engine_call("list instances"):
            # sparse: one list call, no inspect per container; another user's `down`
            # between the list and an inspect would otherwise fail this call.
            found = {
                c.attrs["Labels"][INSTANCE_LABEL]
                for c in self.containers.matching(selector, sparse=True)
            }
            found |= {n.attrs["Labels"][INSTANCE_LABEL] for n in self.networks.matching(selector)}
        return sorted(found)

    def vantages(self) -> DockerVantages:
        """Grader and adversary containers in an instance (labctl.backends.docker.vantage)."""
        return DockerVantages(self)

    # --- images (labctl.backends.docker.images) ------------------------------------------

    def prepare_images(self, roles: Sequence[str], progress: Progress = no_progress) -> list[str]:
        """Build the images of ``roles`` the engine lacks (stale ones still run), and the
        host guard's (it runs nft from the ground-station image); the roles built."""
        labels = images.role_labels(self.client, {*roles, hostguard.GUARD_ROLE})
        missing = [role for role, found in labels.items() if found is None]
        if missing:
            arch = images.images_arch(labels.values())  # the others' architecture
            progress("images", f"building missing images: {', '.join(missing)}")
            images.build_images(self.client, progress, roles=missing, arch=arch)
            labels = images.role_labels(self.client, labels)
        images.check_architecture(self.client, labels, progress)
        return missing

    def build_images(
        self, progress: Progress = no_progress, force: bool = False, arch: str | None = None
    ) -> None:
        images.build_images(self.client, progress, force=force, arch=arch)

    def list_images(self) -> list[ImageInfo]:
        return images.list_images(self.client)

    def save_images(self, path: Path, written: Callable[[int], None]) -> list[str]:
        return images.save_images(self.client, path, written)

    def load_images(self, path: Path, progress: Progress = no_progress) -> list[str]:
        return images.load_images(self.client, path, progress)
