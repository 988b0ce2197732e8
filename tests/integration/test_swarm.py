"""The swarm backend on the real engine, as an instructor runs it (``LABCTL_BACKEND=swarm``,
the command as a subprocess): a class of three on tc-replay spread over the swarm's nodes
(two when ``scripts/swarm-node.sh up`` has joined a second engine), confined as the
docker backend's hosts are where the Swarm API allows, graded, no student reaching
another's hosts on either node, a host restarted by swarm with its files and its network
attachments as they were, an instance stopped as an idle period stops it and started again
with the student's home, a node drained and its students repaired elsewhere by ``session
start`` with the same passwords, and nothing left after ``session stop``.

Needs this engine to be a swarm manager (``docker swarm init --advertise-addr 127.0.0.1``
or ``bash scripts/swarm-node.sh up``): skipped loudly without, failed in CI."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from live import REPO
from rawframes import (
    NEIGHBOURS,
    RAW_IPV6_HANDSHAKE,
    ROUTED_IPV4_UDP,
    eui64_link_local,
    host_listeners,
    ipv4_of,
)

from labctl.backends.base import INSTANCE_LABEL, FileSpec
from labctl.backends.swarm import SwarmBackend
from labctl.backends.swarm.nodes import api_of
from labctl.errors import BackendError
from labctl.instances import InstanceStore
from labctl.sessions.store import SessionStore

pytestmark = pytest.mark.docker
LABCTL = [sys.executable, "-m", "labctl"]
STUDENTS = 3


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true and the swarm test cannot run: {reason}", pytrace=False)
    pytest.skip(f"SWARM TEST NOT RUN: {reason} -- bash scripts/swarm-node.sh up; it FAILS in CI")


@pytest.fixture(scope="module")
def swarm(docker_client: docker.DockerClient) -> SwarmBackend:
    backend = SwarmBackend(docker_client)
    try:
        backend.nodes()
    except BackendError as exc:
        _skip_or_fail(exc.one_line())
    return backend


def _labctl(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LABCTL_HOME": str(home),
        "LABCTL_LABS_DIR": str(REPO / "labs"),
        "LABCTL_BACKEND": "swarm",
        "COLUMNS": "250",
    }
    return subprocess.run(
        [*LABCTL, *args],
        env=env,
        cwd=home.parent,  # `grade` writes its score files there
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Class:
    """A session of STUDENTS on tc-replay, its home, roster and instance ids."""

    def __init__(self, folder: Path) -> None:
        tag = uuid.uuid4().hex[:4]
        self.home = folder / "home"
        self.name = f"w{tag}"
        self.students = [f"s{tag}{i}" for i in range(STUDENTS)]
        self.ids = [f"tc-replay-{self.name}-{s}" for s in self.students]
        rows = [f"{s},Student {i},{s}@example.edu" for i, s in enumerate(self.students)]
        self.roster = folder / "class.csv"
        self.roster.write_text("id,name,email\n" + "\n".join(rows) + "\n", encoding="utf-8")

    def start(self) -> subprocess.CompletedProcess[str]:
        return _labctl(
            self.home, "session", "start", "tc-replay", "--roster", str(self.roster),
            "--name", self.name, "--parallel", str(STUDENTS),
        )  # fmt: skip

    def store(self) -> SessionStore:
        return SessionStore(InstanceStore(self.home / "labctl.db"))


@pytest.fixture(scope="module")
def klass(swarm: SwarmBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    made = Class(tmp_path_factory.mktemp("swarm"))
    try:
        started = made.start()
        assert started.returncode == 0, started.stdout + started.stderr
        yield made
    finally:
        _labctl(made.home, "session", "stop", made.name, timeout=300)
        for ident in made.ids:
            swarm.down(ident)


def _usable_nodes(swarm: SwarmBackend) -> list[str]:
    return [n.id for n in swarm.nodes() if n.usable]


def _placed(swarm: SwarmBackend, ids: list[str]) -> dict[str, str]:
    """Instance → the node its hosts run on."""
    return {ident: swarm.instance_node(ident) for ident in ids}


def test_the_class_is_spread_over_the_nodes(swarm: SwarmBackend, klass: Class) -> None:
    placed = _placed(swarm, klass.ids)
    nodes = _usable_nodes(swarm)
    assert set(placed.values()) == set(nodes)  # STUDENTS >= the nodes of this test's swarm
    for ident in klass.ids:
        assert {s.health for s in swarm.status(ident)} == {"healthy"}, swarm.status(ident)
    listed = {n.id: n.instances for n in swarm.nodes()}
    for ident, node in placed.items():
        assert ident in listed[node]


def test_hosts_are_confined(swarm: SwarmBackend, klass: Class) -> None:
    for ident in klass.ids:
        spacecraft = swarm.task_container(ident, "spacecraft").attrs["HostConfig"]
        assert spacecraft["CapDrop"] == ["ALL"]
        assert not spacecraft.get("CapAdd")
        assert spacecraft["ReadonlyRootfs"] is True
        assert spacecraft["Privileged"] is False
        assert spacecraft["Memory"] == 160 << 20
        assert spacecraft["NanoCpus"] == 500_000_000
        assert spacecraft["PidsLimit"] == 64
        assert spacecraft["LogConfig"]["Config"] == {"max-size": "1m", "max-file": "3"}
        attacker = swarm.task_container(ident, "attacker").attrs
        # Only the instance's own internal overlays: no bridge to the machine (no
        # docker_gwbridge, which a task joins only with a network that has a way out).
        networks = attacker["NetworkSettings"]["Networks"]
        assert sorted(networks) == sorted(
            f"labctl-{ident}-{n}" for n in ("corp", "link-attacker", "rf")
        ), networks
        whoami = swarm.exec(ident, "spacecraft", ["id", "-u"], user="labctl")
        assert whoami.output.split() == ["10001"]
        # no new privileges in the program and what it starts (the docker backend's
        # no-new-privileges; the workstation's profile keeps sudo working without it)
        assert _no_new_privs(swarm, ident, "spacecraft") == "1"
        assert _no_new_privs(swarm, ident, "attacker") == "0"


def _no_new_privs(swarm: SwarmBackend, ident: str, host: str) -> str:
    status = swarm.exec(ident, host, ["cat", "/proc/1/status"], user="root").output
    return next(line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs"))


def test_files_are_kept_and_come_back_after_a_restart(swarm: SwarmBackend, klass: Class) -> None:
    ident = klass.ids[-1]
    note = f"kept {uuid.uuid4().hex}\n".encode()
    swarm.copy_to(ident, "ground-station", {"/etc/labctl/swarm-note": FileSpec(note, 0o640, 0, 0)})
    before = swarm.task_container(ident, "ground-station").id
    restarted = swarm.restart(ident, "ground-station")
    assert restarted.health == "healthy"
    assert swarm.task_container(ident, "ground-station").id != before  # a new container
    found = swarm.read_file(ident, "ground-station", "/etc/labctl/swarm-note")
    assert found is not None
    assert found[0] == note
    assert (found[1].mode, found[1].uid) == (0o640, 0)


def _networks_of(swarm: SwarmBackend, ident: str, host: str) -> set[str]:
    container = swarm.task_container(ident, host)
    container.reload()
    prefix = f"labctl-{ident}-"
    return {n.removeprefix(prefix) for n in container.attrs["NetworkSettings"]["Networks"]}


def test_a_connect_survives_a_restart_and_a_disconnect_too(
    swarm: SwarmBackend, klass: Class
) -> None:
    """A scenario's connect or disconnect acts on the running container at once (no new
    task), and a new container of the host after a restart is wired the same way."""
    ident = klass.ids[-1]
    assert _networks_of(swarm, ident, "spacecraft") == {"rf"}
    before = swarm.task_container(ident, "spacecraft").id
    try:
        assert swarm.connect(ident, "spacecraft", "corp") is True
        assert swarm.task_container(ident, "spacecraft").id == before  # no new task
        assert _networks_of(swarm, ident, "spacecraft") == {"rf", "corp"}
        swarm.restart(ident, "spacecraft")
        assert swarm.task_container(ident, "spacecraft").id != before
        assert _networks_of(swarm, ident, "spacecraft") == {"rf", "corp"}

        assert swarm.disconnect(ident, "spacecraft", "rf") is True
        swarm.restart(ident, "spacecraft")
        assert _networks_of(swarm, ident, "spacecraft") == {"corp"}
    finally:
        swarm.connect(ident, "spacecraft", "rf")
        swarm.disconnect(ident, "spacecraft", "corp")
    restarted = swarm.restart(ident, "spacecraft")
    assert _networks_of(swarm, ident, "spacecraft") == {"rf"}
    assert restarted.health == "healthy"


def test_an_idle_stop_frees_the_node_and_resume_brings_back_home_and_files(
    swarm: SwarmBackend, klass: Class
) -> None:
    """`labctl suspend` (what an idle period does) scales every host to nothing: no
    container of the instance runs on its node, and `labctl status` says stopped.
    `labctl resume` brings every host back on the same node, ready, with the student's
    home and the files labctl wrote."""
    ident = klass.ids[0]
    node = swarm.instance_node(ident)
    engine = swarm.engines.of(node)
    note = f"field notes {uuid.uuid4().hex}"
    workstation = swarm.task_container(ident, "attacker")
    code, _ = workstation.exec_run(
        ["sh", "-c", f"echo '{note}' > /home/student/notes.txt"], user="student"
    )
    assert code == 0
    planned = swarm.read_file(ident, "spacecraft", "/etc/labctl/spacecraft.yaml")
    assert planned is not None

    suspended = _labctl(klass.home, "suspend", ident)
    assert suspended.returncode == 0, suspended.stdout + suspended.stderr
    selector = {"label": f"{INSTANCE_LABEL}={ident}", "status": "running"}
    assert engine.containers.list(filters=selector) == []
    assert {s.state for s in swarm.status(ident)} == {"exited"}
    shown = _labctl(klass.home, "status", ident)
    assert "stopped" in shown.stdout, shown.stdout

    resumed = _labctl(klass.home, "resume", ident)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert swarm.instance_node(ident) == node
    assert {s.health for s in swarm.status(ident)} == {"healthy"}
    code, output = swarm.task_container(ident, "attacker").exec_run(
        ["cat", "/home/student/notes.txt"], user="student"
    )
    assert (code, output.decode().strip()) == (0, note)
    again = swarm.read_file(ident, "spacecraft", "/etc/labctl/spacecraft.yaml")
    assert again is not None
    assert again[0] == planned[0]


def test_grading_works_on_every_node(klass: Class) -> None:
    for ident in klass.ids:
        graded = _labctl(klass.home, "grade", ident, timeout=600)
        assert graded.returncode == 0, graded.stdout + graded.stderr
        assert "operator sent PING; the spacecraft reported completion" in graded.stdout


#: As the student on the attacker: connect to each address and port; print what opened.
PROBE = textwrap.dedent(
    """
    import socket, sys
    opened = []
    for target in sys.argv[1:]:
        host, port = target.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1.5).close()
            opened.append(target)
        except OSError:
            pass
    print(" ".join(opened))
    """
)


def _targets(swarm: SwarmBackend, ident: str) -> list[str]:
    addresses = {
        address
        for status in swarm.status(ident)
        if status.host != "labctl-gateway"
        for address in status.addresses.values()
        if address
    }
    return sorted(f"{a}:{p}" for a in addresses for p in (22, 8080))


def test_no_student_reaches_another_on_either_node(swarm: SwarmBackend, klass: Class) -> None:
    targets = {ident: _targets(swarm, ident) for ident in klass.ids}
    for ident in klass.ids:
        others = [t for other in klass.ids if other != ident for t in targets[other]]
        probe = swarm.exec(ident, "attacker", ["python3", "-c", PROBE, *others], user="student")
        assert probe.exit_code == 0, probe.output
        assert probe.output.split() == [], f"{ident} reached {probe.output}"
        own = swarm.exec(
            ident, "attacker", ["python3", "-c", PROBE, "mission-control:8080"], user="student"
        )
        assert own.output.split() == ["mission-control:8080"], own.output  # the control


def _addresses(swarm: SwarmBackend, ident: str) -> dict[str, set[str]]:
    """Network (short name) → the instance's hosts' addresses on it."""
    found: dict[str, set[str]] = {}
    for status in swarm.status(ident):
        for network, address in status.addresses.items():
            found.setdefault(network, set()).add(address)
    return found


def _neighbours(swarm: SwarmBackend, ident: str) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """What answers raw ARP and ICMPv6 on each of the workstation's overlays (network →
    {"from", "arp", "v6"}), and what may: each overlay's endpoints on every node (the
    instance's hosts, each node's load-balancer endpoint) and its gateway."""
    engine = swarm.engines.of(swarm.instance_node(ident))
    engines = [swarm.engines.of(n.id) for n in swarm.nodes() if n.usable]
    mine = {n: a for n, a in _addresses(swarm, ident).items() if a}
    attacker = swarm.task_container(ident, "attacker")
    attacker.reload()
    specs, allowed, names = [], {}, {}
    for full, endpoint in attacker.attrs["NetworkSettings"]["Networks"].items():
        network = full.removeprefix(f"labctl-{ident}-")
        attrs = engine.networks.get(full).attrs
        [ipam] = attrs["IPAM"]["Config"]
        specs.append(f"{endpoint['IPAddress']},{ipam['Subnet']}")
        names[endpoint["IPAddress"]] = network
        endpoints = {ipam["Gateway"]}  # an overlay spans nodes: its endpoints on each
        for node in engines:
            with contextlib.suppress(docker.errors.NotFound):
                listed = node.networks.get(full).attrs.get("Containers") or {}
                endpoints |= {c["IPv4Address"].split("/")[0] for c in listed.values()}
        allowed[network] = endpoints | mine.get(network, set())
    found = swarm.exec(ident, "attacker", ["python3", "-c", NEIGHBOURS, *specs], user="root")
    assert found.exit_code == 0, found.output
    answers = json.loads(found.output.strip().splitlines()[-1])
    return {names[a]: {"from": a, **v} for a, v in answers.items()}, allowed


def test_raw_frames_from_a_workstation_meet_only_its_own_overlays(
    swarm: SwarmBackend, klass: Class
) -> None:
    """The docker backend's raw-frame campaign (tests/security/test_host_reachability.py,
    test_cross_student.py) on the swarm, from every student's workstation as root with
    NET_RAW, on both nodes.

    - Who answers: raw ARP to every address of each of its overlays' subnets and an
      ICMPv6 echo to all nodes. Only that overlay's own endpoints answer (the instance's
      hosts, the overlay's gateway and the node's load-balancer endpoint, both in the
      overlay's own namespaces), never another student's host; nothing answers IPv6.
      The control: every one of the instance's own hosts on the overlay answers.
    - The machine: from the workstation on labctl's own node, where this test runs,
      listeners here (TCP on [::], UDP on 0.0.0.0) hear nothing of a raw IPv6 handshake
      to the link-local address of every answering endpoint that is not a host, nor of
      UDP routed through each overlay to the machine's own addresses."""
    others = {ident: _addresses(swarm, ident) for ident in klass.ids}
    on_this_node = [i for i in klass.ids if swarm.instance_node(i) == swarm.engines.manager_id]
    for ident in klass.ids:
        answers, allowed = _neighbours(swarm, ident)
        theirs = {a for i, nets in others.items() if i != ident for s in nets.values() for a in s}
        for network, heard in answers.items():
            arp = {ip for ip, _ in heard["arp"]}
            assert arp <= allowed[network], (ident, network, arp - allowed[network])
            assert not arp & theirs, (ident, network, arp & theirs)
            assert others[ident][network] - {heard["from"]} <= arp, (ident, network, heard)
            assert heard["v6"] == [], (ident, network, heard["v6"])
    if not on_this_node:
        _skip_or_fail("no instance on labctl's own node to aim at this machine from")
    ident = on_this_node[0]
    answers, _ = _neighbours(swarm, ident)
    hosts = others[ident]
    machine = sorted(filter(None, map(ipv4_of, ("docker_gwbridge", "labctl-swarm0", "docker0"))))
    assert machine, "no address of this machine to aim at"
    with host_listeners() as listeners:
        for network, heard in answers.items():
            for ip, mac in heard["arp"]:
                if ip in hosts[network]:
                    continue
                argv = [heard["from"], mac, eui64_link_local(mac), str(listeners.tcp_port)]
                shaken = swarm.exec(
                    ident, "attacker", ["python3", "-c", RAW_IPV6_HANDSHAKE, *argv], user="root"
                )
                assert shaken.exit_code == 0, shaken.output
                answer = json.loads(shaken.output.strip().splitlines()[-1])
                assert not answer["synack"], (network, ip, answer)
            for target in machine:
                argv = ["probe", heard["from"], target, str(listeners.udp_port)]
                routed = swarm.exec(
                    ident, "attacker", ["sh", "-c", ROUTED_IPV4_UDP, *argv], user="root"
                )
                assert routed.exit_code == 0, routed.output
        time.sleep(1.0)
    assert listeners.tcp_accepted == []
    assert listeners.udp_received == []


