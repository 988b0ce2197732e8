"""``Instances.up`` applies the lab's injects, records them, and rolls back when one fails.

File injects go into the created hosts before they start (no restart); the others after."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_fakes import FakeBackend

from labctl.backends.base import BeforeStart, HostStatus, InstancePlan, Progress, no_progress
from labctl.instances import Instances, InstanceStore
from labctl.scenario import InjectFailed
from labctl.spec import LoadedLab


class UpBackend(FakeBackend):
    """The fake hosts behind an engine that brings instances up and down."""

    def __init__(self, hosts: FakeBackend) -> None:
        super().__init__(hosts=hosts.hosts)
        self.running: set[str] = set()
        self.removed: list[str] = []

    def up(
        self,
        plan: InstancePlan,
        progress: Progress = no_progress,
        before_start: BeforeStart | None = None,
        *,
        keep_on_failure: bool = False,
    ) -> list[HostStatus]:
        """Created (files only), ``before_start``, started; removed again if the hook fails."""
        self._started(False)
        try:
            if before_start is not None:
                before_start(plan)
        except BaseException:
            self.removed.append(plan.instance_id)
            raise
        self._started(True)
        self.running.add(plan.instance_id)
        return [HostStatus(h.name, "running", "healthy") for h in plan.hosts]

    def _started(self, started: bool) -> None:
        for host in self.hosts.values():
            host.started = started

    def down(self, instance_id: str, progress: object = None) -> object:  # type: ignore[override]
        self.running.discard(instance_id)
        self.removed.append(instance_id)
        return super().down(instance_id)


def test_up_applies_and_records_every_inject(
    replay_lab: LoadedLab, backend: FakeBackend, tmp_path: Path
) -> None:
    engine = UpBackend(backend)
    store = InstanceStore(tmp_path / "labctl.db")
    record = Instances(engine, store).up(replay_lab, "ana", seed=5)  # type: ignore[arg-type]
    assert record.status == "running"
    events = store.events(record.id)
    # tc-replay: SCID and SPI on both ends, the duplicate tag, the two weaknesses, the
    # student's account, nominal operations; and labctl's two grading accounts
    assert [e.kind for e in events].count("set_config") == 12
    graders = [e for e in events if e.kind == "set_config" and "users.grader" in e.summary]
    assert len(graders) == 2
    # both uplink keys, the student's account file on the workstation
    assert [e.kind for e in events].count("write_file") == 3
    assert [e for e in events if e.kind == "restart"] == []  # written before the first start
    assert engine.restarted == []
    assert all(e.changed for e in events)


def test_a_failing_inject_rolls_the_instance_back(
    replay_lab: LoadedLab, backend: FakeBackend, tmp_path: Path
) -> None:
    del backend.hosts["ground-station"].files["/etc/labctl/ground-station.yaml"]
    engine = UpBackend(backend)
    store = InstanceStore(tmp_path / "labctl.db")
    with pytest.raises(InjectFailed, match=r"^injects\[1\] \(set_config on ground-station\): "):
        Instances(engine, store).up(replay_lab, "ana", seed=5)  # type: ignore[arg-type]
    assert engine.removed == ["tc-replay-ana"]
    assert engine.running == set()
    assert store.all() == []
    assert store.events("tc-replay-ana") == []


def test_a_phase_opens_on_the_running_instance_once_and_shows_in_the_briefing(
    backend: FakeBackend, tmp_path: Path
) -> None:
    from labctl.errors import NotFoundError
    from labctl.scenario import render_briefing
    from labctl.spec import load_lab

    lab = load_lab(Path(__file__).resolve().parents[2] / "labs" / "gs-ssh-keys")
    engine = UpBackend(backend)
    store = InstanceStore(tmp_path / "labctl.db")
    instances = Instances(engine, store)  # type: ignore[arg-type]
    record = instances.up(lab, "ana", seed=5)
    assert "ops" not in backend.hosts["ground-station"].users  # a shortcut during the attack
    assert instances.opened_phases(record.id) == []

    assert instances.open_phase(lab, record.id, "defence") is True
    assert backend.hosts["ground-station"].users["ops"]["groups"] == ["labops"]
    seed_file = "/usr/local/share/labctl/home/ground-station.txt"
    assert b"user: ops" in (backend.hosts["attacker"].files[seed_file].content or b"")
    # nothing restarted: the workstation's home is refreshed from its seed instead
    assert engine.restarted == []
    assert engine.home_refreshes == 1
    assert instances.opened_phases(record.id) == ["defence"]
    assert instances.open_phase(lab, record.id, "defence") is False  # once

    closed = render_briefing(lab, "ana", 5, record.id)
    opened = render_briefing(lab, "ana", 5, record.id, phases=["defence"])
    from labctl.spec.params import derive

    ops_password = str(derive(lab.spec, "ana", "5").public()["ops_password"])
    assert ops_password not in closed
    assert ops_password in opened
    assert opened.startswith(closed.rstrip("\n"))
    assert "## Defence phase" in opened
    with pytest.raises(NotFoundError, match="the lab's phases: defence"):
        instances.open_phase(lab, record.id, "hardening")
