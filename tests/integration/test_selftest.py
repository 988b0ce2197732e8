"""``labctl selftest`` of every lab in labs/ on the real engine, two seeds each: every
step as expected, every checked objective judged, and nothing left behind."""

from __future__ import annotations

import secrets

import pytest
from live import REPO

from graders.live.selftest import InstancesLauncher, SelfTest, Step
from graders.live.target import GradeTarget
from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend
from labctl.instances import Instances, InstanceStore
from labctl.spec import LoadedLab, load_lab

pytestmark = pytest.mark.docker


class RecordingLauncher(InstancesLauncher):
    """Remembers the instances it made, to prove afterwards that none is left."""

    def __init__(self, instances: Instances, loaded: LoadedLab) -> None:
        super().__init__(instances, loaded)
        self.ids: list[str] = []

    def up(self, seed: int) -> GradeTarget:
        target = super().up(seed)
        self.ids.append(target.instance_id)
        return target


LABS = sorted(p.parent.name for p in (REPO / "labs").glob("*/lab.yaml"))
SEEDS = 2


def _paced(loaded: LoadedLab) -> bool:
    """A pass-driven lab: its checks mostly wait for a pass (compressed in time)."""
    return any(i.args.get("key") == "channel.passes.orbit" for i in loaded.spec.injects)


def _lab_param(lab: str) -> object:
    """A pass-driven lab's selftest is upset by a loaded machine: marked ``machine_load``."""
    if _paced(load_lab(REPO / "labs" / lab)):
        return pytest.param(lab, marks=pytest.mark.machine_load)
    return lab


@pytest.mark.parametrize("lab", [_lab_param(lab) for lab in LABS])
def test_selftest(
    lab: str, lab_backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    manager = Instances(lab_backend, InstanceStore(tmp_path_factory.mktemp("state") / "db"))
    launcher = RecordingLauncher(manager, load_lab(REPO / "labs" / lab))
    seeds = sorted({secrets.randbelow(2**31) for _ in range(SEEDS)})
    # A pass-driven lab's checks mostly wait for a pass: its seeds run side by side.
    steps = SelfTest(launcher.loaded, lab_backend, launcher).run(
        seeds, SEEDS if _paced(launcher.loaded) else 1
    )
    assert not [s for s in steps if not s.ok], "\n".join(_line(s) for s in steps)
    names = {s.step for s in steps}
    for objective in launcher.loaded.spec.objectives:
        if objective.check is not None:
            assert any(n.startswith(f"{objective.id} (") for n in names), objective.id
    attacked = launcher.loaded.spec.solution.attack is not None
    assert (
        "reference attack (before the fix)" if attacked else "operations (before the fix)"
    ) in names
    assert [s.step for s in steps].count("down") == len(seeds)
    assert len(launcher.ids) == len(seeds)
    client = lab_backend.client
    for ident in launcher.ids:
        selector: dict[str, str | list[str] | bool] = {"label": f"{INSTANCE_LABEL}={ident}"}
        assert client.containers.list(all=True, filters=selector) == []
        assert client.networks.list(filters=selector) == []
        assert client.volumes.list(filters=selector) == []


def _line(step: Step) -> str:
    mark = "ok" if step.ok else "SURPRISE"
    return f"{mark:8} {step.step}: expected {step.expected}, observed {step.observed}"
