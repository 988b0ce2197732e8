"""port_closed / port_open on the real engine: the ground station's packet service is open
to the radio side until a firewall rule closes it there (a dropped SYN, from a host that
answers ARP: filtered), and mission control keeps it. What port_closed cannot observe (a
host the instance does not have, a host whose interface is down) is an error worth 0."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from live import REPO, mission_control_url, tc_replay_instance

from graders.checks.base import Status
from graders.checks.network import PortClosed, PortClosedArgs, PortOpen, PortOpenArgs
from graders.live.probe import LiveProbe, open_probe
from graders.live.run import run_objective
from graders.live.target import GradeTarget
from graders.live.vantage import vantage
from graders.score.model import Verdict, judge_objective
from labctl.backends.docker import DockerBackend
from labctl.errors import SpecError
from labctl.spec import load_lab
from labctl.spec.models import CheckRef, Objective, ObjectiveKind

pytestmark = pytest.mark.docker


def test_packet_service_reachability_before_and_after_a_firewall_rule(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    with tc_replay_instance(lab_backend, tmp_path, "net") as (_, record):
        url = mission_control_url(record)
        closed = PortClosedArgs(host="ground-station", port=10025)
        kept = PortOpenArgs(host="ground-station", port=10025, source="mission-control")
        with vantage(lab_backend, record.id, uuid.uuid4().hex[:12]) as host:
            probe = LiveProbe(lab_backend, record.id, url, host)
            before = PortClosed().run(closed, probe)
            assert before.status is Status.FAIL, before.evidence
            # The student's fix: only the ground network may reach the packet service.
            rule = [
                "sh",
                "-c",
                "iptables -I INPUT -p tcp --dport 10025 ! -s $(getent hosts "
                "mission-control | cut -d' ' -f1) -j DROP",
            ]
            done = lab_backend.exec(record.id, "ground-station", rule, user="root")
            assert done.exit_code == 0, done.output
            after = PortClosed().run(closed, probe)
            assert after.status is Status.PASS, after.evidence
            assert "filtered" in after.evidence
            assert "answers ARP" in after.evidence
            still = PortOpen().run(kept, probe)
            assert still.status is Status.PASS, still.evidence


def _objective(host: str) -> Objective:
    return Objective(
        id="packet-service-closed",
        kind=ObjectiveKind.REMEDIATION,
        title="The packet service is closed to the attacker",
        points=10,
        check=CheckRef(name="port_closed", args={"host": host, "port": 10025}),
    )


def test_port_closed_on_a_host_that_is_not_there_is_an_error_worth_nothing(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    # labs validate refuses such a lab now (the issue: it passed validation, then passed
    # live as "closed: name resolution failed")...
    lab = tmp_path / "tc-replay"
    shutil.copytree(REPO / "labs" / "tc-replay", lab)
    text = (lab / "lab.yaml").read_text(encoding="utf-8")
    typo = "  - id: typo\n    kind: remediation\n    title: A typo\n    points: 5\n"
    typo += "    check: {name: port_closed, args: {host: groundstation, port: 10025}}\n"
    text = text.replace("\nobjectives:\n", f"\nobjectives:\n{typo}", 1)
    (lab / "lab.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="did you mean 'ground-station'"):
        load_lab(lab)
    # ... and a check that names it anyway (built here) observes nothing: an error, 0 points.
    with tc_replay_instance(lab_backend, tmp_path, "nohost") as (_, record):
        target = GradeTarget(record.id, record.student, record.seed, mission_control_url(record))
        wrong, real = _objective("groundstation"), _objective("ground-station")
        with open_probe(lab_backend, target) as probe:
            result = run_objective(wrong, probe)
            assert result.status is Status.ERROR, result.evidence
            assert "no such host" in result.evidence
            assert "groundstation" in result.evidence
            scored = judge_objective(wrong, result, None)
            assert (scored.verdict, scored.points) == (Verdict.ERROR, 0.0)
            assert scored.evidence == result.evidence
            open_port = run_objective(real, probe)
            assert open_port.status is Status.FAIL, open_port.evidence  # the real host: open
            # The station's radio interface down: nothing answers, not even ARP. Whether
            # the port is closed is unknown: an error, not a pass.
            rf = record_address(lab_backend, record.id, "ground-station", "rf")
            down = [
                "sh",
                "-c",
                f"ip link set $(ip -o -4 addr | awk '$4 ~ /^{rf}\\//{{print $2}}') down",
            ]
            done = lab_backend.exec(record.id, "ground-station", down, user="root")
            assert done.exit_code == 0, done.output
        # A fresh vantage (a grading run's own), which never heard the station answer.
        with open_probe(lab_backend, target) as probe:
            result = run_objective(real, probe)
            assert result.status is Status.ERROR, result.evidence
            assert "does not answer ARP" in result.evidence
            assert judge_objective(real, result, None).points == 0.0


def record_address(backend: DockerBackend, instance_id: str, host: str, network: str) -> str:
    """``host``'s address on ``network``, as the engine reports it."""
    status = next(s for s in backend.status(instance_id) if s.host == host)
    return status.addresses[network]
