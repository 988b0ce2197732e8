"""Run a lab objective's check against a probe, within the objective's timeout."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final

from graders.checks import BUILTIN_CHECKS
from graders.checks.base import Check, CheckResult, Probe, Status
from labctl.errors import CheckError, LabctlError
from labctl.scenario.render import render
from labctl.spec.models import CheckRef, Objective

CHECKS: Final[dict[str, type[Check]]] = {check.name: check for check in BUILTIN_CHECKS}


def check_of(ref: CheckRef) -> Check:
    check = CHECKS.get(ref.name)
    if check is None:
        raise CheckError(ref.name, f"no such check (known: {', '.join(sorted(CHECKS))})")
    return check()


def run_check(
    ref: CheckRef, probe: Probe, variables: Mapping[str, Any] | None = None
) -> CheckResult:
    """The check's result; an error result when it raises or outlives ``ref.timeout``.

    String arguments are rendered first against ``variables`` (params, student,
    instance), so ``secret: "{{ params.hk_secret }}"`` reaches the check as the
    instance's own value."""
    check = check_of(ref)
    outcome: list[CheckResult] = []
    try:
        args = render(dict(ref.args), variables or {})
    except LabctlError as exc:
        return CheckResult(Status.ERROR, f"check arguments: {exc}")

    def work() -> None:
        try:
            outcome.append(check.run(check.Args.model_validate(args), probe))
        except Exception as exc:
            outcome.append(CheckResult(Status.ERROR, f"{type(exc).__name__}: {exc}"))

    worker = threading.Thread(target=work, name=f"check-{ref.name}", daemon=True)
    worker.start()
    worker.join(ref.timeout)
    if not outcome:
        return CheckResult(Status.ERROR, f"no verdict within {ref.timeout} s")
    return outcome[0]


def run_objective(
    objective: Objective, probe: Probe, variables: Mapping[str, Any] | None = None
) -> CheckResult:
    if objective.check is None:
        raise CheckError(objective.id, "this objective has no check (graded from the report)")
    return run_check(objective.check, probe, variables)
