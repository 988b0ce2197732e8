"""Whether a host is ready: its own readiness test, run when labctl needs an answer.

The test is the host's (the image's health check, or the plan's), kept in the
``org.labctl.ready`` label; the engine runs no periodic health checks. It is answered
from /proc when the engine runs on this machine (:mod:`labctl.backends.docker.readiness`),
else run in the container.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Final

import docker
import docker.errors
import requests
from docker.models.containers import Container

from labctl.backends.base import READY_LABEL, ROLE_LABEL, HostPlan, InstancePlan, Progress
from labctl.backends.docker import readiness
from labctl.backends.docker.engine import ENGINE_ERRORS, engine_call, host_of
from labctl.backends.docker.status import uptime
from labctl.errors import BackendError
from labctl.range.hosts.config import WAITING_SUFFIX

#: A host whose readiness test fails this long after its start is unhealthy, not starting.
START_GRACE_S: Final = 20.0
#: How often ``up`` reads a host's log while waiting: a host that refuses its configuration
#: says so there at once, and then waits for the file to be fixed (never healthy).
LOG_LOOK_S: Final = 2.0


def ready_test(client: docker.DockerClient, host: HostPlan) -> list[str]:
    """The host's readiness test: the plan's, else its image's health check."""
    if host.healthcheck is not None:
        return list(host.healthcheck)
    with engine_call(f"inspect image {host.image}"):
        config = client.images.get(host.image).attrs.get("Config") or {}
    return test_argv((config.get("Healthcheck") or {}).get("Test") or [])


def test_argv(test: Sequence[str]) -> list[str]:
    """An engine health-check ``Test`` as a command line ([] for none)."""
    if not test or test[0] == "NONE":
        return []
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", *test[1:]]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def ready_argv(container: Container) -> list[str]:
    """The container's readiness test: its label, or (a container made before labctl
    kept it there) the engine health check it was created with."""
    label = container.labels.get(READY_LABEL)
    if label is None:
        return test_argv((container.attrs["Config"].get("Healthcheck") or {}).get("Test") or [])
    try:
        argv = json.loads(label)
    except ValueError:
        return []
    return [str(word) for word in argv] if isinstance(argv, list) else []


def ready(container: Container) -> bool:
    """The readiness test passes: answered from /proc when the engine runs here (no
    process started), else run in the container (see labctl.backends.docker.readiness)."""
    argv = ready_argv(container)
    if not argv:
        return True
    pid = int(container.attrs["State"].get("Pid") or 0)
    here = readiness.ready_here(pid, str(container.id or ""), argv)
    if here is not None:
        return here
    try:
        exit_code, _ = container.exec_run(argv)
    except ENGINE_ERRORS:
        return False  # e.g. the container restarted between reload and exec
    return exit_code == 0


def health(container: Container) -> str:
    """healthy, unhealthy, starting (failing, within START_GRACE_S of its start) or none
    (not running, or no test): asked now, not the engine's last periodic verdict."""
    state = container.attrs.get("State", {})
    if not state.get("Running") or not ready_argv(container):
        return "none"
    if ready(container):
        return "healthy"
    up = uptime(state)
    return "starting" if up is not None and up < START_GRACE_S else "unhealthy"


def wait_healthy(
    plan: InstancePlan,
    containers: Sequence[Container],
    progress: Progress,
    timeout_s: float,
    poll_s: float,
    *,
    kept: bool = False,
) -> None:
    """Until every container is healthy; a crash or a refused configuration fails at once,
    a timeout after ``timeout_s``. ``kept``: the caller keeps the instance on failure (the
    error's hint says so)."""
    waiting = {c.name: c for c in containers}
    pids: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    look = time.monotonic() + LOG_LOOK_S
    while waiting:
        for name, container in list(waiting.items()):
            if healthy(container, pids, kept=kept):
                progress(host_of(container), "healthy")
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise unhealthy(plan, waiting.values(), kept=kept)
        if waiting and time.monotonic() >= look:
            for container in waiting.values():
                refusal = refused_configuration(container, kept=kept)
                if refusal is not None:
                    raise refusal
            look = time.monotonic() + LOG_LOOK_S
        if waiting:
            time.sleep(poll_s)


