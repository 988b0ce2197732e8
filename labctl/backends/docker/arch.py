"""CPU architectures the images are built for, and whether an engine can run them.

labctl's images are made from Debian and from wheels only, so every architecture that
both Debian and the wheels' manylinux tags cover works the same way. Two are supported:
``amd64`` (x86-64 servers and laptops) and ``arm64`` (Apple silicon under Docker Desktop,
ARM servers). Each image carries :data:`ARCH_LABEL`; the engine's own ``Architecture``
field is not used for that, because ``docker import`` on older engines leaves it at the
engine's own architecture whatever the files inside are.

An engine runs images of another architecture only when its kernel hands their programs
to an emulator (binfmt_misc with qemu-user-static, or Docker Desktop's emulation).
:func:`runs_foreign` asks the engine itself: one throwaway container runs ``true``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Final

import docker
import docker.errors
import requests

from labctl.errors import BackendError

ARCH_LABEL: Final = "org.labctl.arch"


@dataclass(frozen=True)
class Arch:
    """One architecture under the names each tool gives it."""

    name: str  # Debian's and Docker's platform name: amd64, arm64
    machine: str  # the kernel's (uname -m) and the wheels' platform tags: x86_64, aarch64


ARCHES: Final = {
    "amd64": Arch("amd64", "x86_64"),
    "arm64": Arch("arm64", "aarch64"),
}
_BY_MACHINE: Final = {a.machine: a for a in ARCHES.values()} | {"arm64": ARCHES["arm64"]}


def arch_named(name: str) -> Arch:
    """The architecture called ``name`` (Debian's or the kernel's name); a clear error
    for any other."""
    found = ARCHES.get(name.lower()) or _BY_MACHINE.get(name.lower())
    if found is None:
        raise BackendError(
            "choose the image architecture",
            f"unknown architecture {name!r}",
            hint=f"use one of: {', '.join(ARCHES)}",
        )
    return found


_ENGINE_ARCH: weakref.WeakKeyDictionary[docker.DockerClient, Arch] = weakref.WeakKeyDictionary()


def engine_arch(client: docker.DockerClient) -> Arch:
    """The architecture the engine's machine runs natively (``docker info``, asked once
    per client)."""
    known = _ENGINE_ARCH.get(client)
    if known is None:
        known = _ENGINE_ARCH[client] = _ask_engine_arch(client)
    return known


def _ask_engine_arch(client: docker.DockerClient) -> Arch:
    try:
        machine = str(client.info().get("Architecture", ""))
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise BackendError("ask the engine its architecture", str(exc)) from exc
    found = _BY_MACHINE.get(machine)
    if found is None:
        raise BackendError(
            "ask the engine its architecture",
            f"the engine runs on {machine or 'an unnamed architecture'}, which labctl"
            " has no images for",
            hint=f"labctl builds images for {', '.join(ARCHES)}",
        )
    return found


def runs_foreign(client: docker.DockerClient, image: str) -> bool:
    """Whether the engine can run ``image`` (of another architecture than its own): one
    container with no network runs ``true`` in it and is removed."""
    try:
        client.containers.run(
            image,
            ["true"],
            entrypoint=[],
            network_mode="none",
            remove=True,
            labels={"org.labctl.managed": "true", "org.labctl.role": "arch-probe"},
        )
    except docker.errors.ContainerError:
        return False  # "exec format error": nothing emulates that architecture here
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        if "exec format error" in str(exc):
            return False
        raise BackendError(f"try an image of another architecture ({image})", str(exc)) from exc
    return True


__all__ = ["ARCHES", "ARCH_LABEL", "Arch", "arch_named", "engine_arch", "runs_foreign"]
