"""``labctl selftest``: a lab's reference solution against fresh instances.

Per seed: up; availability checks pass; the reference attack runs while an operator
commands the spacecraft, exits 0, and the attack objectives pass; remediation checks fail;
the reference remediation is applied, step by step on the hosts it names, and those hosts
restart; remediation checks pass, the attack no longer achieves its objectives (its exit
status is shown, not judged: the objectives are the verdict), availability checks still
pass; down. Check arguments are rendered with the instance's own parameters. Every
observation is a :class:`Step`; one that differs from what was expected is a surprise,
and a check that could not observe (an error) is one wherever it comes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from graders.checks.base import Status
from graders.live.probe import LiveProbe, open_probe
from graders.live.run import run_objective
from graders.live.solution import READY_S, Solver
from graders.live.target import GradeTarget, target_of
from graders.report.evidence import MIN_OWN_LENGTH
from graders.report.grade import grade_report
from graders.report.secrets import secrets_of
from labctl.backends.base import Backend
from labctl.errors import LabctlError
from labctl.instances import Instances
from labctl.spec import LoadedLab
from labctl.spec.models import Objective, ObjectiveKind
from labctl.spec.params import derive
from labctl.spec.templates import render_text
from labctl.spec.templates import variables as template_variables


class Launcher(Protocol):
    def up(self, seed: int) -> GradeTarget: ...

    def down(self, instance_id: str) -> None: ...

    def open_phase(self, instance_id: str, phase: str) -> bool: ...


class InstancesLauncher:
    """Fresh instances of one lab for the selftest, each under its own student name."""

    def __init__(self, instances: Instances, loaded: LoadedLab) -> None:
        self.instances = instances
        self.loaded = loaded

    def up(self, seed: int) -> GradeTarget:
        student = f"selftest-{uuid.uuid4().hex[:8]}"
        return target_of(self.loaded, self.instances.up(self.loaded, student, seed))

    def down(self, instance_id: str) -> None:
        self.instances.down(instance_id)

    def open_phase(self, instance_id: str, phase: str) -> bool:
        return self.instances.open_phase(self.loaded, instance_id, phase)


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
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def run(self, seeds: Iterable[int], parallel: int = 1) -> list[Step]:
        """Every seed on a fresh instance of its own; ``parallel`` seeds at a time (a lab
        whose checks mostly wait, for a pass for instance, runs its seeds side by side)."""
        if parallel <= 1:
            for seed in seeds:
                self._one(seed)
            return self.steps
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="selftest") as pool:
            list(pool.map(self._one, seeds))
        return self.steps

    def _record(self, seed: int, step: str, expected: str, observed: str, ok: bool) -> None:
        with self._lock:
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
            with open_probe(self.backend, target) as probe:
                Phases(self, seed, target, probe).run()
        except LabctlError as exc:
            self._record(seed, "selftest", "runs to the end", f"aborted: {exc}", False)
        finally:
            self._down(seed, target, started)

    def _down(self, seed: int, target: GradeTarget, started: float) -> None:
        try:
            self.launcher.down(target.instance_id)
        except LabctlError as exc:
            self._record(seed, "down", "nothing left", f"failed: {exc}", False)
            return
        took = f"removed ({time.monotonic() - started:.0f} s for this seed)"
        self._record(seed, "down", "nothing left", took, True)


#: The lab's sample report (solution/), a template of the instance's parameters.
SAMPLE_REPORT = "sample-report.md"


@dataclass
class Phases:
    """One seed's sequence of expectations on a running instance."""

    test: SelfTest
    seed: int
    target: GradeTarget
    probe: LiveProbe
    #: attack objectives seen holding (a phase's ``after`` rule reads them)
    held: set[str] = field(default_factory=set)

    @property
    def solver(self) -> Solver:
        return Solver(self.test.backend, self.test.loaded, self.target.instance_id, self.probe)

    def run(self) -> None:
        self.ready()
        self.objectives(ObjectiveKind.AVAILABILITY, expect=True, when="at start")
        self.attack(expect=True, when="before the fix")
        self.sample_report()
        self.objectives(ObjectiveKind.REMEDIATION, expect=False, when="before the fix")
        self.open_phases()
        self.remediate()
        # Ground truth keeps its history across restarts; from here on, only what
        # happens after the fix counts (the attack's earlier success must not).
        self.probe.since = time.time()
        self.objectives(ObjectiveKind.REMEDIATION, expect=True, when="after the fix")
        self.attack(expect=False, when="after the fix")
        self.objectives(ObjectiveKind.AVAILABILITY, expect=True, when="after the fix")

    def ready(self) -> None:
        ok = self.solver.ready(READY_S)
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
        """A pass where one is expected, else a fail: an error (the check could not
        observe) is never what a reference solution expects, also where a fail is."""
        result = run_objective(objective, self.probe, self.target.variables)
        observed = f"{result.status.value}: {result.evidence}"
        ok = result.status is (Status.PASS if expect else Status.FAIL)
        if result.status is Status.PASS:
            self.held.add(objective.id)
        self.record(f"{objective.id} ({when})", _verdict(expect), observed, ok)

    def open_phases(self) -> None:
        """Each phase opens by its rule (every ``after`` objective held during the
        attack); one without a rule is opened as the instructor would."""
        for phase in self.test.loaded.spec.phases:
            missing = [o for o in phase.after if o not in self.held]
            if missing:
                held = f"{', '.join(missing)} did not hold"
                self.record(f"phase {phase.id} opens", "opened", held, False)
                continue
            why = f"after {', '.join(phase.after)}" if phase.after else "by the instructor"
            self.test.launcher.open_phase(self.target.instance_id, phase.id)
            self.record(f"phase {phase.id} opens", "opened", f"opened ({why})", True)

    def attack(self, *, expect: bool, when: str) -> None:
        """The reference attack while an operator works; without an attack script (a
        defence lab, where the scripted adversary attacks) only the operator works."""
        if self.test.loaded.spec.solution.attack is None:
            self.record(f"operations ({when})", "operator commands", self.solver.operate(), True)
        else:
            run = self.solver.attack()
            # Before the fix the attack must work; after it, the objectives are the verdict.
            self.record(
                f"reference attack ({when})",
                "exit 0" if expect else "runs",
                f"exit {run.exit_code}: {run.last_line} [{run.operator}]",
                run.exit_code == 0 or not expect,
            )
            if expect:
                self.evidence_captured(run.output)
        for objective in self.kind(ObjectiveKind.ATTACK):
            self.judge(objective, expect=expect, when=when)

    def evidence_captured(self, output: str) -> None:
        """The evidence the sample report quotes is what the attack captured: each of the
        instance's distinctive secrets the sample report names must be in the reference
        attack's output (a secret nobody can reach earns no evidence points)."""
        path = self.test.loaded.root / "solution" / SAMPLE_REPORT
        if not path.is_file():
            return
        lab, target = self.test.loaded.spec, self.target
        own = secrets_of(lab, target.student, target.seed, target.slot)
        quoted = [name for name in own if f"params.{name}" in path.read_text(encoding="utf-8")]
        distinctive = [n for n in quoted if len(own[n]) >= MIN_OWN_LENGTH]
        if not distinctive:
            return
        missing = [name for name in distinctive if own[name] not in output]
        observed = (
            "captured: " + ", ".join(distinctive)
            if not missing
            else ("not in the attack's output: " + ", ".join(missing))
        )
        self.record("evidence the sample report quotes", "captured", observed, not missing)

    def sample_report(self) -> None:
        """``solution/sample-report.md``, if the lab has one, rendered for this instance
        (its ``{{ params.… }}`` are the evidence the reference attack captured): it must
        earn every report point, evidence included; the same report rendered for another
        student and handed in here must be flagged as copied."""
        path = self.test.loaded.root / "solution" / SAMPLE_REPORT
        if not path.is_file():
            return
        lab, target = self.test.loaded.spec, self.target
        template = path.read_text(encoding="utf-8")
        own = secrets_of(lab, target.student, target.seed, target.slot)
        graded = grade_report(lab, render_text(template, target.variables, SAMPLE_REPORT), own)
        full = graded.points >= graded.points_possible - 1e-9 and not graded.cheating
        observed = f"{graded.points:g} / {graded.points_possible} report points"
        self.record("sample report (this student)", "full points", observed, full)
        if not own:
            return
        peer = f"{target.student}-peer"
        values = derive(lab, peer, str(target.seed)).values
        copied = render_text(
            template, template_variables(values, peer, target.instance_id, lab.id), SAMPLE_REPORT
        )
        peers = {peer: secrets_of(lab, peer, target.seed)}
        flagged = grade_report(lab, copied, own, peers).cheating
        observed = (
            f"flagged: {flagged[0].secret} of {flagged[0].other_student}"
            if flagged
            else "not flagged"
        )
        self.record(
            "sample report (copied from another student)", "flagged", observed, bool(flagged)
        )

    def remediate(self) -> None:
        solver = self.solver
        for step in solver.remediation_steps():
            run = solver.remediate_step(step)
            self.record(
                f"reference remediation {run.script} on {run.host}",
                "exit 0",
                f"exit {run.exit_code}: {run.last_line}",
                run.exit_code == 0,
            )
        for host in solver.restarts():
            linked = solver.restart(host)
            observed = "healthy, mission control linked" if linked else "mission control not linked"
            self.record(f"restart {host}", "healthy, mission control linked", observed, linked)
