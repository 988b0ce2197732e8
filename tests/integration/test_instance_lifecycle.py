"""Whole instances of labs/tc-replay on the real engine: up, isolation, radio, rollback, down.

Images are built once per session (a no-op when they are current). Two instances run side
by side for the module; every test's instances carry a per-run student name, and teardown
removes them and proves that nothing carrying their instance label is left. All probes stay
inside the instances' own networks (and the host's loopback for published ports).

``LABCTL_TEST_STUB_HOSTS=mission-control,...`` replaces those hosts' programs with a stub
that answers their health check: only for developing the backend while a host program
cannot start; CI runs the real programs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import paramiko
import pytest
import typer
from docker.models.containers import Container

from labctl.backends.base import GATEWAY_HOST, INSTANCE_LABEL, READY_LABEL, FileSpec, InstancePlan
from labctl.backends.docker import DockerBackend
from labctl.backends.docker.images import build_images
from labctl.backends.docker.readiness import ready_here
from labctl.errors import BackendError
from labctl.instances import InstanceRecord, Instances, InstanceStore, lifecycle
from labctl.spec import LoadedLab, load_lab

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
HOSTS = {"spacecraft", "rf-link", "ground-station", "mission-control", "attacker", GATEWAY_HOST}
_HTTP_STUB = (
    "import http.server as h\n"
    "class H(h.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')\n"
    "h.HTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"
)
STUBS = {"mission-control": ("python", "-c", _HTTP_STUB)}


def _stubbed(plan: InstancePlan) -> InstancePlan:
    wanted = {h for h in os.environ.get("LABCTL_TEST_STUB_HOSTS", "").split(",") if h}
    hosts = tuple(
        dataclasses.replace(h, command=STUBS[h.role]) if h.name in wanted else h for h in plan.hosts
    )
    return dataclasses.replace(plan, hosts=hosts)


@pytest.fixture(scope="session")
def lab_images(docker_client: docker.DockerClient) -> None:
    started = time.monotonic()
    build_images(docker_client)
    print(f"\nimages ready in {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module")
def replay_lab() -> LoadedLab:
    return load_lab(REPO / "labs" / "tc-replay")


@pytest.fixture(scope="module")
def manager(
    docker_client: docker.DockerClient,
    lab_images: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Instances]:
    store = InstanceStore(tmp_path_factory.mktemp("state") / "labctl.db")
    instances = Instances(DockerBackend(docker_client), store)
    original = lifecycle.plan_instance
    lifecycle.plan_instance = lambda *a, **k: _stubbed(original(*a, **k))  # type: ignore[assignment]
    yield instances
    lifecycle.plan_instance = original
    # Only this run's instances: the engine may be shared with other people's.
    for ident in instances.ids():
        if ident.startswith(f"tc-replay-{RUN}"):
            instances.down(ident)


RUN = f"it{uuid.uuid4().hex[:4]}"


def student() -> str:
    return f"{RUN}{uuid.uuid4().hex[:6]}"


def leftovers(client: docker.DockerClient, ident: str) -> list[str]:
    selector: dict[str, str | list[str] | bool] = {"label": f"{INSTANCE_LABEL}={ident}"}
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=selector)),
        *(f"network {n.name}" for n in client.networks.list(filters=selector)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=selector)),
    ]


@pytest.fixture(scope="module")
def pair(
    manager: Instances, replay_lab: LoadedLab, docker_client: docker.DockerClient
) -> Iterator[tuple[InstanceRecord, InstanceRecord]]:
    """Two instances side by side; removed (and checked gone) at the end of the module."""
    first = manager.up(replay_lab, student())
    try:
        second = manager.up(replay_lab, student())
    except BaseException:
        manager.down(first.id)
        raise
    yield first, second
    for record in (first, second):
        manager.down(record.id)
        assert leftovers(docker_client, record.id) == []


def container(client: docker.DockerClient, ident: str, host: str) -> Container:
    return client.containers.get(f"labctl-{ident}-{host}")


def run(target: Container, *argv: str, user: str = "root") -> tuple[int, str]:
    exit_code, output = target.exec_run(list(argv), user=user)
    return int(exit_code if exit_code is not None else -1), output.decode(errors="replace")


def address(target: Container, network: str) -> str:
    target.reload()
    networks = target.attrs["NetworkSettings"]["Networks"]
    return str(networks[next(n for n in networks if n.endswith(f"-{network}"))]["IPAddress"])


def tcp_probe(source: Container, host: str, port: int, seconds: int = 3) -> tuple[int, str]:
    script = f"exec 3<>/dev/tcp/{host}/{port} && echo connected"
    return run(source, "timeout", str(seconds), "bash", "-c", script)


# --- the tests ----------------------------------------------------------------------------


def test_every_host_is_up_with_its_health_check_passing(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    for host in HOSTS:
        target = container(docker_client, first.id, host)
        assert target.status == "running", host
        # The engine runs no health check; labctl keeps the image's test in a label and
        # answers it from /proc: the same answer as the test run in the container.
        assert target.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]
        test = json.loads(target.labels[READY_LABEL])
        assert test[0] == "labctl-listening", host
        assert run(target, *test)[0] == 0, f"{host}: readiness test fails"
        pid = int(target.attrs["State"]["Pid"])
        assert ready_here(pid, target.id, test) is True, host
        closed = ["labctl-listening", "tcp", "1"]
        assert run(target, *closed)[0] != 0
        assert ready_here(pid, target.id, closed) is False, host
        assert target.attrs["RestartCount"] == 0, f"{host} restarted"


def test_published_ports_are_on_loopback_and_the_student_can_log_in(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    gateway = container(docker_client, first.id, GATEWAY_HOST)
    published = gateway.attrs["NetworkSettings"]["Ports"]
    assert {b["HostIp"] for bindings in published.values() for b in bindings} == {"127.0.0.1"}
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1",
        port=first.ports["attacker"]["22/tcp"],
        username="student",
        password=first.access["password"],
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        _, stdout, _ = client.exec_command(
            "id -un; python3 -c 'from labctl.protocols.layers import *; print(\"layers\")'"
        )
        assert stdout.read().decode().split() == ["student", "layers"]
    finally:
        client.close()


def test_services_run_without_capabilities_on_a_read_only_root(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    for host in ("spacecraft", "rf-link", GATEWAY_HOST):
        target = container(docker_client, first.id, host)
        assert target.attrs["HostConfig"]["ReadonlyRootfs"] is True
        _, status = run(target, "cat", "/proc/1/status")
        assert "CapEff:\t0000000000000000" in status, host
        assert run(target, "touch", "/usr/written")[0] != 0, host
        assert "Uid:\t10001\t" in status, f"{host} does not run as the labctl user"


def test_mission_control_serves_as_labctl_without_capabilities(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    """Mission control's container runs sshd for operations engineers (as root, PID 1 is
    tini), but the server itself runs as labctl with no effective capability."""
    first, _ = pair
    target = container(docker_client, first.id, "mission-control")
    server = "labctl.range.hosts.missioncontrol --config"
    code, pid = run(target, "pgrep", "-u", "labctl", "-f", server)
    assert code == 0, pid
    _, status = run(target, "cat", f"/proc/{pid.strip()}/status")
    assert "CapEff:\t0000000000000000" in status
    assert "Uid:\t10001\t" in status


def test_instances_cannot_reach_each_other(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, second = pair
    attacker = container(docker_client, first.id, "attacker")
    own = address(container(docker_client, first.id, "mission-control"), "corp")
    other = address(container(docker_client, second.id, "mission-control"), "corp")
    # Control: the same probe reaches the instance's own mission control.
    assert tcp_probe(attacker, own, 8080, seconds=10) == (0, "connected\n")
    exit_code, output = tcp_probe(attacker, other, 8080)
    assert exit_code != 0, f"reached the other instance's mission control: {output}"


def test_lab_networks_hold_no_host_address(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    rf = docker_client.networks.get(f"labctl-{first.id}-rf")
    gateway = rf.attrs["IPAM"]["Config"][0]["Gateway"]
    # From the spacecraft (on rf only): its one way out would be that address.
    source = container(docker_client, first.id, "spacecraft")
    exit_code, output = tcp_probe(source, gateway, 22, seconds=15)
    assert exit_code != 0
    # "Connection refused" would mean the host answered on the bridge address.
    assert "No route to host" in output, output


def test_the_attacker_hears_the_downlink_on_rf(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    listen = (
        "import socket\n"
        "from labctl.protocols.tm_frame import TmFrame\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('0.0.0.0', 5103)); s.settimeout(30)\n"
        "data, sender = s.recvfrom(4096)\n"
        "print(TmFrame.decode(data).scid, sender[1])\n"
    )
    exit_code, output = run(container(docker_client, first.id, "attacker"), "python3", "-c", listen)
    assert exit_code == 0, output
    scid, source_port = output.split()
    assert int(scid) > 0
    assert source_port == "5102"  # put on the air by the rf-link


def test_nmap_from_the_attacker_finds_mission_control_on_corp(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    attacker = container(docker_client, first.id, "attacker")
    exit_code, output = run(attacker, "nmap", "-Pn", "-sT", "-p", "8080", "mission-control")
    assert exit_code == 0, output
    assert "8080/tcp open" in output
    corp = address(container(docker_client, first.id, "mission-control"), "corp")
    assert corp in output


def test_no_student_host_can_reach_the_host_machine(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    """The access network's bridge address is the host's; only the gateway is on it."""
    first, _ = pair
    access = docker_client.networks.get(f"labctl-{first.id}-access")
    host_address = access.attrs["IPAM"]["Config"][0]["Gateway"]
    attacker = container(docker_client, first.id, "attacker")
    assert set(attacker.attrs["NetworkSettings"]["Networks"]) == {
        f"labctl-{first.id}-{name}" for name in ("corp", "rf", "link-attacker")
    }
    ready = threading.Event()
    accepted: list[str] = []
    thread = threading.Thread(target=_listen_once, args=(ready, accepted), daemon=True)
    thread.start()
    assert ready.wait(5)
    exit_code, output = tcp_probe(attacker, host_address, LISTEN_PORT)
    thread.join(8)
    assert exit_code != 0, output
    assert accepted == []


def test_the_gateway_listens_only_on_the_access_network(
    pair: tuple[InstanceRecord, InstanceRecord], docker_client: docker.DockerClient
) -> None:
    first, _ = pair
    gateway = container(docker_client, first.id, GATEWAY_HOST)
    on_link = address(gateway, "link-attacker")
    attacker = container(docker_client, first.id, "attacker")
    exit_code, output = tcp_probe(attacker, on_link, 10002)  # relays to mission control
    assert exit_code != 0
    assert "Connection refused" in output, output


LISTEN_PORT = 47999


def _listen_once(ready: threading.Event, accepted: list[str]) -> None:
    """A throw-away listener on the host's 0.0.0.0, as any host service might be."""
    import socket

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", LISTEN_PORT))
        server.listen(1)
        server.settimeout(5)
        ready.set()
        try:
            connection, peer = server.accept()
        except OSError:
            return
        connection.close()
        accepted.append(peer[0])


