"""Passive observation of a live instance: which objectives hold, judged by reading alone.

The portal's class board runs this every minute for every student, so it must never act
on a student's instance: only checks that declare themselves passive run
(:attr:`graders.checks.base.Check.passive`), with their observation arguments (no long
waits), against a :class:`~graders.live.probe.PassiveProbe` that refuses anything but
reading. An objective whose ``requires`` cannot be observed this way is left out: holding
it depends on availability only the self-check and grading judge (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graders.checks.base import CheckResult, Status
from graders.live.probe import PassiveProbe
from graders.live.run import check_of
from graders.live.target import GradeTarget
from labctl.backends.base import Backend
from labctl.errors import LabctlError
from labctl.scenario.render import render
from labctl.spec import LoadedLab
from labctl.spec.models import Objective


def observable(objective: Objective) -> bool:
    """Whether the objective's check can be judged passively (with its own arguments)."""
    if objective.check is None:
        return False
    check = check_of(objective.check)
    if not check.passive:
        return False
    try:
        args = check.Args.model_validate(dict(objective.check.args))
    except ValueError:  # arguments with templates: rendered per instance, judged then
        return check.passive
    return check.observation(args) is not None


def observable_objectives(loaded: LoadedLab) -> list[Objective]:
    """The visible objectives a passive observation can judge, gates included."""
    by_id = {o.id: o for o in loaded.spec.objectives}
    chosen = []
    for objective in loaded.spec.objectives:
        if objective.hidden or not observable(objective):
            continue
        if all(r in by_id and observable(by_id[r]) for r in objective.requires):
            chosen.append(objective)
    return chosen


def _observe_one(
    objective: Objective, probe: PassiveProbe, variables: Mapping[str, Any]
) -> CheckResult:
    assert objective.check is not None
    check = check_of(objective.check)
    try:
        args = check.Args.model_validate(render(dict(objective.check.args), variables))
    except (LabctlError, ValueError) as exc:
        return CheckResult(Status.ERROR, f"check arguments: {exc}")
    observed = check.observation(args)
    if observed is None:
        return CheckResult(Status.ERROR, "these arguments make the check act: not observed")
    return check.run(observed, probe)


def observe_instance(
    backend: Backend, loaded: LoadedLab, target: GradeTarget
) -> dict[str, CheckResult]:
    """Objective id → its passive result, for :func:`observable_objectives` and the
    (possibly hidden) objectives they require; :func:`holding` says which hold."""
    chosen = observable_objectives(loaded)
    needed = {r for o in chosen for r in o.requires}
    by_id = {o.id: o for o in loaded.spec.objectives}
    results: dict[str, CheckResult] = {}
    with PassiveProbe(backend, target.instance_id, target.mission_control) as probe:
        for objective_id in [*sorted(needed - {o.id for o in chosen}), *(o.id for o in chosen)]:
            objective = by_id[objective_id]
            try:
                results[objective_id] = _observe_one(objective, probe, target.variables)
            except Exception as exc:  # one check's bug stops no other observation
                results[objective_id] = CheckResult(Status.ERROR, f"{type(exc).__name__}: {exc}")
    return results


def holding(loaded: LoadedLab, results: Mapping[str, CheckResult]) -> list[str]:
    """The visible observed objectives that hold: passed, and so did everything they
    require (a hidden objective is never named, as in the self-check)."""
    by_id = {o.id: o for o in loaded.spec.objectives}
    held = []
    for objective_id, result in results.items():
        objective = by_id.get(objective_id)
        if objective is None or objective.hidden or result.status is not Status.PASS:
            continue
        if all(r in results and results[r].status is Status.PASS for r in objective.requires):
            held.append(objective_id)
    return held


__all__ = ["holding", "observable", "observable_objectives", "observe_instance"]
