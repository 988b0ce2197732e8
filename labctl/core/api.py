"""The core API: what a user of labctl can do, for every edge (the CLI, the portal).

    core = Core(Settings.resolve())
    core.labs.list()                                   # LabEntry per lab folder
    connection = core.instances.up("tc-replay", "ana-lima", on_event=print)
    core.instances.grade(connection.record.id, report=Path("ana.md"))
    core.sessions.start("tc-replay", Path("class.csv"), name="s1")

Every operation returns typed results and reports long work as :class:`~labctl.core.events.Event`
s; none prints, prompts or exits. A rule that decides something (who may do what, what a
student may see) lives here or below, once, so both edges get it. The backend and the
state database are opened on first use: listing labs touches neither.
"""

from __future__ import annotations

from functools import cached_property

from labctl.backends.base import Backend, MultiNode, NodeInfo, get_backend
from labctl.core.instances import InstancesApi
from labctl.core.kubernetes import KubernetesApi
from labctl.core.labs import LabsApi
from labctl.core.sessions import SessionsApi
from labctl.core.settings import Settings
from labctl.errors import LabctlError
from labctl.instances import Instances, InstanceStore
from labctl.sessions import Sessions
from labctl.sessions.reaper import Caps


class Core:
    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend | None = None,
        store: InstanceStore | None = None,
    ) -> None:
        self.settings = settings
        if backend is not None:
            self.__dict__["backend"] = backend
        if store is not None:
            self.__dict__["store"] = store

    @cached_property
    def backend(self) -> Backend:
        return get_backend(self.settings.backend)

    @cached_property
    def store(self) -> InstanceStore:
        return InstanceStore(self.settings.state_file)

    @cached_property
    def labs(self) -> LabsApi:
        return LabsApi(self.settings.labs_dir)

    @cached_property
    def instances(self) -> InstancesApi:
        return InstancesApi(self.backend, Instances(self.backend, self.store), self.labs)

    @cached_property
    def kubernetes(self) -> KubernetesApi:
        return KubernetesApi(self.labs)

    @cached_property
    def sessions(self) -> SessionsApi:
        caps = Caps(self.settings.max_running, self.settings.max_per_student)
        return SessionsApi(Sessions(self.backend, self.store), self.instances, caps)

    def nodes(self) -> list[NodeInfo]:
        """The machines instances are placed on: only a multi-node backend has them."""
        backend = self.backend
        if not isinstance(backend, MultiNode):
            raise LabctlError(
                f"the {backend.name} backend runs everything on one engine and has no nodes;"
                " set LABCTL_BACKEND=swarm (docs/swarm.md)"
            )
        return backend.nodes()