def test_down_leaves_nothing_with_the_instance_label(
    manager: Instances, replay_lab: LoadedLab, docker_client: docker.DockerClient
) -> None:
    started = time.monotonic()
    record = manager.up(replay_lab, student())
    up_s = time.monotonic() - started
    assert leftovers(docker_client, record.id) != []
    started = time.monotonic()
    report = manager.down(record.id)
    print(f"\nwarm up {up_s:.1f} s, down {time.monotonic() - started:.1f} s")
    assert (report.containers, report.networks) == (6, 6)  # + gateway; + access, 2 links
    # /etc/labctl, /var/lib/labctl, /var/log/labctl of 3 services; the attacker's home seed
    assert report.volumes == 10
    assert leftovers(docker_client, record.id) == []
    assert manager.store.get(record.id) is None


def test_a_failure_midway_through_up_rolls_back_everything(
    manager: Instances,
    replay_lab: LoadedLab,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = student()
    ident = f"tc-replay-{name}"
    real_start: Callable[..., None] = Container.start

    def start(self: Container, **kwargs: object) -> None:
        if self.name == f"labctl-{ident}-ground-station":
            raise BackendError("start container", "injected failure")
        real_start(self, **kwargs)

    monkeypatch.setattr(Container, "start", start)
    with pytest.raises(BackendError, match="injected failure"):
        manager.up(replay_lab, name)
    assert leftovers(docker_client, ident) == []
    assert manager.store.get(ident) is None


def test_ground_truth_and_files_go_through_the_engine(
    pair: tuple[InstanceRecord, InstanceRecord], manager: Instances
) -> None:
    first, _ = pair
    backend = manager.backend
    # The spacecraft's ground truth is on a tmpfs: exec reads it, the archive API cannot.
    truth = backend.exec(first.id, "spacecraft", ["cat", "/run/labctl/truth.json"])
    assert truth.exit_code == 0, truth.output
    assert truth.output.lstrip().startswith("{")
    config = backend.copy_from(first.id, "spacecraft", "/etc/labctl/spacecraft.yaml")
    assert b"scid" in config
    backend.copy_to(
        first.id, "spacecraft", {"/etc/labctl/inject-probe.txt": FileSpec(b"probe\n", 0o640)}
    )
    listing = backend.exec(
        first.id, "spacecraft", ["stat", "-c", "%a %s", "/etc/labctl/inject-probe.txt"]
    )
    assert listing.output.split() == ["640", "6"]
    key = backend.exec(
        first.id, "ground-station", ["stat", "-c", "%a %U", "/etc/labctl/keys/uplink.key"]
    )
    assert key.output.split() == ["600", "labctl"]


def test_the_cli_shows_status_and_logs_and_opens_shells(
    pair: tuple[InstanceRecord, InstanceRecord],
    manager: Instances,
) -> None:
    from typer.testing import CliRunner

    from labctl.cli import instances as cli
    from labctl.cli.context import Environment

    first, second = pair
    app = typer.Typer()
    app.command("status")(cli.status)
    app.command("logs")(cli.logs)
    app.command("shell")(cli.shell)
    env = {"LABCTL_HOME": str(manager.store.path.parent), "COLUMNS": "200"}
    runner = CliRunner()
    status = runner.invoke(app, ["status"], env=env)
    assert status.exit_code == 0, status.output
    assert first.id in status.stdout
    assert second.id in status.stdout
    logs = runner.invoke(app, ["logs", first.id, "rf-link"], env=env)
    assert "rf-link" in logs.stdout
    calls: list[list[str]] = []
    runner.invoke(app, ["shell", first.id], env=env, obj=Environment(exec_program=calls.append))
    assert calls == [
        [
            "docker",
            "exec",
            "-it",
            "--user",
            "student",
            "--workdir",
            "/home/student",
            f"labctl-{first.id}-attacker",
            "bash",
            "-l",
        ]
    ]


def test_ground_station_sshd_serves_an_operator_account_created_later(
    pair: tuple[InstanceRecord, InstanceRecord], manager: Instances
) -> None:
    first, _ = pair
    backend = manager.backend
    for argv in (["useradd", "--create-home", "op1"], ["sh", "-c", "echo op1:s3cret | chpasswd"]):
        result = backend.exec(first.id, "ground-station", argv)
        assert result.exit_code == 0, result.output
    login = (
        "import paramiko\n"
        "c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n"
        "c.connect('ground-station', username='op1', password='s3cret', timeout=10,\n"
        "          look_for_keys=False, allow_agent=False)\n"
        "channel = c.get_transport().open_session(); channel.get_pty()\n"
        "channel.exec_command('id -un; tty'); print(channel.makefile().read().decode())\n"
    )
    # The attacker is on rf with the ground station in tc-replay.
    result = backend.exec(first.id, "attacker", ["python3", "-c", login], user="student")
    assert result.exit_code == 0, result.output
    user, terminal = result.output.split()[:2]
    assert user == "op1"
    assert terminal.startswith("/dev/pts/")
