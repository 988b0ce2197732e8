"""Unintended shortcuts do not score: the ground station's packet service is mission
control's, not the RF segment's.

Before, the station's packet service listened on every interface with
``allowed_clients: []``: in every lab, anyone on the RF segment (the student's
workstation) could connect, have telecommands framed, authenticated and uplinked with
the station's own key, and read decrypted telemetry, without attacking anything the lab
teaches. Now it admits mission control and the station itself; a lab that teaches the
exposure injects ``allowed_clients: []``; a shared station (contested-station) opens it
to every address but wants a customer's access request first. Per lab: from the
workstation, as the student, a THRUSTER_FIRE sent to the packet service is refused and
never executes on board.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from live import REPO, eventually, truth

from labctl.backends.docker import DockerBackend
from labctl.instances import Instances, InstanceStore
from labctl.range import wiring
from labctl.range.hosts.catalog import BY_NAME, PLATFORM_APID
from labctl.spec import load_lab

pytestmark = pytest.mark.docker

LABS = sorted(p.parent.name for p in (REPO / "labs").glob("*/lab.yaml"))


def _teaches_the_exposure(lab_id: str) -> bool:
    """A lab whose weakness opens the packet service (``allowed_clients``) on purpose. A
    shared station that opens it to every address but wants an access request first
    (``packet_service.access``, contested-station) must still refuse the workstation."""
    text = (REPO / "labs" / lab_id / "lab.yaml").read_text(encoding="utf-8")
    return "packet_service.allowed_clients" in text and "packet_service.access" not in text


#: The labs where the packet service must refuse the workstation: all but those that
#: teach its exposure (gs-pivot).
CLOSED = [lab for lab in LABS if not _teaches_the_exposure(lab)]

#: Run on the workstation as the student: connect to the packet service, send one TC,
#: say whether the station kept the connection (and any telemetry) or closed it.
SHORTCUT = """
import socket, sys, time
tc = bytes.fromhex(sys.argv[1])
try:
    conn = socket.create_connection(("ground-station", 10025), timeout=5)
except OSError as exc:
    print("unreachable", exc); sys.exit(0)
conn.settimeout(3)
try:
    conn.sendall(tc)
    got = b""
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        chunk = conn.recv(4096)
        if not chunk:
            print("closed", len(got)); sys.exit(0)
        got += chunk
    print("kept", len(got))
except socket.timeout:
    print("kept", 0)
except OSError as exc:
    print("closed", exc)
"""


def test_only_a_lab_that_teaches_it_exposes_the_packet_service() -> None:
    assert set(LABS) - set(CLOSED) == {"gs-pivot"}


@pytest.mark.parametrize("lab_id", CLOSED)
def test_the_packet_service_refuses_the_workstation(
    lab_backend: DockerBackend, tmp_path: Path, lab_id: str
) -> None:
    from labctl.protocols.pus import PusTc

    manager = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    record = manager.up(load_lab(REPO / "labs" / lab_id), f"short{uuid.uuid4().hex[:8]}")
    try:
        fire = BY_NAME["THRUSTER_FIRE"]
        tc = PusTc(PLATFORM_APID, fire.service, fire.subtype, fire.app_data(500), 7).encode()
        result = lab_backend.exec(
            record.id, wiring.ATTACKER, ["python3", "-c", SHORTCUT, tc.hex()], user="student"
        )
        assert result.exit_code == 0, result.output
        assert result.output.split()[0] in {"closed", "unreachable"}, result.output

        def refused() -> int:
            status = lab_backend.exec(
                record.id, wiring.GROUND_STATION, ["cat", wiring.GROUND_STATION_STATUS]
            )
            counters = json.loads(status.output)["counters"]
            # refused at connect (allowed_clients), or for want of an access request
            return int(counters["clients_refused"]) + int(counters.get("access_refused", 0))

        if result.output.startswith("closed"):  # the status file is written every 5 s
            assert eventually(refused, 15, "the refusal counted") >= 1
        executed = [e["name"] for e in truth(lab_backend, record)["executed_commands"]]
        assert "THRUSTER_FIRE" not in executed
    finally:
        manager.down(record.id)


#: Run on the workstation as the student: log into the ground station as `ops` with the
#: password given, print the groups (or why not).
OPS_LOGIN = """
import sys
from labctl.range.opsclient import OpsError, OpsSession
try:
    with OpsSession("ground-station", "ops", sys.argv[1]) as ops:
        print("in", ops.run("id", "-nG").strip())
except OpsError as exc:
    print("refused", exc)
"""


def test_gs_ssh_keys_gives_the_operations_account_only_once_the_defence_phase_opens(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    """The station's operations engineer could read the exposed uplink key: during the
    attack the account does not exist; the defence phase adds it, leaves its file in
    the student's home (no workstation restart: the shell stays) and opens once."""
    from labctl.scenario import parameters

    loaded = load_lab(REPO / "labs" / "gs-ssh-keys")
    manager = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    record = manager.up(loaded, f"phase{uuid.uuid4().hex[:8]}")
    password = str(parameters(loaded.spec, record.student, record.seed).public()["ops_password"])

    def as_student(*argv: str) -> str:
        result = lab_backend.exec(record.id, wiring.ATTACKER, list(argv), user="student")
        assert result.exit_code == 0, result.output
        return result.output

    try:
        marker = as_student("sh", "-c", "echo kept > ~/before-phase.txt; ls ~")
        assert "ground-station.txt" not in marker
        assert as_student("python3", "-c", OPS_LOGIN, password).startswith("refused")

        assert manager.open_phase(loaded, record.id, "defence") is True
        home = as_student("ls", "/home/student")
        assert "ground-station.txt" in home
        assert "before-phase.txt" in home  # the workstation was not restarted
        login = as_student("python3", "-c", OPS_LOGIN, password)
        assert login.startswith("in"), login
        assert "labops" in login.split(), login
        assert manager.open_phase(loaded, record.id, "defence") is False
    finally:
        manager.down(record.id)
