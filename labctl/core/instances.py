"""One student's instance: up, down, status, shell, logs, restart, briefing; and grading
it: the self-check, the score report, the reference solution, the selftest of a lab (the
work is :mod:`graders.live`'s).

Each method takes ids and plain values and returns the typed records of the layers below
(:class:`~labctl.instances.InstanceRecord`, :class:`~labctl.instances.InstanceView`,
:class:`~labctl.backends.base.DownReport`); long work reports :class:`Event` s.
"""

from __future__ import annotations

import getpass
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from graders.checks.base import CheckResult
from graders.live.grade import check_instance, grade_instance
from graders.live.observe import holding, observe_instance
from graders.live.selftest import InstancesLauncher, SelfTest, Step
from graders.live.solution import ScriptRun, solve
from graders.live.target import GradeTarget, target_of
from graders.score import ObjectiveScore, ScoreReport
from graders.score.files import write_score_files
from labctl.backends.base import Backend, DownReport
from labctl.core.events import Event, Kind, OnEvent, ignore, note, progress_of
from labctl.core.labs import LabsApi
from labctl.errors import LabctlError, NotFoundError
from labctl.instances import InstanceRecord, Instances, InstanceView, connection_lines
from labctl.instances.adversary import adversary_log
from labctl.instances.ids import instance_id
from labctl.instances.leases import Lease
from labctl.instances.plan import host_roles
from labctl.instances.restart import HostRestart, restart_host
from labctl.scenario import render_briefing
from labctl.spec import LoadedLab
from labctl.spec.models import Objective

ObjectiveProgress = Callable[[Objective, CheckResult], None]
#: Where ``grade`` writes when no folder is given: ./scores/<instance>.
SCORES_DIR: Final = Path("scores")
SEED_LIMIT: Final = 2**31


@dataclass(frozen=True)
class CheckOutcome:
    """The student's self-check: the visible objectives, each holding or not, with hints."""

    record: InstanceRecord
    objectives: tuple[ObjectiveScore, ...]
    #: phases this check opened (their ``after`` objectives all held)
    opened: tuple[str, ...] = ()

    @property
    def holding(self) -> int:
        return sum(o.holds and not o.gated_by for o in self.objectives)


@dataclass(frozen=True)
class PhaseView:
    """One phase of the lab on one instance."""

    id: str
    title: str
    after: tuple[str, ...]
    open: bool


@dataclass(frozen=True)
class GradeOutcome:
    """An instance graded: its score record and the files it was written to."""

    record: InstanceRecord
    lab: str
    score: ScoreReport
    files: list[Path]


@dataclass(frozen=True)
class SelftestOutcome:
    seeds: list[int]
    steps: list[Step]
    seconds: float

    @property
    def surprises(self) -> int:
        return sum(not s.ok for s in self.steps)


def _objective_events(on_event: OnEvent) -> ObjectiveProgress:
    def progress(objective: Objective, result: CheckResult) -> None:
        on_event(Event(objective.id, result.status.value, Kind.RESULT, result))

    return progress


#: The host ``labctl shell`` opens by default, and the student's account on it.
ATTACKER = "attacker"
STUDENT_USER = "student"


@dataclass(frozen=True)
class Connection:
    """How the student reaches a running instance: one line per way in."""

    record: InstanceRecord
    lines: Mapping[str, str]

    @property
    def password(self) -> str | None:
        return self.record.access.get("password") or None


