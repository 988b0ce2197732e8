"""port_closed / port_open on the real engine: the ground station's packet service is open
to the radio side until a firewall rule closes it there, and mission control keeps it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from live import mission_control_url, tc_replay_instance

from graders.checks.base import Status
from graders.checks.network import PortClosed, PortClosedArgs, PortOpen, PortOpenArgs
from graders.live.probe import LiveProbe
from graders.live.vantage import vantage
from labctl.backends.docker import DockerBackend

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
            still = PortOpen().run(kept, probe)
            assert still.status is Status.PASS, still.evidence
