"""Grading benchmark: how long ``labctl grade`` takes on one live instance, and where.

    python bench/grade.py [--lab tc-replay] [--runs 2] [--report PATH]

Brings up one instance of the lab (images present), runs the lab's reference attack and
remediation once, then grades it ``--runs`` times with the sample report and prints, side
by side:

- labctl grade: ``grade_instance`` end to end (one grader vantage, every check, the report),
  in seconds and in CPU-seconds of the whole machine (``/proc/stat``: labctl, the engine,
  the containers; other load on the machine counts too, so run it on a quiet one);
- its parts: the vantage's start and removal, each check, the report grader alone;
- the floor: the slowest single check plus the vantage (what running the checks in
  parallel could reach at best) — and the sum of the checks (what one-vantage-per-check
  would cost on top of a vantage each: shown with the measured vantage time per check).

The instance is removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import machine_cpu_s  # noqa: E402  (bench/, beside this script)

from graders.checks.base import CheckResult  # noqa: E402
from graders.live.grade import grade_instance, grade_report_file  # noqa: E402
from graders.live.probe import LiveProbe  # noqa: E402
from graders.live.solution import Solver  # noqa: E402
from graders.live.target import GradeTarget, target_of  # noqa: E402
from graders.live.vantage import vantage  # noqa: E402
from labctl.backends.docker import DockerBackend  # noqa: E402
from labctl.instances import Instances, InstanceStore  # noqa: E402
from labctl.spec import LoadedLab, load_lab  # noqa: E402
from labctl.spec.models import Objective  # noqa: E402


def solve(backend: DockerBackend, loaded: LoadedLab, target: GradeTarget) -> float:
    """Reference attack and fix; the seconds a grader vantage takes to start and go."""
    started = time.monotonic()
    with vantage(backend, target.instance_id, uuid.uuid4().hex[:12]) as host:
        vantage_s = time.monotonic() - started
        with LiveProbe(backend, target.instance_id, target.mission_control, host) as probe:
            solver = Solver(backend, loaded, target.instance_id, probe)
            solver.ready()
            if loaded.spec.solution.attack:
                solver.attack()
            for step in solver.remediation_steps():
                solver.remediate_step(step)
            for restarting in solver.restarts():
                solver.restart(restarting)
        removal_from = time.monotonic()
    return vantage_s + time.monotonic() - removal_from


def grade_runs(
    backend: DockerBackend, loaded: LoadedLab, target: GradeTarget, report: Path | None, runs: int
) -> tuple[list[float], list[float], dict[str, list[float]]]:
    """Total seconds and machine CPU-seconds per run, and seconds per check (from one
    progress mark to the next)."""
    totals: list[float] = []
    cpu: list[float] = []
    per_check: dict[str, list[float]] = {}
    for _ in range(runs):
        marks: list[tuple[str, float]] = []
        cpu_from = machine_cpu_s()
        begun = time.monotonic()

        def progress(
            objective: Objective, result: CheckResult, marks: list[tuple[str, float]] = marks
        ) -> None:
            del result
            marks.append((objective.id, time.monotonic()))

        grade_instance(backend, loaded, target, report, progress)
        totals.append(time.monotonic() - begun)
        cpu.append(machine_cpu_s() - cpu_from)
        previous = begun
        for objective_id, at in marks:
            per_check.setdefault(objective_id, []).append(at - previous)
            previous = at
    return totals, cpu, per_check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="tc-replay")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--report", type=Path, default=None)
    options = parser.parse_args()
    loaded = load_lab(ROOT / "labs" / options.lab)
    report = options.report or ROOT / "labs" / options.lab / "solution" / "sample-report.md"
    report_path = report if report.is_file() else None
    backend = DockerBackend()
    with tempfile.TemporaryDirectory() as state:
        instances = Instances(backend, InstanceStore(Path(state) / "bench.db"))
        record = instances.up(loaded, f"bench-{uuid.uuid4().hex[:6]}")
        try:
            target = target_of(loaded, record)
            vantage_s = solve(backend, loaded, target)
            totals, cpu, per_check = grade_runs(backend, loaded, target, report_path, options.runs)
            report_s = 0.0
            if report_path is not None:
                begun = time.monotonic()
                grade_report_file(loaded, target, report_path)
                report_s = time.monotonic() - begun
        finally:
            instances.down(record.id)
    checks = {k: statistics.median(v) for k, v in per_check.items()}
    print(f"lab {options.lab}, {options.runs} run(s), medians in seconds")
    print(f"{'what':<52} {'seconds':>8}")
    print(f"{'labctl grade (vantage + every check + report)':<52} {statistics.median(totals):8.1f}")
    print(f"{'  CPU-seconds of the whole machine meanwhile':<52} {statistics.median(cpu):8.1f}")
    print(f"{'  grader vantage: start and removal':<52} {vantage_s:8.1f}")
    for name, seconds in checks.items():
        print(f"{'  check ' + name:<52} {seconds:8.1f}")
    print(f"{'  report grader':<52} {report_s:8.2f}")
    floor = max(checks.values(), default=0.0) + vantage_s
    print(f"{'floor: slowest check + vantage (checks in parallel)':<52} {floor:8.1f}")
    one_each = sum(checks.values()) + vantage_s * len(checks)
    print(f"{'baseline: a fresh vantage per check':<52} {one_each:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
