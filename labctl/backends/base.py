"""The backend interface: what any container engine must do to run a lab instance.

A backend receives an :class:`InstancePlan` (engine-neutral: hosts, networks, images,
limits, capabilities) and runs it. The six operations are ``up``, ``down``, ``exec``,
``copy_to``/``copy_from`` (the copy pair), ``logs`` and ``status``; the scenario engine
adds ``stat``, ``restart`` (a host re-reads its configuration) and ``connect``/``disconnect``;
``recover`` ends a host's runaway user processes in place (``labctl restart``);
``stop``/``start`` stop an idle instance's hosts and start them again, everything on
their disks kept (docs/instructor-guide.md, "Lifetimes, idle stops and caps").
The edges need three more, so that none of them reaches for a concrete backend:
``shell_argv`` (an interactive shell), ``vantages`` (the grader's and the adversary's
containers) and the images (``prepare_images`` before ``up``; build, list, save, load).
The copy pair and ``stat`` also work on a host that is created but not yet started: ``up``
calls its ``before_start`` hook there, so file changes need no restart.
A backend that spreads instances over machines also has ``nodes`` (:class:`MultiNode`).
Implementations are registered by name (``docker``, ``swarm``) and looked up with
:func:`get_backend`; the built-in ones are imported only when asked for, so importing
this module stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from labctl.errors import NotFoundError
from labctl.range import wiring

if TYPE_CHECKING:
    from labctl.backends.vantage import Vantages

#: (subject, message): a host, network or image name and what just happened to it.
Progress = Callable[[str, str], None]

MANAGED_LABEL: Final = "org.labctl.managed"
INSTANCE_LABEL: Final = "org.labctl.instance"
HOST_LABEL: Final = "org.labctl.host"
ROLE_LABEL: Final = "org.labctl.role"
LAB_LABEL: Final = "org.labctl.lab"
FORWARDS_LABEL: Final = "org.labctl.forwards"
#: A host's readiness test (JSON argv, e.g. ["labctl-listening", "tcp", "22"]): labctl
#: runs it when asked, the engine never does (see labctl.backends.docker.readiness).
READY_LABEL: Final = "org.labctl.ready"
#: The one network published ports go through; only the gateway is on it.
ACCESS_NETWORK: Final = "access"
#: The instance's relay between published ports and the hosts that offer them.
GATEWAY_HOST: Final = wiring.GATEWAY


def link_network(host: str) -> str:
    """The internal network between the gateway and ``host``: ``link-<host>``."""
    return f"link-{host}"


def no_progress(subject: str, message: str) -> None:
    """A progress callback that ignores everything."""
    del subject, message


@dataclass(frozen=True)
class NetworkPlan:
    """One network of an instance. ``access``: published ports go through it."""

    name: str
    access: bool = False


@dataclass(frozen=True)
class FileSpec:
    """A file (or, with ``content=None``, a directory) written into a host before it starts."""

    content: bytes | None
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class FileStat:
    """Mode and owner of a file or directory in a host."""

    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class Limits:
    memory_mib: int
    cpus: float
    pids: int
    #: Size of a writable root file system, where the engine's storage can bound it
    #: (docs/security.md); None for hosts whose root is read-only.
    writable_mib: int | None = None


@dataclass(frozen=True)
class HostPlan:
    """One host: what runs, where it is attached and how it is confined."""

    name: str
    role: str
    image: str
    networks: tuple[str, ...]
    limits: Limits
    capabilities: tuple[str, ...] = ()
    read_only: bool = False
    no_new_privileges: bool = True
    #: Paths kept on per-instance volumes (seeded from the image), e.g. /etc/labctl.
    volumes: tuple[str, ...] = ()
    #: Of ``volumes``, those the host's programs get read-only: only labctl writes them
    #: (files for the student, on a host whose root is read-only and students have root).
    read_only_volumes: tuple[str, ...] = ()
    #: tmpfs mounts: path → mount options (e.g. "mode=1777").
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    #: Container ports published on the host's loopback, e.g. ("10001/tcp",).
    published: tuple[str, ...] = ()
    #: For a gateway: its port ("10001/tcp") → (host, that host's port "22/tcp").
    forwards: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: Run as this user (None: the image's own).
    user: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    #: Written before the first start (absolute path → file), parents listed first.
    files: Mapping[str, FileSpec] = field(default_factory=dict)
    #: Replaces the image's command (None: the image's own).
    command: tuple[str, ...] | None = None
    #: Replaces the image's health check (None: the image's own).
    healthcheck: tuple[str, ...] | None = None


@dataclass(frozen=True)
class InstancePlan:
    """Everything a backend needs to bring one instance up."""

    instance_id: str
    lab: str
    hosts: tuple[HostPlan, ...]
    networks: tuple[NetworkPlan, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    def host(self, name: str) -> HostPlan:
        for host in self.hosts:
            if host.name == name:
                return host
        raise NotFoundError("host", name, hint=f"instance {self.instance_id} has no such host")


@dataclass(frozen=True)
class HostStatus:
    """What the engine says about one host of an instance."""

    host: str
    state: str  # created, running, restarting, exited, missing ...
    health: str  # healthy, unhealthy, starting, none
    #: container port ("22/tcp") → host port on 127.0.0.1
    ports: Mapping[str, int] = field(default_factory=dict)
    uptime_s: float | None = None
    #: network name → the host's IPv4 address on it
    addresses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


@dataclass(frozen=True)
class DownReport:
    """What ``down`` removed."""

    containers: int
    networks: int
    volumes: int

    @property
    def anything(self) -> bool:
        return bool(self.containers or self.networks or self.volumes)


@dataclass(frozen=True)
class ImageInfo:
    """A lab image as the engine holds it."""

    role: str
    tag: str
    state: str  # current, stale, missing, unknown (no wheelhouse to compare with)
    size_mb: float | None = None
    arch: str | None = None  # amd64, arm64 (None: missing)


@dataclass(frozen=True)
class Recovery:
    """What ``recover`` did to one host, in place (no restart: its tmpfs mounts keep
    what the student wrote there)."""

    host: str
    #: The login users (not root, not the service user) whose processes were ended.
    users: tuple[str, ...]
    #: Processes (the engine's pids count) before and after; None when it cannot say.
    pids_before: int | None
    pids_after: int | None
    pids_limit: int | None
    #: Running, its readiness test passes and it has room for processes again.
    ready: bool
    #: Why it is not ready ("" when it is).
    detail: str = ""
    #: The host's tmpfs mounts: what a container restart would empty.
    tmpfs: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeInfo:
    """One machine of a multi-node backend (``labctl nodes``)."""

    id: str
    hostname: str
    role: str  # manager, worker
    state: str  # ready, down, unknown
    availability: str  # active, pause, drain
    #: The node's engine address (None: labctl's own engine).
    engine: str | None
    memory_bytes: int
    cpus: float
    #: Ids of the labctl instances whose hosts run there.
    instances: tuple[str, ...] = ()
    #: The architecture its engine runs natively (amd64, arm64; "" when unknown).
    arch: str = ""

    @property
    def usable(self) -> bool:
        """It can take a new instance."""
        return self.state == "ready" and self.availability == "active"


@runtime_checkable
class MultiNode(Protocol):
    """A backend that places instances on several machines (``swarm``)."""

    def nodes(self) -> list[NodeInfo]:
        """Every node with the instances placed there."""
        ...


#: Called by ``up`` once every host is created (and its plan files written), before any
#: starts: the copy pair and ``stat`` work then. If it raises, ``up`` removes everything.
BeforeStart = Callable[[InstancePlan], None]


class Backend(Protocol):
    """A container engine that runs lab instances. Methods raise BackendError on failure."""

    name: str

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
        *,
        keep_on_failure: bool = False,
    ) -> list[HostStatus]:
        """Create everything, call ``before_start``, start; all hosts healthy, or nothing
        left behind (``keep_on_failure``: what was made is left for inspection)."""
        ...

    def down(self, instance_id: str, progress: Progress = no_progress) -> DownReport:
        """Remove the instance's containers, networks and volumes (found by label)."""
        ...

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        """Run ``argv`` in ``host`` and return its exit status and combined output."""
        ...

    def copy_to(self, instance_id: str, host: str, files: Mapping[str, FileSpec]) -> None:
        """Write files and directories (absolute path → spec) into ``host``."""
        ...

    def copy_from(self, instance_id: str, host: str, path: str) -> bytes:
        """Read one regular file out of ``host``."""
        ...

    def stat(self, instance_id: str, host: str, path: str) -> FileStat | None:
        """Mode and owner of ``path`` in ``host`` (None when it does not exist)."""
        ...

    def read_file(self, instance_id: str, host: str, path: str) -> tuple[bytes, FileStat] | None:
        """A regular file's content with its mode and owner, in one operation (None when
        it does not exist): ``copy_from`` and ``stat`` together."""
        ...

    def logs(self, instance_id: str, host: str, tail: int = 200) -> str:
        """The last ``tail`` lines of the host's program output."""
        ...

    def restart(self, instance_id: str, host: str) -> HostStatus:
        """Restart the host's program (it reads its configuration again); wait until healthy."""
        ...

    def recover(self, instance_id: str, host: str) -> Recovery:
        """End every process of the host's login users (a fork bomb, a runaway job) without
        restarting it, and say whether it is ready again; raises nothing for a host that
        stays unusable (the caller decides whether to restart it)."""
        ...

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        """Attach ``host`` to the instance's ``network``; False if it already was."""
        ...

    def disconnect(self, instance_id: str, host: str, network: str) -> bool:
        """Detach ``host`` from the instance's ``network``; False if it was not attached."""
        ...

    def stop(self, instance_id: str, progress: Progress = no_progress) -> int:
        """Stop every host of the instance, removing nothing (its disks, volumes and
        networks stay; its memory and tmpfs mounts are given back); the hosts stopped."""
        ...

    def start(self, instance_id: str, progress: Progress = no_progress) -> list[HostStatus]:
        """Start the stopped hosts of the instance again and wait until every one is ready."""
        ...

    def status(self, instance_id: str) -> list[HostStatus]:
        """One entry per host of the instance (empty when it does not exist)."""
        ...

    def instances(self) -> list[str]:
        """Ids of every instance this engine holds anything of."""
        ...

    def shell_argv(self, instance_id: str, host: str, user: str | None = None) -> list[str]:
        """The command line that opens an interactive login shell in ``host`` (as ``user``,
        in their home; as the image's user when None), for the edge to run with the user's
        terminal."""
        ...

    def vantages(self) -> Vantages:
        """Extra containers inside an instance: the grader's vantage, the adversary."""
        ...

    # Images: what ``up`` needs first, and ``labctl images``.

    def prepare_images(self, roles: Sequence[str], progress: Progress = no_progress) -> list[str]:
        """Make the images of ``roles`` (and whatever the engine's own helpers run) present,
        building only the missing ones; the roles built."""
        ...

    def build_images(
        self, progress: Progress = no_progress, force: bool = False, arch: str | None = None
    ) -> None:
        """Build every lab image that is not current (all of them with ``force``), for
        ``arch`` (amd64, arm64; default: the engine's own architecture)."""
        ...

    def list_images(self) -> list[ImageInfo]:
        """Every lab image: present and current, stale or missing."""
        ...

    def save_images(self, path: Path, written: Callable[[int], None]) -> list[str]:
        """Save every lab image into one archive at ``path``; ``written`` hears the bytes
        written so far. The tags saved."""
        ...

    def load_images(self, path: Path, progress: Progress = no_progress) -> list[str]:
        """Load the images of an archive written by :meth:`save_images`; the tags loaded."""
        ...


BackendFactory = Callable[[], Backend]

_REGISTRY: dict[str, BackendFactory] = {}
#: Built-in backends, imported on first use: name → module that registers it.
_BUILTIN: Final = {"docker": "labctl.backends.docker", "swarm": "labctl.backends.swarm"}


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Class decorator (or factory decorator) registering a backend under ``name``."""

    def register(factory: BackendFactory) -> BackendFactory:
        _REGISTRY[name] = factory
        return factory

    return register


def backend_names() -> list[str]:
    return sorted({*_REGISTRY, *_BUILTIN})


def get_backend(name: str = "docker") -> Backend:
    """A new backend instance by name."""
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    factory = _REGISTRY.get(name)
    if factory is None:
        raise NotFoundError("backend", name, hint=f"known: {', '.join(backend_names())}")
    return factory()
