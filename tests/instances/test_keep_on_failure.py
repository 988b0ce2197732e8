"""``labctl up --keep-on-failure``: a failed instance is kept, recorded as failed, with a
line saying how to look at it and how to remove it."""

from __future__ import annotations

import pytest
from instance_fakes import MemoryBackend

from labctl.errors import BackendError
from labctl.instances import InstanceExistsError, InstanceKept, Instances, InstanceStore
from labctl.spec import LoadedLab


def test_a_failed_up_is_kept_when_asked(
    replay_lab: LoadedLab,
    store: InstanceStore,
    memory_backend: MemoryBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MemoryBackend, "fail_up", "spacecraft refuses its configuration")
    instances = Instances(memory_backend, store)
    with pytest.raises(InstanceKept) as info:
        instances.up(replay_lab, "ana", keep_on_failure=True)
    kept = info.value
    assert isinstance(kept.cause, BackendError)
    assert kept.exit_code == BackendError.exit_code
    first, second = kept.one_line().splitlines()
    assert "spacecraft refuses its configuration" in first
    assert second == (
        "instance tc-replay-ana was kept for inspection: labctl status tc-replay-ana;"
        " labctl logs tc-replay-ana HOST; labctl shell tc-replay-ana HOST;"
        " remove it with labctl down tc-replay-ana"
    )
    record = store.get("tc-replay-ana")
    assert record is not None
    assert record.status == "failed"
    assert memory_backend.instances() == ["tc-replay-ana"]
    (view,) = instances.status("tc-replay-ana")
    assert view.state == "failed"
    assert "labctl down tc-replay-ana" in view.explanation
    with pytest.raises(InstanceExistsError, match="labctl down tc-replay-ana"):
        instances.up(replay_lab, "ana")
    instances.down("tc-replay-ana")
    assert store.all() == []
    assert memory_backend.instances() == []


def test_without_the_flag_nothing_is_kept(
    replay_lab: LoadedLab,
    store: InstanceStore,
    memory_backend: MemoryBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MemoryBackend, "fail_up", "engine on fire")
    with pytest.raises(BackendError):
        Instances(memory_backend, store).up(replay_lab, "ana")
    assert store.all() == []
    assert memory_backend.instances() == []
