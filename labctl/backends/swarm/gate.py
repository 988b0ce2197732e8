"""The start gate: a host's program starts only once labctl has written its files.

Swarm starts a service's container as soon as it creates the task: there is no "created,
not started" state in which to write the plan's files and the scenario's file injects
(the docker backend's ``before_start``). So every host's service runs its image's own
command behind a gate: a shell that waits until ``/dev/shm/.labctl-open`` exists, then
``exec``s the image's entrypoint and command (PID 1 is then the image's program, as with
the docker backend). labctl writes the files through the engine's archive API into the
waiting container and opens the gate with one ``touch`` as root.

/dev/shm is a tmpfs of each container, so every new container of a task (a restart, a
move to another node) waits again, until labctl has written the files once more
(:mod:`labctl.backends.swarm.kept`): a host never runs without its files.
"""

from __future__ import annotations

import shlex
from typing import Final

import docker
from docker.models.containers import Container

from labctl.backends.base import HostPlan
from labctl.backends.docker.engine import engine_call
from labctl.errors import BackendError

MARKER: Final = "/dev/shm/.labctl-open"
#: The gate: waits for the marker, then becomes the image's program ("$@").
SCRIPT: Final = f'while [ ! -e {MARKER} ]; do sleep 0.1; done; exec "$@"'
#: Replaces the image's entrypoint; the image's own command line follows as arguments.
ENTRYPOINT: Final = ("/bin/sh", "-c", SCRIPT, "labctl-gate")
#: Sets the no_new_privs flag, then becomes the program: what the engine's
#: ``no-new-privileges`` does, for engines whose Swarm API drops that field (before API
#: 1.46). Every process the program starts inherits it; a ``docker exec`` (labctl's own
#: reads and checks; students have none) does not. util-linux's, in every Debian image.
NO_NEW_PRIVS: Final = ("setpriv", "--no-new-privs")


def gated_argv(client: docker.DockerClient, host: HostPlan) -> list[str]:
    """The image's entrypoint and command (the plan's command replaces the image's, as
    ``docker run IMAGE COMMAND`` does), behind :data:`NO_NEW_PRIVS` when the host's
    profile asks for no new privileges: what the gate ``exec``s."""
    with engine_call(f"inspect image {host.image}"):
        config = client.images.get(host.image).attrs.get("Config") or {}
    entrypoint = list(config.get("Entrypoint") or [])
    command = list(host.command) if host.command is not None else list(config.get("Cmd") or [])
    argv = [*entrypoint, *command]
    if not argv:
        raise BackendError(f"plan host {host.name}", f"image {host.image} runs no program")
    return [*NO_NEW_PRIVS, *argv] if host.no_new_privileges else argv


def is_open(container: Container) -> bool:
    """Whether the gate of this container has been opened."""
    with engine_call(f"look at the start gate of {container.name}"):
        exit_code, _ = container.exec_run(["test", "-e", MARKER], user="root")
    return exit_code == 0


def open_gate(container: Container) -> None:
    """Give the tmpfs mounts their modes, then let the host's program start (its files
    are written).

    Docker 20.10 drops a service's tmpfs mode: the mount takes the mode and owner of the
    image's directory under it (``/run``: root's, 0755, where the spacecraft's program,
    running as ``labctl``, must write ``/run/labctl``). Root in the container owns such a
    directory, so it can set the mode without any capability; a directory the image gives
    to another user (the student's home) keeps that owner and mode."""
    script = [f"{_chmod_if_root(path, mode)}; " for path, mode in tmpfs_modes(container).items()]
    script.append(f"touch {MARKER}")
    with engine_call(f"open the start gate of {container.name}"):
        exit_code, output = container.exec_run(["/bin/sh", "-c", "".join(script)], user="root")
    if exit_code != 0:
        text = output.decode(errors="replace").strip() if isinstance(output, bytes) else ""
        raise BackendError(f"open the start gate of {container.name}", text or "touch failed")


def tmpfs_modes(container: Container) -> dict[str, int]:
    """Each tmpfs mount of the container (path → the mode its service asked for)."""
    mounts = (container.attrs.get("HostConfig") or {}).get("Mounts") or []
    return {
        str(m["Target"]): int((m.get("TmpfsOptions") or {}).get("Mode") or 0o1777)
        for m in mounts
        if m.get("Type") == "tmpfs"
    }


def _chmod_if_root(path: str, mode: int) -> str:
    quoted = shlex.quote(path)
    return f'[ "$(stat -c %u {quoted})" != 0 ] || chmod {mode:o} {quoted}'