def _set_availability(swarm: SwarmBackend, node_id: str, availability: str) -> None:
    api: Any = api_of(swarm.client)
    node = api.inspect_node(node_id)
    spec = {**node["Spec"], "Availability": availability}
    api.update_node(node_id, node["Version"]["Index"], spec)


def test_a_drained_node_is_repaired_elsewhere(swarm: SwarmBackend, klass: Class) -> None:
    placed = _placed(swarm, klass.ids)
    workers = sorted(set(placed.values()) - {swarm.engines.manager_id})
    if not workers:
        _skip_or_fail("one node only: bash scripts/swarm-node.sh up joins a second")
    drained = workers[0]
    moved = sorted(i for i, node in placed.items() if node == drained)
    store = klass.store()
    passwords = {i: store.instances.get(i).access for i in moved}  # type: ignore[union-attr]
    _set_availability(swarm, drained, "drain")
    try:
        started = klass.start()
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"{len(moved)} repaired, 0 failed" in started.stdout, started.stdout
        now = _placed(swarm, klass.ids)
        assert drained not in now.values()
        for ident in moved:
            assert {s.health for s in swarm.status(ident)} == {"healthy"}
            assert store.instances.get(ident).access == passwords[ident]  # type: ignore[union-attr]
    finally:
        _set_availability(swarm, drained, "active")


def test_stop_leaves_nothing_on_any_node(swarm: SwarmBackend, klass: Class) -> None:
    stopped = _labctl(klass.home, "session", "stop", klass.name, timeout=300)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    api: Any = api_of(swarm.client)
    left = []
    for ident in klass.ids:
        selector = {"label": f"{INSTANCE_LABEL}={ident}"}
        left += [s["Spec"]["Name"] for s in api.services(filters=selector)]
        left += [c["Spec"]["Name"] for c in api.configs(filters=selector)]
        left += [str(n.name) for n in swarm.client.networks.list(filters=selector)]
        for node in swarm.nodes():
            if not node.usable:
                continue
            engine = swarm.engines.of(node.id)
            left += [str(c.name) for c in engine.containers.list(all=True, filters=selector)]
            left += [str(v.name) for v in engine.volumes.list(filters=selector)]
    assert left == []
