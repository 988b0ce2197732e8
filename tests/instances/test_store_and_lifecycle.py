"""The SQLite record and the up/down lifecycle, on an in-memory backend."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from instance_fakes import MemoryBackend

from labctl.errors import BackendError, InputError, NotFoundError
from labctl.instances import (
    InstanceExistsError,
    InstanceRecord,
    Instances,
    InstanceStore,
    connection_lines,
    default_db,
)
from labctl.spec import LoadedLab


def record(ident: str = "lab-ana", status: str = "starting") -> InstanceRecord:
    return InstanceRecord(ident, "lab", "ana", 1, "2026-01-01T00:00:00+00:00", status)


def test_default_database_follows_labctl_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LABCTL_HOME", str(tmp_path))
    assert default_db() == tmp_path / "labctl.db"
    monkeypatch.delenv("LABCTL_HOME")
    assert default_db() == Path.home() / ".local" / "share" / "labctl" / "labctl.db"


def test_store_round_trip_and_private_file(store: InstanceStore) -> None:
    store.reserve(record())
    store.update("lab-ana", status="running", ports={"attacker": {"22/tcp": 40022}})
    got = store.get("lab-ana")
    assert got is not None
    assert (got.status, got.ports) == ("running", {"attacker": {"22/tcp": 40022}})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [r.id for r in store.all()] == ["lab-ana"]
    assert store.delete("lab-ana")
    assert not store.delete("lab-ana")
    assert store.get("lab-ana") is None


def test_an_id_is_reserved_once(store: InstanceStore) -> None:
    store.reserve(record())
    with pytest.raises(InstanceExistsError, match="labctl down lab-ana"):
        store.reserve(record())


def test_a_failed_transaction_leaves_no_trace(store: InstanceStore) -> None:
    def insert_then_fail() -> None:
        with store.transaction() as db:
            db.execute(
                "INSERT INTO instances (id, lab, student, seed, created, status) "
                "VALUES ('x', 'l', 's', 1, 'now', 'starting')"
            )
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    assert store.get("x") is None


def test_up_records_a_running_instance_with_its_ports(
    replay_lab: LoadedLab, store: InstanceStore, memory_backend: MemoryBackend
) -> None:
    seen: list[tuple[str, str]] = []
    got = Instances(memory_backend, store).up(
        replay_lab, "Ana Lima", seed=5, progress=lambda s, m: seen.append((s, m))
    )
    assert (got.id, got.status, got.seed) == ("tc-replay-ana-lima", "running", 5)
    assert got.ports["attacker"] == {"22/tcp": 40000}
    assert got.ports["mission-control"] == {"8080/tcp": 40001}
    assert got.access["user"] == "student"
    assert len(got.access["password"]) >= 12
    plan = memory_backend.engines[got.id]
    assert plan.host("attacker").environment["LABCTL_STUDENT_PASSWORD"] == got.access["password"]
    assert ("spacecraft", "healthy") in seen
    assert connection_lines(got) == {
        "attacker (ssh)": "ssh -p 40000 student@127.0.0.1",
        "mission-control (web)": "http://127.0.0.1:40001/",
    }


def test_a_failed_up_leaves_no_record(
    replay_lab: LoadedLab,
    store: InstanceStore,
    memory_backend: MemoryBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MemoryBackend, "fail_up", "engine on fire")
    with pytest.raises(BackendError, match="engine on fire"):
        Instances(memory_backend, store).up(replay_lab, "ana")
    assert store.all() == []


def test_up_twice_is_refused(
    replay_lab: LoadedLab, store: InstanceStore, memory_backend: MemoryBackend
) -> None:
    instances = Instances(memory_backend, store)
    instances.up(replay_lab, "ana")
    with pytest.raises(InstanceExistsError):
        instances.up(replay_lab, "ana")


def test_down_removes_engine_objects_and_record(
    replay_lab: LoadedLab, store: InstanceStore, memory_backend: MemoryBackend
) -> None:
    instances = Instances(memory_backend, store)
    instances.up(replay_lab, "ana")
    report = instances.down("tc-replay-ana")
    assert report.containers == 6  # the five hosts and the gateway
    assert store.all() == []
    assert memory_backend.instances() == []
    with pytest.raises(NotFoundError, match="no instance named 'tc-replay-ana'"):
        instances.down("tc-replay-ana")


def test_status_shows_leftovers_but_down_all_removes_only_recorded_instances(
    replay_lab: LoadedLab, store: InstanceStore, memory_backend: MemoryBackend
) -> None:
    instances = Instances(memory_backend, store)
    instances.up(replay_lab, "ana")
    instances.up(replay_lab, "ben")
    store.delete("tc-replay-ben")  # e.g. a lost database: the engine still holds it
    views = {v.id: v for v in instances.status()}
    assert set(views) == {"tc-replay-ana", "tc-replay-ben"}
    assert views["tc-replay-ben"].record is None
    assert len(views["tc-replay-ana"].hosts) == 6
    # The engine may be shared: another state file's instance is not ours to remove.
    assert set(instances.down_all()) == {"tc-replay-ana"}
    assert instances.ids() == ["tc-replay-ben"]
    instances.down("tc-replay-ben")  # by name it goes
    assert instances.ids() == []


def test_status_of_an_unknown_instance(store: InstanceStore, memory_backend: MemoryBackend) -> None:
    with pytest.raises(NotFoundError, match="no instance is running"):
        Instances(memory_backend, store).status("nope")


@pytest.mark.parametrize("seed", [-1, 2**63, 10**30])
def test_a_seed_sqlite_cannot_hold_is_refused_before_anything_is_made(
    replay_lab: LoadedLab, memory_backend: MemoryBackend, store: InstanceStore, seed: int
) -> None:
    with pytest.raises(InputError, match="give a whole number from 0 to 9223372036854775807"):
        Instances(memory_backend, store).up(replay_lab, "ana", seed)
    assert store.all() == []
    assert MemoryBackend.engines == {}


def test_the_largest_seed_round_trips(
    replay_lab: LoadedLab, memory_backend: MemoryBackend, store: InstanceStore
) -> None:
    assert Instances(memory_backend, store).up(replay_lab, "ana", 2**63 - 1).seed == 2**63 - 1
    assert store.get("tc-replay-ana") == Instances(memory_backend, store).get("tc-replay-ana")


@pytest.mark.parametrize("student", ["", "   ", "!!!"])
def test_a_student_name_without_letters_is_refused(
    replay_lab: LoadedLab, memory_backend: MemoryBackend, store: InstanceStore, student: str
) -> None:
    with pytest.raises(InputError, match="give a name such as ana-lima"):
        Instances(memory_backend, store).up(replay_lab, student)
    assert store.all() == []


def test_down_of_an_empty_id_is_refused(
    memory_backend: MemoryBackend, store: InstanceStore
) -> None:
    with pytest.raises(InputError, match="instance id is empty"):
        Instances(memory_backend, store).down(" ")
