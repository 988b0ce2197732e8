"""The core opens a phase by its rule: when every ``after`` objective of the phase held in
a self-check, never before, and only once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from labctl.core.instances import InstancesApi
from labctl.spec import LoadedLab, load_lab

REPO = Path(__file__).resolve().parents[2]


@dataclass
class PhaseLog:
    """Stands for :class:`labctl.instances.Instances`: remembers the phases opened."""

    opened: list[str] = field(default_factory=list)

    def opened_phases(self, ident: str) -> list[str]:
        return list(self.opened)

    def open_phase(self, loaded: LoadedLab, ident: str, phase: str, progress: Any) -> bool:
        if phase in self.opened:
            return False
        self.opened.append(phase)
        return True


def _api(log: PhaseLog) -> InstancesApi:
    return InstancesApi(cast(Any, None), cast(Any, log), cast(Any, None))


def test_a_phase_opens_only_once_its_after_objectives_have_held() -> None:
    lab = load_lab(REPO / "labs" / "gs-ssh-keys")
    log = PhaseLog()
    api = _api(log)
    assert api._open_earned_phases(lab, "i", {"mission-flies"}, lambda e: None) == ()
    assert log.opened == []
    notes: list[str] = []
    opened = api._open_earned_phases(
        lab, "i", {"stolen-key-command", "mission-flies"}, lambda e: notes.append(e.message)
    )
    assert opened == ("defence",)
    assert notes == ["phase defence opens: stolen-key-command held"]
    assert api._open_earned_phases(lab, "i", {"stolen-key-command"}, lambda e: None) == ()
    assert log.opened == ["defence"]


def test_a_phase_without_a_rule_waits_for_the_instructor() -> None:
    lab = load_lab(REPO / "docs" / "examples" / "example-lab")
    ruled = lab.spec.model_copy(
        update={"phases": (lab.spec.phases[0].model_copy(update={"after": ()}),)}
    )
    log = PhaseLog()
    loaded = LoadedLab(**{**lab.__dict__, "spec": ruled})
    assert _api(log)._open_earned_phases(loaded, "i", {"rogue-command"}, lambda e: None) == ()
    assert log.opened == []
