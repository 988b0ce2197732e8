"""Run a lab objective's check against a probe, within the objective's timeout."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from graders.checks.base import Check, CheckResult, Probe, Status
from labctl.errors import CheckError, LabctlError
from labctl.scenario.render import render
from labctl.spec.models import CheckRef, Objective
from labctl.spec.vocabulary import Vocabulary, default_vocabulary


def check_of(ref: CheckRef, vocabulary: Vocabulary | None = None) -> Check[Any]:
    """The check ``ref`` names, from the same registry the spec loader validated it
    against (built-in and plugin checks alike)."""
    checks = (vocabulary or default_vocabulary()).checks
    entry = checks.get(ref.name)
    if entry is None:
        raise CheckError(ref.name, checks.unknown_message(ref.name))
    target = entry.target
    if not (isinstance(target, type) and issubclass(target, Check)):
        raise CheckError(ref.name, f"{entry.source} publishes {target!r}, which is not a Check")
    return target()


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
            outcome.append(check.run_raw(args, probe))
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
