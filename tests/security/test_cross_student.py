"""Students of one class cannot reach each other (docs/security.md): three instances of a
session, every ordered pair, from one student's attacker to another's hosts.

- by address and by name: a TCP connection (as the student) to every address of the
  other instance's hosts, on the lab's TCP ports, and to its containers' names: none
  opens; the lab's host names resolve to the student's own hosts, never another's;
- by scan: ``nmap`` as root (the student has sudo) over every subnet of the other two
  instances, host discovery (ARP, ICMP, TCP) and a SYN scan of the lab's TCP ports:
  0 hosts up, 0 ports open.

The control: the same probes, in the same runs, reach the student's own hosts (every
address and name opens; the scan finds them up and mission control's port open), so a
probe that cannot work at all would fail the test, not pass it.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from live import REPO, bounded_exec

from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend, resource_name
from labctl.instances import InstanceStore
from labctl.sessions import Sessions, parse_roster
from labctl.spec import load_lab

pytestmark = pytest.mark.docker
#: Run on the attacker: connect to every "host:port" at once (2 s each); print outcomes.
PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
def attempt(target):
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return "open"
    except socket.gaierror:
        return "no such name"
    except OSError as exc:
        return type(exc).__name__ + ": " + str(exc)
with ThreadPoolExecutor(64) as pool:
    print(json.dumps(dict(zip(sys.argv[1:], pool.map(attempt, sys.argv[1:])))))
"""
#: TCP services of tc-replay's hosts.
SERVICES = {"mission-control": 8080, "ground-station": 22}
PORTS = ",".join(str(p) for p in sorted(set(SERVICES.values())))
STUDENTS = 3
#: Silence is the expected answer from others' subnets: waiting long for it only costs
#: time (default timing took 5 minutes for the class); the student's own hosts, on the
#: same bridge, answer in well under a millisecond (the control catches a scan too hasty).
NMAP_TIMING = (
    "-T4",
    "--max-retries",
    "1",
    "--initial-rtt-timeout",
    "100ms",
    "--max-rtt-timeout",
    "300ms",
    "--min-rate",
    "500",
)
#: Bound of one probe or one nmap run (they take seconds: nothing answers, nothing waits).
RUN_S = 240.0


