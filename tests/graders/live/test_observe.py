"""Passive observation (the portal board's view): only checks that read run, with their
observation arguments, against a probe that refuses to act; gates that cannot be observed
keep an objective out; hidden objectives are never named."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from graders.checks.base import CheckResult, Status
from graders.live.observe import holding, observable, observable_objectives, observe_instance
from graders.live.probe import PassiveProbe
from graders.live.run import check_of
from graders.live.target import GradeTarget
from labctl.backends.base import Backend, ExecResult
from labctl.errors import CheckError
from labctl.scenario.render import render
from labctl.spec import load_lab
from labctl.spec.params import derive

REPO = Path(__file__).resolve().parents[3]
LABS = sorted(p.name for p in (REPO / "labs").iterdir() if (p / "lab.yaml").is_file())


class ReadOnlyProbe:
    """Ground truth and files only: any other call fails the test (not a LabctlError, so
    no check can swallow it as 'could not observe')."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def truth(self) -> dict[str, Any]:
        self.reads.append("truth")
        return {"executed_commands": [], "scid": 42, "farm": {"vr": 0, "vcid": 0}}

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        assert list(argv[:1]) == ["cat"], f"acted on {host}: {argv}"
        assert len(argv) == 2, f"acted on {host}: {argv}"
        self.reads.append(f"cat {argv[1]}")
        return 0, ""

    def host_stat(self, host: str, path: str) -> None:
        self.reads.append(f"stat {path}")

    def host_read(self, host: str, path: str) -> None:
        self.reads.append(f"read {path}")

    def host_networks(self, host: str) -> dict[str, str]:
        return {}

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a passive observation called probe.{name}")


@pytest.mark.parametrize("lab", LABS)
def test_every_observed_objective_of_every_lab_only_reads(lab: str) -> None:
    loaded = load_lab(REPO / "labs" / lab)
    values = derive(loaded.spec, "ada", "7", 0)
    variables = {"params": values.values, "student": "ada", "instance": f"{lab}-ada"}
    for objective in [o for o in loaded.spec.objectives if observable(o)]:
        assert objective.check is not None
        check = check_of(objective.check)
        args = check.Args.model_validate(render(dict(objective.check.args), variables))
        observed = check.observation(args)
        assert observed is not None
        probe = ReadOnlyProbe()
        check.run(observed, cast(Any, probe))
        assert probe.reads, f"{objective.id} judged without reading anything"


def test_the_board_observes_attack_objectives_and_never_what_needs_an_action() -> None:
    chosen = {
        lab: [o.id for o in observable_objectives(load_lab(REPO / "labs" / lab))]
        for lab in ("tc-replay", "mc-access", "pass-defence")
    }
    assert chosen["tc-replay"] == ["replay-executed"]
    assert chosen["mc-access"] == ["hazardous-executed"]
    # adversary-contained reads only, but it requires availability (an operator's command)
    assert chosen["pass-defence"] == []
    replay = next(o for o in load_lab(REPO / "labs" / "tc-replay").spec.objectives
                  if o.id == "replay-rejected")  # fmt: skip
    assert not observable(replay)  # it replays a frame: an action


def test_holding_needs_every_gate_passed_and_never_names_a_hidden_objective() -> None:
    loaded = load_lab(REPO / "labs" / "pass-defence")
    ok, no = CheckResult(Status.PASS, "ok"), CheckResult(Status.ERROR, "unseen")
    results = {"adversary-contained": ok, "mission-flies": ok, "telemetry-flows": no}
    assert holding(loaded, results) == ["mission-flies"]
    results["telemetry-flows"] = ok
    assert set(holding(loaded, results)) == {"adversary-contained", "mission-flies",
                                             "telemetry-flows"}  # fmt: skip
    hidden = next(o.id for o in loaded.spec.objectives if o.hidden)
    assert hidden not in holding(loaded, {**results, hidden: ok})


class TruthBackend:
    """An engine where the spacecraft's truth says frame (42, 7) ran twice."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def exec(self, instance_id: str, host: str, argv: list[str], user: str = "root") -> ExecResult:
        self.calls.append((host, list(argv)))
        entry = {"service": 8, "subtype": 1, "spi": 42, "sequence_number": 7, "time": 1.0}
        return ExecResult(0, json.dumps({"executed_commands": [entry, entry]}))

    def vantages(self) -> object:
        return object()


def test_an_instance_is_observed_through_the_spacecrafts_truth_alone() -> None:
    loaded = load_lab(REPO / "labs" / "tc-replay")
    backend = TruthBackend()
    target = GradeTarget("tc-replay-ada", "ada", 7, "http://127.0.0.1:9", {})
    results = observe_instance(cast(Backend, backend), loaded, target)
    assert list(results) == ["replay-executed"]
    assert results["replay-executed"].status is Status.PASS
    assert holding(loaded, results) == ["replay-executed"]
    assert {host for host, _ in backend.calls} == {"spacecraft"}
    assert all(argv[0] == "cat" for _, argv in backend.calls)


def test_the_passive_probe_refuses_every_action() -> None:
    backend = TruthBackend()
    probe = PassiveProbe(cast(Backend, backend), "tc-replay-ada", "http://127.0.0.1:9")
    refused: list[Any] = [
        lambda: probe.vantage_exec(["nc", "x"]),
        lambda: probe.vantage_exec_on("rf", ["nc", "x"]),
        lambda: probe.api("GET", "/api/telemetry/latest"),
        lambda: probe.restart("spacecraft"),
        lambda: probe.host_exec("ground-station", ["sh", "-c", "reboot"]),
        lambda: probe.host_exec("ground-station", ["cat", "/a", "/b"]),
        lambda: probe.host_exec("ground-station", ["cat", "relative"]),
    ]
    for call in refused:
        with pytest.raises(CheckError, match="passive observation"):
            call()
    assert backend.calls == []
    assert probe.host_exec("adversary", ["cat", "/var/log/x"])[0] == 0


def test_observation_arguments_never_wait_long_nor_operate() -> None:
    loaded = load_lab(REPO / "labs" / "mc-access")
    objective = next(o for o in loaded.spec.objectives if o.id == "hazardous-executed")
    assert objective.check is not None
    check = check_of(objective.check)
    args: Mapping[str, Any] = check.observation(
        check.Args.model_validate(objective.check.args)
    ).model_dump()  # type: ignore[union-attr]
    assert args["within"] == 1
    pass_defence = load_lab(REPO / "labs" / "pass-defence")
    operated = next(
        o for o in pass_defence.spec.objectives if o.check and o.check.args.get("operate")
    )
    assert not observable(operated)
