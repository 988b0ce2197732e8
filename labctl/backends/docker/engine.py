"""What every part of the Docker backend shares: names, labels, the engine's errors.

Everything labctl creates is named ``labctl-<instance>-<part>`` and labelled
``org.labctl.instance=<id>``; an engine call that fails becomes a
:class:`~labctl.errors.BackendError` saying which operation failed and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Final

import docker
import docker.errors
import docker.types
import requests
from docker.models.containers import Container

from labctl.backends.base import HOST_LABEL, INSTANCE_LABEL, LAB_LABEL, MANAGED_LABEL, InstancePlan
from labctl.errors import BackendError

Filters = dict[str, str | list[str] | bool]

LOOPBACK: Final = "127.0.0.1"
#: Every container's output: rotated, at most 3 MiB on the engine's disk (students can
#: write to /proc/1/fd/1 as root, and hostile traffic makes hosts log).
LOG_CONFIG: Final = docker.types.LogConfig(
    type=docker.types.LogConfig.types.JSON, config={"max-size": "1m", "max-file": "3"}
)
ENGINE_ERRORS: Final = (docker.errors.DockerException, requests.exceptions.RequestException)


def by_instance(instance_id: str) -> Filters:
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
        raise BackendError(operation, explain(exc)) from exc
    except ENGINE_ERRORS as exc:
        raise BackendError(operation, explain(exc)) from exc


def explain(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return " ".join(str(exc.explanation).split())
    return " ".join(str(exc).split()) or type(exc).__name__


def labels_of(plan: InstancePlan, **extra: str) -> dict[str, str]:
    """The labels of everything an instance's ``up`` creates."""
    return {
        **plan.labels,
        MANAGED_LABEL: "true",
        INSTANCE_LABEL: plan.instance_id,
        LAB_LABEL: plan.lab,
        **extra,
    }


def host_of(container: Container) -> str:
    return str(container.labels.get(HOST_LABEL, container.name))


def is_host(container: Container, instance_id: str, host: str) -> bool:
    labels = container.labels
    return (labels.get(INSTANCE_LABEL), labels.get(HOST_LABEL)) == (instance_id, host)


def quietly(action: Any) -> None:
    """Run ``action``, ignoring the engine's errors: a rollback goes on, since leaving one
    thing behind beats leaving everything."""
    with suppress(*ENGINE_ERRORS):
        action()