@pytest.fixture(scope="module")
def class_of_three(
    lab_backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Three students' instances of one session (ids), removed afterwards."""
    tag = uuid.uuid4().hex[:4]
    rows = "".join(f"s{i}{tag},S{i},s{i}@example.edu\n" for i in range(STUDENTS))
    roster = parse_roster(f"id,name,email\n{rows}".encode())
    name = f"x{tag}"
    state = tmp_path_factory.mktemp("cross") / "labctl.db"
    sessions = Sessions(lab_backend, InstanceStore(state))
    try:
        report = sessions.start(
            load_lab(REPO / "labs" / "tc-replay"), roster, name=name, parallel=STUDENTS
        )
        assert not report.failed, report.failed
        yield [m.instance for m in sessions.members(name)]
    finally:
        sessions.stop(name)


def _probe(backend: DockerBackend, ident: str, targets: list[str]) -> dict[str, str]:
    result = bounded_exec(
        backend,
        ident,
        "attacker",
        ["python3", "-c", PROBE, *targets],
        user="student",
        seconds=RUN_S,
    )
    assert result is not None, f"the probe from {ident} did not end in {RUN_S} s"
    assert result.exit_code == 0, result.output
    answers: dict[str, str] = json.loads(result.output.strip().splitlines()[-1])
    return answers


def _targets(backend: DockerBackend, ident: str, networks: set[str] | None = None) -> list[str]:
    """Every address (on ``networks``, if given) of the instance's TCP services, as
    "address:port"."""
    hosts = {h.host: h for h in backend.status(ident)}
    return [
        f"{address}:{port}"
        for host, port in SERVICES.items()
        for network, address in hosts[host].addresses.items()
        if networks is None or network in networks
    ]


def _names(ident: str) -> list[str]:
    """The instance's containers' names, as "name:port"."""
    return [f"{resource_name(ident, h)}:{p}" for h, p in SERVICES.items()]


def test_no_student_reaches_another_by_address_or_name(
    lab_backend: DockerBackend, class_of_three: list[str]
) -> None:
    for mine in class_of_three:
        own = {h.host: h for h in lab_backend.status(mine)}
        # the control: the student's own hosts, by name and by every address the
        # attacker shares a network with
        own_targets = [f"{host}:{port}" for host, port in SERVICES.items()]
        own_targets += _targets(lab_backend, mine, set(own["attacker"].addresses))
        theirs = [i for i in class_of_three if i != mine]
        other_targets = [t for i in theirs for t in [*_targets(lab_backend, i), *_names(i)]]
        assert len(own_targets) > len(SERVICES)
        assert len(other_targets) > 2 * len(SERVICES) * 2

        answers = _probe(lab_backend, mine, own_targets + other_targets)

        reached = {t: answers[t] for t in own_targets if answers[t] != "open"}
        assert not reached, f"control: {mine} cannot reach its own hosts: {reached}"
        opened = [t for t in other_targets if answers[t] == "open"]
        assert opened == [], f"{mine} reaches another student's hosts: {opened}"
        for host in SERVICES:  # the lab's names are the student's own hosts
            result = lab_backend.exec(mine, "attacker", ["getent", "hosts", host], user="student")
            resolved = result.output.split()[0] if result.exit_code == 0 else ""
            assert resolved in own[host].addresses.values(), (host, resolved)


def _subnets(backend: DockerBackend, ident: str) -> list[ipaddress.IPv4Network]:
    networks = backend.client.networks.list(filters={"label": f"{INSTANCE_LABEL}={ident}"})
    return [
        ipaddress.IPv4Network(config["Subnet"])
        for network in networks
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []
    ]


def _nmap(backend: DockerBackend, ident: str, options: list[str], subnets: list[str]) -> str:
    argv = ["sudo", "nmap", "-n", *NMAP_TIMING, "-oG", "-", *options, *subnets]
    result = bounded_exec(backend, ident, "attacker", argv, user="student", seconds=RUN_S)
    assert result is not None, f"nmap from {ident} did not end in {RUN_S} s"
    assert result.exit_code == 0, result.output
    return result.output


def _up(grepable: str) -> set[ipaddress.IPv4Address]:
    return {ipaddress.IPv4Address(m) for m in re.findall(r"Host: (\S+) .*Status: Up", grepable)}


def _open(grepable: str) -> set[ipaddress.IPv4Address]:
    return {
        ipaddress.IPv4Address(host)
        for host, ports in re.findall(r"Host: (\S+) .*Ports: (.*)", grepable)
        if "/open/" in ports
    }


def _within(found: set[ipaddress.IPv4Address], subnets: list[ipaddress.IPv4Network]) -> set[str]:
    return {str(a) for a in found if any(a in s for s in subnets)}


def test_no_student_finds_another_by_scan(
    lab_backend: DockerBackend, class_of_three: list[str]
) -> None:
    subnets = {i: _subnets(lab_backend, i) for i in class_of_three}
    assert all(len(s) >= 5 for s in subnets.values()), subnets  # rf, corp, ground, links, access

    def scan(mine: str) -> tuple[str, str, str]:
        everyone = [str(s) for i in class_of_three for s in subnets[i]]
        others = [str(s) for i in class_of_three if i != mine for s in subnets[i]]
        own_and_others = [str(s) for s in subnets[mine]] + others
        discovery = _nmap(lab_backend, mine, ["-sn"], everyone)
        ports = _nmap(lab_backend, mine, ["-Pn", "-sS", "-p", PORTS], own_and_others)
        return mine, discovery, ports

    with ThreadPoolExecutor(STUDENTS) as pool:
        results = list(pool.map(scan, class_of_three))

    for mine, discovery, ports in results:
        own, others = subnets[mine], [s for i in class_of_three if i != mine for s in subnets[i]]
        # the control: the scan finds the student's own hosts and mission control's port
        assert len(_within(_up(discovery), own)) >= 4, discovery
        mission_control = _addresses(lab_backend, mine, "mission-control")
        assert mission_control & _within(_open(ports), own), ports
        assert _within(_up(discovery), others) == set(), f"{mine} discovers others' hosts"
        assert _within(_open(ports), others) == set(), f"{mine} finds others' open ports"


def _addresses(backend: DockerBackend, ident: str, host: str) -> set[str]:
    found = next(h for h in backend.status(ident) if h.host == host)
    return set(found.addresses.values())
