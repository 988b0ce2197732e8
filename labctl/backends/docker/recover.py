"""``recover`` on the Docker engine: end a host's runaway user processes in place.

A fork bomb at a host's pids limit leaves no room for ``docker exec`` (the engine starts
the exec'd process inside the container's cgroup, where every pid is taken), and the SDK
cannot raise a running container's pids limit. A container restart would work, but it
empties the tmpfs mounts where the student's work lives (the attacker's home, /tmp).

So the processes are ended from outside the container's cgroup: for each login user of
the host (uid 1000–60000 in its /etc/passwd, not the service user), a short-lived
sidecar of the host's own image joins the host's PID namespace
(``pid_mode=container:<id>``) as that user and sends SIGKILL to -1. The kernel signals
every process of that user in one pass under one lock, and a process with a pending
SIGKILL cannot fork, so no child of the bomb escapes. The sidecar has no network, no
capability, a read-only root, no new privileges; it is removed at once. Processes of root
and of the service user (the host's programs, sshd's listener) are never touched; a bomb
run as root (through sudo) is out of its reach, and the caller falls back to a restart.

Then the host must be running, pass its readiness test and have room for processes
again (the engine's pids count well under the limit) within :data:`SETTLE_S`.
"""

from __future__ import annotations

import secrets
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Final

import docker.errors
import requests
from docker.models.containers import Container

from labctl.backends.base import INSTANCE_LABEL, MANAGED_LABEL, ROLE_LABEL, Recovery
from labctl.backends.docker.engine import LOG_CONFIG, engine_call
from labctl.backends.profiles import SERVICE_UID
from labctl.errors import BackendError

if TYPE_CHECKING:
    from labctl.backends.docker.backend import DockerBackend

#: Debian's UID_MIN and UID_MAX (/etc/login.defs): the accounts people log in with.
LOGIN_UIDS: Final = range(1000, 60001)
#: What the sidecar runs (every labctl image has Python): kill(-1) as its user.
KILL_ALL: Final = (
    "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\n"
    "except ProcessLookupError:\n    pass\n"
)
RECOVER_ROLE: Final = "recover"
SIDECAR_TIMEOUT_S: Final = 30
#: How long the host gets to reap what was ended and pass its readiness test.
SETTLE_S: Final = 15.0
#: Samples of the pids count in a row that must leave room (see _settle).
STEADY: Final = 3


def login_users(passwd: bytes) -> dict[str, int]:
    """Name → uid of the accounts in an /etc/passwd that people log in with (not root,
    not system accounts, not the service user ``labctl``, not ``nobody``)."""
    users = {}
    for line in passwd.decode("utf-8", errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) < 3 or not fields[2].isdigit():
            continue
        uid = int(fields[2])
        if uid in LOGIN_UIDS and uid != SERVICE_UID:
            users[fields[0]] = uid
    return users


def recover_in_place(backend: DockerBackend, instance_id: str, host: str) -> Recovery:
    """End every process of the host's login users; say whether it is ready again."""
    container = backend.container(instance_id, host)
    with engine_call(f"inspect container {container.name}"):
        container.reload()
    tmpfs = tuple(sorted((container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}))
    state = container.attrs.get("State") or {}
    if not state.get("Running") or state.get("Paused"):
        why = f"it is not running ({state.get('Status', 'unknown')})"
        return Recovery(host, (), None, None, None, False, why, tmpfs)
    found = backend.read_file(instance_id, host, "/etc/passwd")
    users = login_users(found[0]) if found is not None else {}
    before, limit = pids_in_use(container)
    for uid in users.values():
        _end_processes_of(backend.client, container, uid)
    after, detail = _settle(backend, container, instance_id, host, limit)
    return Recovery(host, tuple(users), before, after, limit, not detail, detail, tmpfs)


def pids_in_use(container: Container) -> tuple[int | None, int | None]:
    """(processes now, the limit) as the engine counts them (None when it does not say)."""
    try:
        stats = container.stats(stream=False, one_shot=True)
    except (docker.errors.DockerException, requests.RequestException):
        return None, None
    pids = (stats.get("pids_stats") if isinstance(stats, dict) else None) or {}
    current, limit = pids.get("current"), pids.get("limit")
    return (
        int(current) if isinstance(current, int) else None,
        int(limit) if isinstance(limit, int) and 0 < limit < 2**62 else None,
    )


def _end_processes_of(client: docker.DockerClient, container: Container, uid: int) -> None:
    operation = f"end the processes of uid {uid} in {container.name}"
    labels = {MANAGED_LABEL: "true", ROLE_LABEL: RECOVER_ROLE}
    if INSTANCE_LABEL in container.labels:
        labels[INSTANCE_LABEL] = container.labels[INSTANCE_LABEL]  # `down` removes leftovers
    with engine_call(operation):
        sidecar = client.containers.create(
            container.attrs["Image"],
            ["python3", "-c", KILL_ALL],
            entrypoint=[],
            name=f"{container.name}-recover-{secrets.token_hex(3)}",
            user=f"{uid}:{uid}",
            pid_mode=f"container:{container.id}",
            labels=labels,
            network_disabled=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            read_only=True,
            mem_limit="64m",
            pids_limit=8,
            log_config=LOG_CONFIG,
        )
    try:
        with engine_call(operation):
            sidecar.start()
            status = int(sidecar.wait(timeout=SIDECAR_TIMEOUT_S).get("StatusCode", -1))
            output = sidecar.logs().decode(errors="replace").strip() if status else ""
    finally:
        with suppress(docker.errors.DockerException, requests.RequestException):
            sidecar.remove(force=True)
    if status != 0:
        raise BackendError(operation, f"exit status {status}: {output[-300:]}")


def _settle(
    backend: DockerBackend, container: Container, instance_id: str, host: str, limit: int | None
) -> tuple[int | None, str]:
    """(processes in use, why the host is not ready: "" once it is). Ready: running, its
    readiness test passes, and :data:`STEADY` samples in a row (the engine's count, about
    one a second) leave half of the limit free without rising; a bomb run as root, which
    nothing here ends, keeps hitting the limit."""
    deadline = time.monotonic() + SETTLE_S
    calm = 0
    previous: int | None = None
    while True:
        current, _ = pids_in_use(container)
        detail = ""
        if limit and current is not None and current > limit // 2:
            detail = f"{current} of {limit} processes still in use"
        else:
            status = next((s for s in backend.status(instance_id) if s.host == host), None)
            if status is None or status.state != "running":
                detail = f"it is not running ({status.state if status else 'missing'})"
            elif status.health not in {"healthy", "none"}:
                detail = f"its readiness test fails ({status.health})"
        rising = previous is not None and current is not None and current > previous
        calm = 0 if detail or rising else calm + 1
        previous = current
        if calm >= STEADY:
            return current, ""
        if time.monotonic() > deadline:
            return current, detail or f"the process count did not settle ({current} in use)"
        time.sleep(0.25)