def default_student() -> str:
    """The user's login name: whose instance ``up`` starts when no student is named."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "student"


class InstancesApi:
    def __init__(self, backend: Backend, instances: Instances, labs: LabsApi) -> None:
        self.backend = backend
        self.instances = instances
        self.labs = labs

    def up(
        self,
        lab_id: str,
        student: str | None = None,
        seed: int | None = None,
        on_event: OnEvent = ignore,
        *,
        keep_on_failure: bool = False,
        lifetime: int = 0,
        idle: int = 0,
    ) -> Connection:
        """Bring up ``student``'s instance of a lab: images first (only the missing ones),
        then every host until healthy and the lab's injects applied. ``keep_on_failure``:
        an instance that fails to come up is kept for inspection
        (:class:`~labctl.instances.InstanceKept` says how to look at and remove it).
        ``lifetime`` and ``idle`` (seconds, 0: none) make its lease."""
        loaded = self.labs.get(lab_id)
        who = student if student is not None else default_student()
        instance_id(loaded.id, who)  # a name that makes no id fails before images are built
        self.instances.store.check_writable()  # before images are built (up checks too)
        self.prepare_images(set(host_roles(loaded).values()), on_event)
        record = self.instances.up(
            loaded,
            who,
            seed,
            progress_of(on_event),
            keep_on_failure=keep_on_failure,
            lifetime=lifetime,
            idle=idle,
        )
        return self.connection(record)

    # -- leases (labctl.instances.leases) ------------------------------------------------

    def lease(self, instance: str) -> Lease | None:
        return self.instances.lease(instance)

    def renew(self, instance: str, seconds: int | None = None) -> Lease:
        """Its end pushed to ``seconds`` (its own lifetime when None) from now."""
        self.instances.store.check_writable()
        return self.instances.renew(instance, seconds)

    def touch(self, instance: str) -> None:
        """Its student is active (the portal says so, at most once a minute)."""
        self.instances.touch(instance)

    def resume(self, instance: str, on_event: OnEvent = ignore) -> Connection:
        """Start a stopped instance again, or make an expired one anew (home kept)."""
        self.instances.store.check_writable()
        record = self.instances.get(instance)
        loaded = self.labs.get(record.lab)
        self.prepare_images(set(host_roles(loaded).values()), on_event)
        return self.connection(self.instances.resume(loaded, instance, progress_of(on_event)))

    def stop_idle(self, instance: str, on_event: OnEvent = ignore) -> int:
        """Stop a running instance now, as its idle period would (home kept)."""
        self.instances.store.check_writable()
        return self.instances.stop_idle(instance, progress_of(on_event))

    def prepare_images(self, roles: set[str], on_event: OnEvent = ignore) -> list[str]:
        """Build the images among ``roles`` the engine lacks; the roles built."""
        return self.backend.prepare_images(sorted(roles), progress_of(on_event))

    def connection(self, record: InstanceRecord) -> Connection:
        return Connection(record, connection_lines(record))

    def down(self, instance: str, on_event: OnEvent = ignore) -> DownReport:
        self.instances.store.check_writable()
        return self.instances.down(instance, progress_of(on_event))

    def down_all(self, on_event: OnEvent = ignore) -> dict[str, DownReport]:
        """Every instance recorded here (never others' on the same engine)."""
        self.instances.store.check_writable()
        return self.instances.down_all(progress_of(on_event))

    def status(self, instance: str | None = None) -> list[InstanceView]:
        return self.instances.status(instance)

    def shell_argv(self, instance: str, host: str = ATTACKER) -> list[str]:
        """The command that opens an interactive shell on a host (as the student on the
        attacker); the edge runs it with the user's terminal."""
        user = STUDENT_USER if host == ATTACKER else None
        return self.backend.shell_argv(instance, host, user=user)

    def logs(self, instance: str, host: str, tail: int = 200) -> str:
        return self.backend.logs(instance, host, tail=tail)

    def restart(self, instance: str, host: str = ATTACKER, *, hard: bool = False) -> HostRestart:
        """Recover a host whose processes ran away, in place if it can."""
        return restart_host(self.instances, instance, host, hard=hard)

    def briefing(self, instance: str) -> str:
        """The lab's briefing for the instance's student, as Markdown (public parameters)."""
        record = self.instances.store.get(instance)
        if record is None:
            raise NotFoundError("instance", instance, hint="see `labctl status`")
        loaded = self.labs.get(record.lab)
        phases = self.instances.opened_phases(record.id)
        return render_briefing(
            loaded, record.student, record.seed, record.id, record.slot, phases=phases
        )

    # --- phases ------------------------------------------------------------------------

    def phases(self, instance: str) -> list[PhaseView]:
        """The lab's phases and whether each is open on the instance."""
        record = self.instances.get(instance)
        opened = set(self.instances.opened_phases(record.id))
        return [
            PhaseView(p.id, p.title, p.after, p.id in opened)
            for p in self.labs.get(record.lab).spec.phases
        ]

    def open_phase(self, instance: str, phase: str, on_event: OnEvent = ignore) -> bool:
        """Open ``phase`` on the instance (the instructor's decision, or its rule having
        held); False when it was open already."""
        record = self.instances.get(instance)
        loaded = self.labs.get(record.lab)
        return self.instances.open_phase(loaded, record.id, phase, progress_of(on_event))

    def _open_earned_phases(
        self, loaded: LoadedLab, instance: str, held: set[str], on_event: OnEvent
    ) -> tuple[str, ...]:
        """Open every closed phase whose ``after`` objectives have all held."""
        opened = set(self.instances.opened_phases(instance))
        earned = [
            p for p in loaded.spec.phases if p.after and p.id not in opened and set(p.after) <= held
        ]
        for phase in earned:
            note(on_event, f"phase {phase.id} opens: {', '.join(phase.after)} held")
            self.instances.open_phase(loaded, instance, phase.id, progress_of(on_event))
        return tuple(p.id for p in earned)

    # --- grading -----------------------------------------------------------------------

    def target(self, instance: str) -> tuple[LoadedLab, InstanceRecord, GradeTarget]:
        """The lab, the record (with the ports it publishes now) and the grading target."""
        record = self.instances.current(instance)
        loaded = self.labs.get(record.lab)
        return loaded, record, target_of(loaded, record)

    def check(self, instance: str, on_event: OnEvent = ignore) -> CheckOutcome:
        """Which objectives hold now; hidden objectives are neither run for show nor shown."""
        loaded, record, target = self.target(instance)
        note(on_event, f"checking {record.id} (lab {loaded.id})")
        results = check_instance(self.backend, loaded, target, _objective_events(on_event))
        held = {o.id for o in results if o.holds}
        return CheckOutcome(
            record, results, self._open_earned_phases(loaded, record.id, held, on_event)
        )

    def observe(self, instance: str, loaded: LoadedLab | None = None) -> list[str]:
        """The visible objectives a passive observation sees holding now: checks that only
        read (ground truth, files as the engine sees them), nothing sent into the instance,
        no phase opened. Objectives it cannot judge that way are not in the list.

        Cheap enough to run for a class every minute: the recorded instance (no engine
        query for its ports: nothing is sent to mission control), and ``loaded`` when the
        caller has the lab already (loading validates it: a quarter of a CPU-second)."""
        record = self.instances.get(instance)
        if record.status != "running":
            return []
        lab = loaded if loaded is not None else self.labs.get(record.lab)
        return holding(lab, observe_instance(self.backend, lab, target_of(lab, record)))

    def grade(
        self,
        instance: str,
        report: Path | None = None,
        output: Path | None = None,
        on_event: OnEvent = ignore,
    ) -> GradeOutcome:
        """Grade the instance (and the student's report): score.json, .md and .html in
        ``output`` (default ./scores/<instance>)."""
        if report is not None and not report.is_file():
            raise LabctlError(
                f"no report at {report}: give the path of the student's Markdown file"
            )
        loaded, record, target = self.target(instance)
        note(on_event, f"grading {record.id} (lab {loaded.id}, student {record.student})")
        score = grade_instance(self.backend, loaded, target, report, _objective_events(on_event))
        files = write_score_files(score, output or SCORES_DIR / record.id)
        return GradeOutcome(record, loaded.id, score, files)

    def solve(
        self,
        instance: str,
        *,
        attack: bool = True,
        remediate: bool = True,
        on_event: OnEvent = ignore,
    ) -> list[ScriptRun]:
        """The lab's reference attack and/or remediation on the running instance. The
        lab's phases open before the remediation, as the instructor would open them."""
        loaded, record, target = self.target(instance)
        runs = []
        if attack:
            runs += solve(
                self.backend,
                loaded,
                target,
                attack=True,
                remediate=False,
                note=lambda message: note(on_event, message),
            )
        if remediate:
            for phase in loaded.spec.phases:
                self.instances.open_phase(loaded, record.id, phase.id, progress_of(on_event))
            runs += solve(
                self.backend,
                loaded,
                target,
                attack=False,
                remediate=True,
                note=lambda message: note(on_event, message),
            )
        return runs

    def selftest(
        self, lab_id: str, seeds: int = 1, on_event: OnEvent = ignore, *, parallel: int = 1
    ) -> SelftestOutcome:
        """The lab's reference solution on ``seeds`` fresh instances, each step judged;
        ``parallel`` instances at a time."""
        loaded = self.labs.get(lab_id)
        self.prepare_images(set(host_roles(loaded).values()), on_event)
        chosen = sorted({secrets.randbelow(SEED_LIMIT) for _ in range(seeds)})
        started = time.monotonic()

        def report(step: Step) -> None:
            on_event(Event(str(step.seed), step.step, Kind.RESULT, step))

        launcher = InstancesLauncher(self.instances, loaded)
        steps = SelfTest(loaded, self.backend, launcher, report).run(chosen, parallel)
        return SelftestOutcome(chosen, steps, time.monotonic() - started)

    def adversary_log(self, instance: str) -> list[dict[str, Any]]:
        """What the instance's scripted adversary has done so far, in order."""
        return adversary_log(self.backend, instance)
