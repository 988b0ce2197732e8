"""A lab's reference solution on one running instance: wait for mission control, run the
reference attack while an operator works, apply the reference remediation.

Used by ``labctl selftest`` (which judges every step) and by ``labctl solve`` (which an
instructor or the demo runs on an instance they already have).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from graders.checks.base import Probe
from graders.checks.observe import command_name, login, send_command, wait_for
from graders.live.probe import open_probe
from graders.live.target import GradeTarget
from labctl.backends.base import Backend
from labctl.errors import CheckError, LabctlError
from labctl.spec import LoadedLab
from labctl.spec.models import ObjectiveKind, RemediationStep

#: The attack must be listening before the operator's command goes out.
ATTACK_LEAD_S: Final = 3.0
READY_S: Final = 60.0
INTERPRETERS: Final = {".py": ("python3", "-c"), ".sh": ("sh", "-c")}


@dataclass(frozen=True)
class ScriptRun:
    """One solution script's outcome: where it ran, its exit status, its last line."""

    script: str
    host: str
    exit_code: int
    last_line: str
    #: What the operator did meanwhile (attacks only).
    operator: str = ""
    #: The script's whole output (standard output and error).
    output: str = ""


def _last(output: str) -> str:
    return (output.strip().splitlines() or [""])[-1]


@dataclass
class Solver:
    backend: Backend
    loaded: LoadedLab
    instance_id: str
    probe: Probe

    def ready(self, seconds: float = READY_S) -> bool:
        """Mission control linked to the ground station (it connects after ``up``)."""

        def linked() -> bool:
            try:
                status, body = self.probe.api("GET", "/api/health")
            except LabctlError:
                return False
            return status == 200 and isinstance(body, dict) and bool(body.get("ground_link"))

        return bool(wait_for(linked, seconds))

    def script(self, relative: str | None, which: str) -> tuple[str, ...]:
        if relative is None:
            raise CheckError("solution", f"the lab names no solution {which} (solution.{which})")
        path = Path(self.loaded.root) / relative
        interpreter = INTERPRETERS.get(path.suffix)
        if interpreter is None:
            raise CheckError("solution", f"{relative}: no interpreter for {path.suffix!r}")
        return (*interpreter, path.read_text())

    def operate(self) -> str:
        """Play the operator: ``solution.operate``, else the attack objective's command."""
        spec = self.loaded.spec
        attacks = [o for o in spec.objectives if o.kind is ObjectiveKind.ATTACK and o.check]
        wanted = spec.solution.operate
        if wanted is None and attacks and attacks[0].check:
            wanted = attacks[0].check.args.get("command")
        name = command_name(str(wanted or "17.1"))
        try:
            send_command(self.probe, login(self.probe, "operator"), name)
        except LabctlError as exc:
            return f"operator could not send {name}: {exc}"
        return f"operator sent {name}"

    def attack(self) -> ScriptRun:
        """The reference attack on the attacker, as the student, while an operator works."""
        relative = self.loaded.spec.solution.attack
        argv = self.script(relative, "attack")
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(self.backend.exec, self.instance_id, "attacker", argv, "student")
            time.sleep(ATTACK_LEAD_S)
            operator = self.operate()
            result = running.result()
        return ScriptRun(
            str(relative),
            "attacker",
            result.exit_code,
            _last(result.output),
            operator,
            result.output,
        )

    def remediation_steps(self) -> tuple[RemediationStep, ...]:
        steps = self.loaded.spec.solution.remediation_steps
        if not steps:
            raise CheckError("solution", "the lab names no solution remediation")
        return steps

    def remediate_step(self, step: RemediationStep) -> ScriptRun:
        argv = self.script(step.script, "remediation")
        # Hosts hold no CAP_DAC_OVERRIDE: labctl, the owner of their configuration.
        result = self.backend.exec(self.instance_id, step.host, argv, step.user)
        return ScriptRun(step.script, step.host, result.exit_code, _last(result.output))

    def restarts(self) -> list[str]:
        """Hosts the remediation restarts, in the order their steps first name them."""
        return list(dict.fromkeys(s.host.value for s in self.remediation_steps() if s.restart))

    def restart(self, host: str) -> bool:
        """Restart ``host`` (the probe re-syncs COP-1) and wait until mission control is
        linked to the ground station again: it reconnects on its own, after a back-off."""
        self.probe.restart(host)
        return self.ready()


def solve(
    backend: Backend,
    loaded: LoadedLab,
    target: GradeTarget,
    *,
    attack: bool = True,
    remediate: bool = True,
    note: Callable[[str], None] = lambda message: None,
) -> list[ScriptRun]:
    """``labctl solve``: the reference attack (with an operator working meanwhile) and/or
    the reference remediation, step by step, then the restarts it needs; ``note`` hears
    each stage as it starts. Raises when mission control is not linked to begin with."""
    runs = []
    with open_probe(backend, target) as probe:
        solver = Solver(backend, loaded, target.instance_id, probe)
        if not solver.ready():
            raise LabctlError(
                f"{target.instance_id}: mission control is not linked to the ground station;"
                f" see labctl status {target.instance_id}"
            )
        if attack and loaded.spec.solution.attack is not None:
            note("running the reference attack on the attacker (an operator works meanwhile)")
            runs.append(solver.attack())
        if remediate:
            for step in solver.remediation_steps():
                note(f"remediation: {step.script} on {step.host} as {step.user}")
                runs.append(solver.remediate_step(step))
            for restarting in solver.restarts():
                note(f"restarting {restarting}")
                if not solver.restart(restarting):
                    note(f"warning: mission control is not linked after restarting {restarting}")
    return runs
