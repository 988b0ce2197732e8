"""``labctl selftest``: a lab's reference solution against fresh instances.

Per seed: up; availability checks pass; the reference attack runs while an operator
commands the spacecraft, exits 0, and the attack objectives pass; remediation checks fail;
the reference remediation is applied, step by step on the hosts it names, and those hosts
restart; remediation checks pass, the attack no longer achieves its objectives (its exit
status is shown, not judged: the objectives are the verdict), availability checks still
pass; down. Check arguments are rendered with the instance's own parameters. Every
observation is a :class:`Step`; one that differs from what was expected is a surprise.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from graders.checks.base import Probe
from graders.checks.observe import command_name, login, send_command, wait_for
from labctl.backends.base import Backend, ExecResult
from labctl.errors import CheckError, LabctlError
from labctl.grading.probe import LiveProbe
from labctl.grading.run import run_objective
from labctl.grading.vantage import vantage
from labctl.spec import LoadedLab
from labctl.spec.models import Objective, ObjectiveKind

#: The attack must be listening before the operator's command goes out.
ATTACK_LEAD_S: Final = 3.0
READY_S: Final = 60.0
INTERPRETERS: Final = {".py": ("python3", "-c"), ".sh": ("sh", "-c")}


@dataclass(frozen=True)
class Target:
    """A running instance as grading reaches it."""

    instance_id: str
    mission_control: str
    #: Template variables of the instance (params, student, instance) for check arguments.
    variables: Mapping[str, Any] = field(default_factory=dict)


class Launcher(Protocol):
    def up(self, seed: int) -> Target: ...

    def down(self, instance_id: str) -> None: ...


@dataclass(frozen=True)
class Step:
    seed: int
    step: str
    expected: str
    observed: str
    ok: bool


def _verdict(passed: bool) -> str:
    return "pass" if passed else "fail"


@dataclass
class SelfTest:
    loaded: LoadedLab
    backend: Backend
    launcher: Launcher
    report: Callable[[Step], None] = lambda step: None
    steps: list[Step] = field(default_factory=list)

    def run(self, seeds: Iterable[int]) -> list[Step]:
        for seed in seeds:
            self._one(seed)
        return self.steps

    def _record(self, seed: int, step: str, expected: str, observed: str, ok: bool) -> None:
        self.steps.append(Step(seed, step, expected, observed, ok))
        self.report(self.steps[-1])

    def _one(self, seed: int) -> None:
        started = time.monotonic()
        try:
            target = self.launcher.up(seed)
        except LabctlError as exc:
            self._record(seed, "up", "instance running", f"failed: {exc}", False)
            return
        self._record(seed, "up", "instance running", target.instance_id, True)
        try:
            with vantage(self.backend, target.instance_id, uuid.uuid4().hex[:12]) as host:
                probe = LiveProbe(self.backend, target.instance_id, target.mission_control, host)
                Phases(self, seed, target, probe).run()
        except LabctlError as exc:
            self._record(seed, "selftest", "runs to the end", f"aborted: {exc}", False)
        finally:
            self._down(seed, target, started)

    def _down(self, seed: int, target: Target, started: float) -> None:
        try:
            self.launcher.down(target.instance_id)
        except LabctlError as exc:
            self._record(seed, "down", "nothing left", f"failed: {exc}", False)
            return
        took = f"removed ({time.monotonic() - started:.0f} s for this seed)"
        self._record(seed, "down", "nothing left", took, True)


@dataclass
class Phases:
    """One seed's sequence of expectations on a running instance."""

    test: SelfTest
    seed: int
    target: Target
    probe: Probe

    def run(self) -> None:
        self.ready()
        self.objectives(ObjectiveKind.AVAILABILITY, expect=True, when="at start")
        self.attack(expect=True, when="before the fix")
        self.objectives(ObjectiveKind.REMEDIATION, expect=False, when="before the fix")
        self.remediate()
        self.objectives(ObjectiveKind.REMEDIATION, expect=True, when="after the fix")
        self.attack(expect=False, when="after the fix")
        self.objectives(ObjectiveKind.AVAILABILITY, expect=True, when="after the fix")

    def ready(self) -> None:
        """Mission control linked to the ground station (it connects after ``up``)."""

        def linked() -> bool:
            try:
                status, body = self.probe.api("GET", "/api/health")
            except LabctlError:
                return False
            return status == 200 and isinstance(body, dict) and bool(body.get("ground_link"))

        ok = bool(wait_for(linked, READY_S))
        observed = "linked" if ok else f"not linked within {READY_S:.0f} s"
        self.record("mission control ready", "linked", observed, ok)

    def record(self, step: str, expected: str, observed: str, ok: bool) -> None:
        self.test._record(self.seed, step, expected, observed, ok)

    def kind(self, kind: ObjectiveKind) -> list[Objective]:
        return [o for o in self.test.loaded.spec.objectives if o.kind is kind and o.check]

    def objectives(self, kind: ObjectiveKind, *, expect: bool, when: str) -> None:
        for objective in self.kind(kind):
            self.judge(objective, expect=expect, when=when)

    def judge(self, objective: Objective, *, expect: bool, when: str) -> None:
        result = run_objective(objective, self.probe, self.target.variables)
        observed = f"{result.status.value}: {result.evidence}"
        ok = result.passed == expect
        self.record(f"{objective.id} ({when})", _verdict(expect), observed, ok)

    def script(self, relative: str | None, which: str) -> tuple[str, ...]:
        if relative is None:
            raise CheckError("selftest", f"the lab names no solution {which} (solution.{which})")
        path = Path(self.test.loaded.root) / relative
        interpreter = INTERPRETERS.get(path.suffix)
        if interpreter is None:
            raise CheckError("selftest", f"{relative}: no interpreter for {path.suffix!r}")
        return (*interpreter, path.read_text())

    def attack(self, *, expect: bool, when: str) -> None:
        """The reference attack while an operator works; without an attack script (a
        defence lab, where the scripted adversary attacks) only the operator works."""
        relative = self.test.loaded.spec.solution.attack
        if relative is None:
            self.record(f"operations ({when})", "operator commands", self.operate(), True)
        else:
            self.reference_attack(relative, expect=expect, when=when)
        for objective in self.kind(ObjectiveKind.ATTACK):
            self.judge(objective, expect=expect, when=when)

    def reference_attack(self, relative: str, *, expect: bool, when: str) -> None:
        argv = self.script(relative, "attack")
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(
                self.test.backend.exec, self.target.instance_id, "attacker", argv, "student"
            )
            time.sleep(ATTACK_LEAD_S)
            operator = self.operate()
            result: ExecResult = running.result()
        last = (result.output.strip().splitlines() or [""])[-1]
        # Before the fix the attack must work; after it, the objectives are the verdict.
        ok = result.exit_code == 0 or not expect
        self.record(
            f"reference attack ({when})",
            "exit 0" if expect else "runs",
            f"exit {result.exit_code}: {last} [{operator}]",
            ok,
        )

    def operate(self) -> str:
        """Play the operator: ``solution.operate``, else the attack objective's command."""
        attacks = self.kind(ObjectiveKind.ATTACK)
        wanted = self.test.loaded.spec.solution.operate
        if wanted is None and attacks and attacks[0].check:
            wanted = attacks[0].check.args.get("command")
        name = command_name(str(wanted or "17.1"))
        try:
            send_command(self.probe, login(self.probe, "operator"), name)
        except LabctlError as exc:
            return f"operator could not send {name}: {exc}"
        return f"operator sent {name}"

    def remediate(self) -> None:
        steps = self.test.loaded.spec.solution.remediation_steps
        if not steps:
            raise CheckError("selftest", "the lab names no solution remediation")
        for step in steps:
            argv = self.script(step.script, "remediation")
            # Hosts hold no CAP_DAC_OVERRIDE: labctl, the owner of their configuration.
            result = self.test.backend.exec(self.target.instance_id, step.host, argv, step.user)
            last = (result.output.strip().splitlines() or [""])[-1]
            self.record(
                f"reference remediation {step.script} on {step.host}",
                "exit 0",
                f"exit {result.exit_code}: {last}",
                result.exit_code == 0,
            )
        for host in dict.fromkeys(step.host.value for step in steps if step.restart):
            self.probe.restart(host)
            self.record(f"restart {host}", "healthy", "healthy", True)
