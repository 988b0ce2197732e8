"""Grader vantages on the Docker engine (see :mod:`labctl.backends.vantage`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import docker.errors

from labctl.backends.base import HOST_LABEL, INSTANCE_LABEL, MANAGED_LABEL, ROLE_LABEL, Backend
from labctl.backends.docker import DockerBackend, engine_call, resource_name
from labctl.backends.vantage import VANTAGE_ROLE, register_vantages
from labctl.errors import BackendError


class DockerVantages:
    def __init__(self, backend: DockerBackend) -> None:
        self.backend = backend

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
        name = resource_name(instance_id, host)
        tags = {**labels, MANAGED_LABEL: "true", INSTANCE_LABEL: instance_id}
        tags |= {HOST_LABEL: host, ROLE_LABEL: role}
        with engine_call(f"run vantage {name}"):
            self.backend.client.containers.run(
                image,
                list(command),
                name=name,
                hostname=host,
                labels=tags,
                network=resource_name(instance_id, network),
                environment=dict(environment or {}),
                detach=True,
                # Confined like a student host without raw sockets: UDP needs no capability.
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                read_only=True,
                tmpfs={"/tmp": "mode=1777"},
                user="65534:65534",
                entrypoint=["/usr/bin/tini", "--"],
                mem_limit="256m",
                pids_limit=64,
            )

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        name = resource_name(instance_id, host)
        try:
            with engine_call(f"remove vantage {name}"):
                self.backend.client.containers.get(name).remove(force=True, v=True)
        except BackendError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return False
            raise
        return True


@register_vantages("docker")
def docker_vantages(backend: Backend) -> DockerVantages:
    if not isinstance(backend, DockerBackend):
        raise BackendError("vantage", f"{backend.name!r} is not a DockerBackend")
    return DockerVantages(backend)
