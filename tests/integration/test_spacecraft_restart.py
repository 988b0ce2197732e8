"""A restarted spacecraft does not cost the mission its uplink (COP-1 recovery).

A spacecraft that restarts comes back with FARM-1 at V(R) = 0 while the ground station's
FOP-1 carries on from V(S) = n. Before the station recovered by itself, more than four
commands before a restart left the uplink in "FARM-1 lockout" for good, and fewer left it
retransmitting into FARM-1's positive window until the transmission limit: commands
stayed "sent", and every availability objective (and, through gating, every remediation
point) was lost after the restart the briefings ask students to make. Now the station's
FOP-1 notices (lockout, or N(R) out of step) and re-initiates the AD service (Unlock, Set
V(R)), as a real station's automatic COP-1 recovery does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from live import login, mission_control_url, send, tc_replay_instance, truth

from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances
from labctl.range import wiring

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def instance(
    lab_backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instances, InstanceRecord]]:
    with tc_replay_instance(lab_backend, tmp_path_factory.mktemp("state"), "scrst") as running:
        yield running


def station_status(backend: DockerBackend, record: InstanceRecord) -> dict[str, Any]:
    """The ground station's status document, read through the engine."""
    result = backend.exec(record.id, wiring.GROUND_STATION, ["cat", wiring.GROUND_STATION_STATUS])
    assert result.exit_code == 0, result.output
    status: dict[str, Any] = json.loads(result.output)
    return status


@pytest.mark.parametrize("commands_before", [8, 3])
def test_commands_complete_after_a_spacecraft_restart(
    instance: tuple[Instances, InstanceRecord], lab_backend: DockerBackend, commands_before: int
) -> None:
    _, record = instance
    client = login(mission_control_url(record))
    for _ in range(commands_before):
        assert send(client, "PING")["status"] == "completed"
    recoveries = station_status(lab_backend, record)["counters"]["fop_recoveries"]
    lab_backend.restart(record.id, wiring.SPACECRAFT)
    assert truth(lab_backend, record)["farm"]["vr"] == 0  # FARM-1 starts again

    sent = send(client, "PING")  # waits up to 45 s for the verification
    assert sent["status"] == "completed", sent
    assert send(client, "PAYLOAD_ON")["status"] == "completed"
    status = station_status(lab_backend, record)
    assert status["uplink"]["alert"] == "", status["uplink"]
    assert status["uplink"]["fop_state"] == "ACTIVE", status["uplink"]
    assert status["counters"]["fop_recoveries"] > recoveries
