"""An engine restart gives an instance's containers new published ports: grading, `session
start`, `session status` and handouts go by the ports the engine publishes now
(labctl.instances.lifecycle.with_live_ports; the real engine: tests/security/
test_faults_engine_restart.py)."""

from __future__ import annotations

from dataclasses import replace

from instance_fakes import MemoryBackend

from labctl.backends.base import HostStatus
from labctl.instances import InstanceRecord, Instances, InstanceStore
from labctl.instances.lifecycle import PORTS_MOVED, mission_control_url, with_live_ports
from labctl.spec import LoadedLab

RECORDED = {"attacker": {"22/tcp": 32770}, "mission-control": {"8080/tcp": 32768}}


def _record() -> InstanceRecord:
    return InstanceRecord("tc-replay-ana", "tc-replay", "ana", 7, "now", "running", ports=RECORDED)


def _hosts(ssh: int, web: int) -> list[HostStatus]:
    return [
        HostStatus("attacker", "running", "healthy", {"22/tcp": ssh}),
        HostStatus("mission-control", "running", "healthy", {"8080/tcp": web}),
        HostStatus("spacecraft", "running", "healthy"),
    ]


def test_moved_ports_replace_the_recorded_ones() -> None:
    fresh = with_live_ports(_record(), _hosts(32771, 32769))
    assert fresh.ports == {"attacker": {"22/tcp": 32771}, "mission-control": {"8080/tcp": 32769}}
    assert mission_control_url(fresh) == "http://127.0.0.1:32769"
    assert fresh.access == _record().access


def test_unchanged_ports_keep_the_record() -> None:
    record = _record()
    assert with_live_ports(record, _hosts(32770, 32768)) is record


def test_nothing_published_keeps_the_record() -> None:
    """The gateway stopped: no port is right, the recorded ones stay (and fail to connect)."""
    record = _record()
    hosts = [HostStatus("attacker", "exited", "none"), HostStatus("spacecraft", "running", "none")]
    assert with_live_ports(record, hosts) is record


class _RestartedEngine(MemoryBackend):
    """The same instances, every published port moved (as after a dockerd restart)."""

    def status(self, instance_id: str) -> list[HostStatus]:
        return [
            replace(h, ports={p: port + 5 for p, port in h.ports.items()})
            for h in super().status(instance_id)
        ]


def test_status_says_the_ports_moved_and_current_stores_them(
    memory_backend: MemoryBackend, store: InstanceStore, replay_lab: LoadedLab
) -> None:
    record = Instances(memory_backend, store).up(replay_lab, "ana")
    restarted = Instances(_RestartedEngine(), store)
    (view,) = restarted.status(record.id)
    assert view.state == "running"
    assert view.explanation == PORTS_MOVED

    fresh = restarted.current(record.id)
    assert fresh.ports != record.ports
    assert store.get(record.id) == fresh
    assert mission_control_url(fresh) == f"http://127.0.0.1:{_web(record) + 5}"
    (view,) = restarted.status(record.id)
    assert view.explanation == ""


def _web(record: InstanceRecord) -> int:
    return next(p["8080/tcp"] for p in record.ports.values() if "8080/tcp" in p)
