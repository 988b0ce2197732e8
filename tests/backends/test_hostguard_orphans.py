"""Host-guard containers left exited by a labctl killed while nft ran (the SDK removes a
``run`` container from the client, after the wait) are removed by the next ``protect``
once they are old enough; a young one may be a live run's, and stays."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from labctl.backends.docker.hostguard import ORPHAN_AGE_S, HostGuard


@dataclass
class _Container:
    state: str
    age_s: float
    removed: bool = False

    @property
    def attrs(self) -> dict[str, Any]:  # a sparse list entry: Created in epoch seconds
        return {"State": self.state, "Created": int(time.time() - self.age_s)}

    def remove(self, force: bool = False) -> None:
        self.removed = True


@dataclass
class _Containers:
    found: list[_Container]
    filters: list[dict[str, Any]] = field(default_factory=list)

    def list(self, *, all: bool, filters: dict[str, Any], sparse: bool) -> list[_Container]:
        assert all
        assert sparse
        self.filters.append(filters)
        return self.found


@dataclass
class _Client:
    containers: _Containers


def test_old_exited_guard_containers_are_removed_young_or_running_ones_kept() -> None:
    orphan = _Container("exited", ORPHAN_AGE_S + 60)
    young = _Container("exited", 1)
    running = _Container("running", ORPHAN_AGE_S + 60)
    client = _Client(_Containers([orphan, young, running]))
    HostGuard(client)._remove_orphans()  # type: ignore[arg-type]
    assert client.containers.filters == [{"label": "org.labctl.role=host-guard"}]
    assert orphan.removed
    assert not young.removed
    assert not running.removed
