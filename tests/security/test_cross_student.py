"""Students of one class cannot reach each other: from one student's attacker (as the
student), the other student's hosts do not answer, by address (ping, TCP connect) or by
name, while the student's own hosts do (the probes work)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from live import REPO

from labctl.backends.docker import DockerBackend, resource_name
from labctl.instances import InstanceStore
from labctl.sessions import Sessions, parse_roster
from labctl.spec import load_lab

pytestmark = pytest.mark.docker
#: Run on the attacker: for each target "host:port", connect (2 s) and report the outcome.
PROBE = """
import json, socket, sys
out = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            out[target] = "open"
    except socket.gaierror:
        out[target] = "no such name"
    except OSError as exc:
        out[target] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(out))
"""
#: TCP services of tc-replay's hosts.
SERVICES = {"mission-control": 8080, "ground-station": 22}


def _probe(backend: DockerBackend, ident: str, targets: list[str]) -> dict[str, str]:
    result = backend.exec(ident, "attacker", ["python3", "-c", PROBE, *targets], user="student")
    assert result.exit_code == 0, result.output
    answers: dict[str, str] = json.loads(result.output.strip().splitlines()[-1])
    return answers


def _ping(backend: DockerBackend, ident: str, address: str) -> bool:
    result = backend.exec(
        ident, "attacker", ["ping", "-c", "1", "-W", "2", address], user="student"
    )
    return result.exit_code == 0


def test_one_student_cannot_reach_another(lab_backend: DockerBackend, tmp_path: Path) -> None:
    loaded = load_lab(REPO / "labs" / "tc-replay")
    tag = uuid.uuid4().hex[:4]
    roster = parse_roster(
        f"id,name,email\na{tag},A,a@example.edu\nb{tag},B,b@example.edu\n".encode()
    )
    name = f"i{tag}"
    sessions = Sessions(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    try:
        report = sessions.start(loaded, roster, name=name, parallel=2)
        assert not report.failed, report.failed
        mine, theirs = (m.instance for m in sessions.members(name))
        own = {h.host: h for h in lab_backend.status(mine)}
        other = {h.host: h for h in lab_backend.status(theirs)}

        # the probes work: the student's own hosts answer by name and by address
        own_targets = [f"{host}:{port}" for host, port in SERVICES.items()]
        shared = set(own["attacker"].addresses)  # the networks the attacker is on
        own_targets += [
            f"{address}:{port}"
            for host, port in SERVICES.items()
            for network, address in own[host].addresses.items()
            if network in shared
        ]
        assert len(own_targets) > len(SERVICES)
        answers = _probe(lab_backend, mine, own_targets)
        assert set(answers.values()) == {"open"}, answers
        own_rf = own["rf-link"].addresses["rf"]
        assert _ping(lab_backend, mine, own_rf)

        # the other student's hosts: by every address they have, and by container name
        addresses = [a for h in other.values() for a in h.addresses.values()]
        assert addresses
        targets = [f"{a}:{port}" for a in addresses for port in sorted(set(SERVICES.values()))]
        targets += [f"{resource_name(theirs, h)}:{p}" for h, p in SERVICES.items()]
        answers = _probe(lab_backend, mine, targets)
        assert "open" not in answers.values(), answers
        for address in addresses:
            assert not _ping(lab_backend, mine, address), address
        # the same names resolve to the student's own hosts, never the other's
        for host in SERVICES:
            result = lab_backend.exec(mine, "attacker", ["getent", "hosts", host], user="student")
            resolved = result.output.split()[0] if result.exit_code == 0 else ""
            assert resolved in own[host].addresses.values(), (host, resolved)
            assert resolved not in other[host].addresses.values()
    finally:
        sessions.stop(name)