def refused_configuration(container: Container, *, kept: bool = False) -> BackendError | None:
    """The host's program refused its configuration and waits for it to be fixed: its log
    says why (the file and the key), so ``up`` need not wait for a timeout."""
    try:
        tail = container.logs(tail=6).decode("utf-8", errors="replace").strip().splitlines()
    except ENGINE_ERRORS:
        return None
    waiting = [i for i, line in enumerate(tail) if line.rstrip().endswith(WAITING_SUFFIX)]
    if not waiting:
        return None
    before = [line.strip() for line in tail[: waiting[-1]] if line.strip()]
    why = before[-1] if before else tail[waiting[-1]].strip()
    role = container.labels.get(ROLE_LABEL, host_of(container))
    return BackendError(
        f"start host {host_of(container)}",
        f"its program refuses its configuration: {why[:400]}",
        hint=f"{_outcome(kept)}; what the host reads comes from the lab's injects"
        f" (labctl labs validate checks set_config keys) or from containers/{role}/",
    )


def _outcome(kept: bool) -> str:
    """What became of the instance (the caller says how to look at a kept one)."""
    return "the instance was kept" if kept else "the instance was removed again"


def healthy(container: Container, pids: dict[str, int], *, kept: bool = False) -> bool:
    """Running (a crash or restart fails at once) and its readiness test passes now.

    ``pids``: the first process of each container seen running. While that process
    is still there (the engine runs here), /proc alone answers, without asking the
    engine (an inspect per host per poll is most of ``up``'s own CPU at class size);
    once it is gone, the engine says whether the host crashed or restarted."""
    argv = ready_argv(container)
    if container.name in pids:
        answer = readiness.ready_here(pids[container.name], str(container.id), argv)
        if answer is not None:
            return answer
    with engine_call(f"inspect container {container.name}"):
        container.reload()
    state = container.attrs["State"]
    if state["Status"] in {"exited", "dead"} or container.attrs.get("RestartCount", 0) > 0:
        raise crashed(container, kept=kept)
    if state["Status"] != "running":
        return False
    pids[str(container.name)] = int(state.get("Pid") or 0)
    return ready(container)


def healthy_now(container: Container) -> bool:
    """Its health check passes now (the engine's last verdict predates a restart)."""
    with engine_call(f"inspect container {container.name}"):
        container.reload()
    if container.attrs["State"]["Status"] in {"exited", "dead"}:
        raise crashed(container)
    return container.attrs["State"]["Status"] == "running" and ready(container)


def wait_ready(
    containers: Sequence[Container], timeout_s: float, poll_s: float, operation: str
) -> None:
    """Wait until every container passes its readiness test (:func:`healthy_now`), each
    polled every ``poll_s`` until ``timeout_s``; then a one-line error naming those that
    did not, with the first one's last log line (``start`` and the swarm's ``start``)."""
    deadline = time.monotonic() + timeout_s
    waiting = list(containers)
    while waiting:
        waiting = [c for c in waiting if not healthy_now(c)]
        if waiting and time.monotonic() > deadline:
            names = ", ".join(str(c.name) for c in waiting)
            raise BackendError(operation, f"not ready in time: {names}{last_log(waiting[0])}")
        if waiting:
            time.sleep(poll_s)


def last_log(container: Container) -> str:
    """``: <its last log line>``, or nothing: why a host is not healthy (a host program
    waiting for its configuration to be fixed says so there)."""
    try:
        tail = container.logs(tail=3).decode("utf-8", errors="replace").strip().splitlines()
    except (docker.errors.DockerException, requests.RequestException):
        return ""
    return f": {' / '.join(tail[-2:])[:400]}" if tail else ""


def crashed(container: Container, *, kept: bool = False) -> BackendError:
    try:
        tail = container.logs(tail=5).decode(errors="replace").strip().splitlines()
    except ENGINE_ERRORS:
        tail = []
    state = container.attrs["State"]
    how = (
        f"keeps exiting (restarted {container.attrs.get('RestartCount', 0)} time(s))"
        if state.get("Restarting") or state.get("Status") == "running"
        else f"exited with status {state.get('ExitCode')}"
    )
    return BackendError(
        f"start host {host_of(container)}",
        f"its program {how}" + (f": {' | '.join(tail[-3:])}" if tail else ""),
        hint=f"{_outcome(kept)}; the program's configuration is in "
        f"containers/{container.labels.get(ROLE_LABEL, host_of(container))}/",
    )


def unhealthy(
    plan: InstancePlan, containers: Iterable[Container], *, kept: bool = False
) -> BackendError:
    waiting = sorted(containers, key=host_of)
    names = ", ".join(f"{host_of(c)}{last_log(c)}" for c in waiting)
    return BackendError(
        f"bring up instance {plan.instance_id}",
        f"not healthy in time: {names}",
        hint=f"{_outcome(kept)}; a host program that runs but never listens on its port"
        " fails this way",
    )
