"""Run a lab objective's check against a probe, within the objective's timeout."""

from __future__ import annotations

import threading
from typing import Final

from graders.checks import BUILTIN_CHECKS
from graders.checks.base import Check, CheckResult, Probe, Status
from labctl.errors import CheckError
from labctl.spec.models import CheckRef, Objective

CHECKS: Final[dict[str, type[Check]]] = {check.name: check for check in BUILTIN_CHECKS}


def check_of(ref: CheckRef) -> Check:
    check = CHECKS.get(ref.name)
    if check is None:
        raise CheckError(ref.name, f"no such check (known: {', '.join(sorted(CHECKS))})")
    return check()


def run_check(ref: CheckRef, probe: Probe) -> CheckResult:
    """The check's result; an error result when it raises or outlives ``ref.timeout``."""
    check = check_of(ref)
    outcome: list[CheckResult] = []

    def work() -> None:
        try:
            outcome.append(check.run(check.Args.model_validate(ref.args), probe))
        except Exception as exc:
            outcome.append(CheckResult(Status.ERROR, f"{type(exc).__name__}: {exc}"))

    worker = threading.Thread(target=work, name=f"check-{ref.name}", daemon=True)
    worker.start()
    worker.join(ref.timeout)
    if not outcome:
        return CheckResult(Status.ERROR, f"no verdict within {ref.timeout} s")
    return outcome[0]


def run_objective(objective: Objective, probe: Probe) -> CheckResult:
    if objective.check is None:
        raise CheckError(objective.id, "this objective has no check (graded from the report)")
    return run_check(objective.check, probe)
