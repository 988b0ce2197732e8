"""``labctl grade`` on the real engine (tc-replay): a fresh instance fails the remediation
objectives, the reference fix passes them, a "fix" that cuts mission control off the
ground station earns nothing on the objectives that depend on operations, and the
attack's success before the fix is still on record after the spacecraft restarted."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from live import REPO, mission_control_url, tc_replay_instance

from graders.live.grade import grade_instance
from graders.live.probe import LiveProbe
from graders.live.solution import Solver
from graders.live.target import GradeTarget
from graders.live.vantage import vantage
from graders.score import ScoreReport, Verdict
from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord
from labctl.instances.lifecycle import variables_of
from labctl.spec import load_lab

pytestmark = pytest.mark.docker
LOADED = load_lab(REPO / "labs" / "tc-replay")
SAMPLE = REPO / "labs" / "tc-replay" / "solution" / "sample-report.md"


def _target(record: InstanceRecord) -> GradeTarget:
    return GradeTarget(
        record.id,
        record.student,
        record.seed,
        mission_control_url(record),
        variables_of(LOADED, record),
    )


def _verdicts(report: ScoreReport) -> dict[str, tuple[Verdict, float, tuple[str, ...]]]:
    return {o.id: (o.verdict, o.points, o.gated_by) for o in report.objectives}


def test_grading_before_and_after_the_fix_and_a_fix_that_breaks_the_mission(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    with tc_replay_instance(lab_backend, tmp_path, "grade") as (_, record):
        target = _target(record)
        fresh = _verdicts(grade_instance(lab_backend, LOADED, target))
        assert fresh["replay-rejected"][0] is Verdict.FAIL
        assert fresh["mission-flies"][0] is Verdict.PASS
        with vantage(lab_backend, record.id, uuid.uuid4().hex[:12]) as host:
            probe = LiveProbe(lab_backend, record.id, target.mission_control, host)
            solver = Solver(lab_backend, LOADED, record.id, probe)
            assert solver.ready()
            assert solver.attack().exit_code == 0
            for step in solver.remediation_steps():
                assert solver.remediate_step(step).exit_code == 0
            for host_name in solver.restarts():
                assert solver.restart(host_name)

        fixed = grade_instance(lab_backend, LOADED, target, SAMPLE)
        after = _verdicts(fixed)
        assert after["replay-rejected"] == (Verdict.PASS, 30.0, ())
        assert after["replay-rejected-after-reboot"][0] is Verdict.PASS
        # The replay succeeded before the fix restarted the spacecraft: still on record.
        assert after["replay-executed"][0] is Verdict.PASS
        assert after["audit-report"][0] is Verdict.PASS
        again = grade_instance(lab_backend, LOADED, target, SAMPLE)
        assert again.points == fixed.points

        # "Hardening" that drops mission control's connection to the ground station.
        cut = ["iptables", "-I", "INPUT", "-p", "tcp", "--dport", "10025", "-j", "REJECT"]
        assert lab_backend.exec(record.id, "ground-station", cut, user="root").exit_code == 0
        kill = ["sh", "-c", "ss -K dport = :10025 || true"]
        lab_backend.exec(record.id, "ground-station", kill, user="root")
        broken = _verdicts(grade_instance(lab_backend, LOADED, target))
        assert broken["mission-flies"][0] is not Verdict.PASS
        assert broken["replay-rejected"][1] == 0
        assert "mission-flies" in broken["replay-rejected"][2]
