"""The docker backend on an in-process fake SDK: what it creates, and that failures roll back."""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import json
import tarfile
import unittest.mock

import pytest
from backend_fakes import FakeClient, FakeContainer, small_plan

from labctl.backends.base import (
    ACCESS_NETWORK,
    FORWARDS_LABEL,
    INSTANCE_LABEL,
    READY_LABEL,
    FileSpec,
    FileStat,
    HostPlan,
    InstancePlan,
)
from labctl.backends.docker import DockerBackend
from labctl.backends.docker.files import by_mount
from labctl.backends.docker.files import put_files as _put_files
from labctl.backends.docker.networks import ACCESS_NETWORK_OPTIONS, LAB_NETWORK_OPTIONS
from labctl.backends.docker.status import host_status as _host_status
from labctl.backends.docker.status import uptime as _uptime
from labctl.backends.profiles import profile
from labctl.errors import BackendError, NotFoundError


def names(objects: list[object]) -> set[str]:
    return {str(getattr(o, "name", "")) for o in objects}


def test_up_creates_labelled_networks_with_the_isolation_options(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    networks = {n.name: n for n in fake_client.networks.objects}
    assert set(networks) == {
        "labctl-lab-ana-access",
        "labctl-lab-ana-ground",
        "labctl-lab-ana-rf",
    }
    access = networks.pop("labctl-lab-ana-access")
    assert not access.internal
    assert access.options == ACCESS_NETWORK_OPTIONS
    assert access.options["com.docker.network.bridge.host_binding_ipv4"] == "127.0.0.1"
    for network in networks.values():
        assert network.internal
        assert network.options == LAB_NETWORK_OPTIONS
    assert all(n.labels[INSTANCE_LABEL] == "lab-ana" for n in fake_client.networks.objects)


def test_every_network_gets_its_own_block_of_the_pool_with_a_named_gateway(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    subnets = [ipaddress.ip_network(n.subnet) for n in fake_client.networks.objects]
    assert all(
        s.prefixlen == 27 and s.subnet_of(ipaddress.ip_network("10.213.0.0/16")) for s in subnets
    )
    assert len(set(subnets)) == len(subnets)
    for network in fake_client.networks.objects:
        assert network.gateway == str(ipaddress.ip_network(network.subnet).network_address + 1)


def test_containers_are_confined(backend: DockerBackend, fake_client: FakeClient) -> None:
    backend.up(small_plan())
    by_host = {c.labels["org.labctl.host"]: c for c in fake_client.containers.objects}
    for container in by_host.values():
        assert container.options["cap_drop"] == ["ALL"]
        assert container.options["privileged"] is False
        assert container.options["restart_policy"] == {"Name": "unless-stopped"}
        assert container.options["hostname"] == container.labels["org.labctl.host"]
        assert "/var/run/docker.sock" not in str(container.options["volumes"])
    spacecraft = by_host["spacecraft"].options
    assert spacecraft["cap_add"] == []
    assert spacecraft["read_only"] is True
    assert spacecraft["security_opt"] == ["no-new-privileges:true"]
    assert spacecraft["mem_limit"] == "128m"
    assert spacecraft["nano_cpus"] == 500_000_000
    assert spacecraft["pids_limit"] == 64
    assert spacecraft["volumes"] == {
        "labctl-lab-ana-spacecraft-etc-labctl": {"bind": "/etc/labctl", "mode": "rw"}
    }
    assert by_host["ground-station"].options["cap_add"] == ["NET_ADMIN"]
    assert by_host["attacker"].options["security_opt"] == []


def test_only_publishing_hosts_join_the_access_network_and_bind_loopback(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    by_host = {c.labels["org.labctl.host"]: c for c in fake_client.containers.objects}
    attacker = by_host["attacker"]
    # Created on the access network first, so the engine binds the published port there.
    assert attacker.networks[0] == "labctl-lab-ana-access"
    assert attacker.options["ports"] == {"22/tcp": ("127.0.0.1", None)}
    assert attacker.options["networking_config"] == {"labctl-lab-ana-access": {"Aliases": []}}
    for host in ("spacecraft", "ground-station"):
        assert "labctl-lab-ana-access" not in by_host[host].networks
        assert by_host[host].options["ports"] == {}


def test_every_lab_network_carries_the_host_name_as_alias(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    rf = next(n for n in fake_client.networks.objects if n.name == "labctl-lab-ana-rf")
    ground_station = next(
        c for c in fake_client.containers.objects if c.labels["org.labctl.host"] == "ground-station"
    )
    assert ground_station.options["networking_config"] == {
        "labctl-lab-ana-ground": {"Aliases": ["ground-station"]}
    }
    assert (ground_station.name, ["ground-station"]) in rf.connected


def test_files_are_written_before_start_into_their_deepest_common_directory(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    starts: list[str] = []
    fake_client.on_start = lambda container: starts.append(container.name)
    backend.up(small_plan())
    spacecraft = next(c for c in fake_client.containers.objects if "spacecraft" in c.name)
    [(destination, data)] = spacecraft.archives
    assert destination == "/etc/labctl"  # a volume: extraction into "/" of a read-only root fails
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["keys"].isdir()
    assert members["keys"].mode == 0o700
    assert members["keys/a.key"].mode == 0o600


def test_before_start_runs_once_created_with_the_files_and_before_any_start(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    starts: list[str] = []
    fake_client.on_start = lambda container: starts.append(container.name)
    seen: list[object] = []

    def before_start(plan: InstancePlan) -> None:
        seen.append(len(starts))
        seen.append(backend.stat(plan.instance_id, "spacecraft", "/etc/labctl/keys/a.key"))
        seen.append(backend.stat(plan.instance_id, "spacecraft", "/etc/labctl/none.yaml"))
        backend.copy_to(plan.instance_id, "spacecraft", {"/etc/labctl/x.yaml": FileSpec(b"x: 1")})
        seen.append(backend.copy_from(plan.instance_id, "spacecraft", "/etc/labctl/x.yaml"))
        seen.append(backend.read_file(plan.instance_id, "spacecraft", "/etc/labctl/keys/a.key"))
        seen.append(backend.read_file(plan.instance_id, "spacecraft", "/etc/labctl/none.yaml"))

    backend.up(small_plan(), before_start=before_start)
    key = small_plan().host("spacecraft").files["/etc/labctl/keys/a.key"]
    meta = FileStat(0o600, key.uid, key.gid)
    assert seen == [0, meta, None, b"x: 1", (b"00", meta), None]
    assert len(starts) == 3


@pytest.mark.parametrize("failure", [BackendError("inject", "boom"), KeyboardInterrupt()])
def test_a_failing_before_start_rolls_back_everything(
    backend: DockerBackend, fake_client: FakeClient, failure: BaseException
) -> None:
    starts: list[str] = []
    fake_client.on_start = lambda container: starts.append(container.name)

    def before_start(plan: InstancePlan) -> None:
        raise failure

    with pytest.raises(type(failure)):
        backend.up(small_plan(), before_start=before_start)
    assert starts == []
    assert fake_client.everything() == []


def test_put_files_rejects_relative_paths() -> None:
    with pytest.raises(BackendError, match="absolute"):
        _put_files(FakeContainer(FakeClient(), "c", {}, {}), {"etc/x": FileSpec(b"")})


def test_up_waits_for_health_by_running_the_health_check(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    hosts = backend.up(small_plan())
    assert {h.host for h in hosts} == {"spacecraft", "ground-station", "attacker"}
    assert all(argv == ["true"] for _, argv in fake_client.execs)


def test_up_refuses_an_instance_that_exists(backend: DockerBackend) -> None:
    backend.up(small_plan())
    with pytest.raises(BackendError, match="labctl down lab-ana"):
        backend.up(small_plan())


def test_a_failed_create_rolls_back_everything(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    fake_client.fail_create = "attacker"
    with pytest.raises(BackendError, match="create container"):
        backend.up(small_plan())
    assert fake_client.everything() == []
    assert ("network", "labctl-lab-ana-rf") in fake_client.removed


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failed_start_rolls_back_everything(
    backend: DockerBackend, fake_client: FakeClient, failure: BaseException
) -> None:
    def start(container: FakeContainer) -> None:
        if "ground-station" in container.name:
            raise failure

    fake_client.on_start = start
    with pytest.raises(type(failure)):
        backend.up(small_plan())
    assert fake_client.everything() == []
    assert {kind for kind, _ in fake_client.removed} == {"container", "network", "volume"}


def test_a_host_that_never_gets_healthy_rolls_back(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    def start(container: FakeContainer) -> None:
        container.health_exit = 1

    fake_client.on_start = start
    with pytest.raises(BackendError, match="not healthy in time"):
        backend.up(small_plan())
    assert fake_client.everything() == []


def test_a_host_that_exits_fails_fast_with_its_output(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    def start(container: FakeContainer) -> None:
        if "spacecraft" in container.name:
            container.status = "exited"

    fake_client.on_start = start
    with pytest.raises(BackendError, match=r"spacecraft.*exited.*log line"):
        backend.up(small_plan())


def test_down_removes_everything_with_the_instance_label(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    report = backend.down("lab-ana")
    assert (report.containers, report.networks, report.volumes) == (3, 3, 1)
    assert fake_client.everything() == []
    assert backend.instances() == []


def test_exec_and_missing_hosts(backend: DockerBackend) -> None:
    backend.up(small_plan())
    assert backend.exec("lab-ana", "attacker", ["id"]).exit_code == 0
    with pytest.raises(NotFoundError, match="no host named 'mission-control'"):
        backend.exec("lab-ana", "mission-control", ["id"])


def test_status_reads_state_health_ports_and_addresses() -> None:
    attrs = {
        "State": {
            "Status": "running",
            "Running": True,
            "StartedAt": "2026-01-01T00:00:00.123456789Z",
            "Health": {"Status": "healthy"},
        },
        "NetworkSettings": {
            "Ports": {
                "22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "40022"}],
                "8080/tcp": None,
            },
            "Networks": {"labctl-x-corp": {"IPAddress": "10.1.0.5"}},
        },
    }
    status = _host_status(attrs, "attacker", "labctl-x-", "healthy")
    assert (status.state, status.health) == ("running", "healthy")
    assert status.ports == {"22/tcp": 40022}
    assert status.addresses == {"corp": "10.1.0.5"}
    assert status.uptime_s is not None
    assert status.uptime_s > 0


def test_uptime_of_an_unparsable_start_is_unknown() -> None:
    assert _uptime({"StartedAt": "yesterday"}) is None


def test_status_shows_the_gateways_ports_on_the_hosts_it_relays_to(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    plan = small_plan()
    gateway = HostPlan(
        "labctl-gateway",
        "gateway",
        "img/rt",
        (ACCESS_NETWORK,),
        plan.hosts[0].limits,
        published=("10001/tcp",),
        forwards={"10001/tcp": ("attacker", "22/tcp")},
        user="labctl",
    )
    backend.up(dataclasses.replace(plan, hosts=(*plan.hosts, gateway)))
    container = next(c for c in fake_client.containers.objects if "gateway" in c.name)
    assert container.options["user"] == "labctl"
    assert json.loads(container.labels[FORWARDS_LABEL]) == {"10001/tcp": ["attacker", "22/tcp"]}
    container.ports = {"10001/tcp": [{"HostIp": "127.0.0.1", "HostPort": "40001"}]}
    ports = {s.host: s.ports for s in backend.status("lab-ana")}
    assert ports["attacker"] == {"22/tcp": 40001}
    assert ports["labctl-gateway"] == {"10001/tcp": 40001}


def test_the_engine_runs_no_health_checks_labctl_keeps_the_test(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    gateway = HostPlan(
        "labctl-gateway",
        "gateway",
        "img/gw",
        (ACCESS_NETWORK,),
        small_plan().hosts[0].limits,
        healthcheck=("labctl-listening", "tcp", "2222"),
    )
    plan = dataclasses.replace(small_plan(), hosts=(*small_plan().hosts, gateway))
    backend.up(plan)
    by_host = {c.labels["org.labctl.host"]: c for c in fake_client.containers.objects}
    for container in by_host.values():
        assert container.options["healthcheck"] == {"test": ["NONE"]}
    # The image's health check (the fake's images say CMD true), else the plan's.
    assert json.loads(by_host["spacecraft"].labels[READY_LABEL]) == ["true"]
    assert json.loads(by_host["labctl-gateway"].labels[READY_LABEL]) == [
        "labctl-listening",
        "tcp",
        "2222",
    ]


def test_status_asks_each_running_host_its_readiness_now(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    by_host = {c.labels["org.labctl.host"]: c for c in fake_client.containers.objects}
    by_host["ground-station"].health_exit = 1  # started in 2026-01: long past the grace
    by_host["attacker"].status = "exited"
    health = {s.host: s.health for s in backend.status("lab-ana")}
    assert health == {"spacecraft": "healthy", "ground-station": "unhealthy", "attacker": "none"}


def test_a_created_hosts_image_files_are_read_once_per_image_and_path(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    found: list[object] = []

    def before_start(plan: InstancePlan) -> None:
        # Not written by labctl: the image's, the same in every instance of the image.
        found.append(backend.read_file(plan.instance_id, "spacecraft", "/etc/passwd"))
        # Written at creation (the plan's key file): answered from what was written.
        found.append(backend.read_file(plan.instance_id, "spacecraft", "/etc/labctl/keys/a.key"))
        backend.copy_to(plan.instance_id, "spacecraft", {"/etc/motd": FileSpec(b"mine")})
        found.append(backend.read_file(plan.instance_id, "spacecraft", "/etc/motd"))

    backend.up(small_plan(), before_start=before_start)
    backend.up(dataclasses.replace(small_plan(), instance_id="lab-bo"), before_start=before_start)
    reads = [path for _, path in fake_client.archive_reads]
    assert reads.count("/etc/passwd") == 1
    assert reads.count("/etc/labctl/keys/a.key") == 0
    assert reads.count("/etc/motd") == 0
    assert found[3:] == found[:3]
    assert found[1] == (b"00", FileStat(0o600, 0, 0))
    assert found[2] == (b"mine", FileStat(0o644, 0, 0))
    # A running host's files are its own: read every time.
    backend.read_file("lab-ana", "spacecraft", "/etc/passwd")
    backend.read_file("lab-ana", "spacecraft", "/etc/motd")
    reads = [path for _, path in fake_client.archive_reads]
    assert reads.count("/etc/passwd") == 2
    assert reads.count("/etc/motd") == 1


def test_files_go_in_one_archive_per_mount() -> None:
    container = FakeContainer(FakeClient(), "c", {}, {})
    mounts = [{"Destination": "/etc/labctl", "Type": "volume", "Name": "v1", "RW": True}]
    mounts.append({"Destination": "/var/lib/labctl", "Type": "volume", "Name": "v2", "RW": True})
    files = {
        "/etc/labctl/a.yaml": FileSpec(b"a"),
        "/etc/labctl/keys/k.key": FileSpec(b"k", 0o600),
        "/var/lib/labctl/state.json": FileSpec(b"{}"),
        "/etc/labctl-other/x": FileSpec(b"x"),  # a look-alike prefix is not the volume
    }
    with unittest.mock.patch.object(FakeContainer, "attrs", {"Mounts": mounts}):
        groups = by_mount(container, files)  # type: ignore[arg-type]
        _put_files(container, files)  # type: ignore[arg-type]
    assert {mount: sorted(group) for mount, group in groups.items()} == {
        "/etc/labctl": ["/etc/labctl/a.yaml", "/etc/labctl/keys/k.key"],
        "/var/lib/labctl": ["/var/lib/labctl/state.json"],
        "/": ["/etc/labctl-other/x"],
    }
    assert sorted(destination for destination, _ in container.archives) == [
        "/etc/labctl",
        "/etc/labctl-other",
        "/var/lib/labctl",
    ]
    [data] = [data for destination, data in container.archives if destination == "/etc/labctl"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert sorted(tar.getnames()) == ["a.yaml", "keys/k.key"]


def test_while_a_hosts_process_lives_proc_answers_and_its_end_is_a_crash(
    backend: DockerBackend, fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readiness from /proc (modelled here): no exec while it answers; once the process is
    gone (None), the engine is asked again and an exited host fails up at once."""
    asked: dict[str, int] = {}

    def ready_here(pid: int, container_id: str, argv: list[str]) -> bool | None:
        asked[container_id] = asked.get(container_id, 0) + 1
        return asked[container_id] > 2  # not listening twice, then listening

    monkeypatch.setattr("labctl.backends.docker.readiness.ready_here", ready_here)
    backend.up(small_plan())
    assert fake_client.execs == []
    assert len(asked) == 3
    assert all(count >= 3 for count in asked.values())  # + status() at the end of up

    def gone_when_exited(pid: int, container_id: str, argv: list[str]) -> bool | None:
        spacecraft = next(c for c in fake_client.containers.objects if c.id == container_id)
        if spacecraft.status == "exited":
            return None
        if "spacecraft" in container_id:
            spacecraft.status = "exited"  # crashes after its first answer
        return False

    monkeypatch.setattr("labctl.backends.docker.readiness.ready_here", gone_when_exited)
    plan = dataclasses.replace(small_plan(), instance_id="lab-bo")
    with pytest.raises(BackendError, match=r"spacecraft.*exited"):
        backend.up(plan)
    assert not [c for c in fake_client.containers.objects if "lab-bo" in c.name]


def test_every_container_has_bounded_logs_and_shared_memory(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    for container in fake_client.containers.objects:
        log_config = container.options["log_config"]
        assert log_config["Type"] == "json-file"
        assert log_config["Config"] == {"max-size": "1m", "max-file": "3"}
        assert container.options["shm_size"] == "16m"


def test_every_tmpfs_a_student_reaches_has_a_size() -> None:
    for role in ("attacker", "ground-station"):
        mounts = profile(role).tmpfs
        assert {"/tmp", "/var/tmp", "/run"} <= set(mounts), role
        assert all("size=" in options for options in mounts.values()), role
    assert "size=32m" in profile("ground-station").tmpfs["/home"]
    home = profile("attacker").tmpfs["/home/student"]
    assert "size=256m" in home
    assert "uid=1000" in home


def test_files_under_a_tmpfs_mount_are_refused_not_hidden(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    with pytest.raises(BackendError, match=r"/run is a tmpfs mount there.*labctl/home/"):
        backend.copy_to("lab-ana", "spacecraft", {"/run/labctl/notes.txt": FileSpec(b"x")})
    with pytest.raises(BackendError, match="tmpfs"):
        backend.copy_to("lab-ana", "spacecraft", {"/run": FileSpec(None, 0o755)})
    backend.copy_to("lab-ana", "spacecraft", {"/runs/notes.txt": FileSpec(b"x")})


def _writable_plan() -> InstancePlan:
    plan = small_plan()
    hosts = tuple(
        dataclasses.replace(h, limits=dataclasses.replace(h.limits, writable_mib=1024))
        if not h.read_only
        else h
        for h in plan.hosts
    )
    return dataclasses.replace(plan, hosts=hosts)


def test_writable_roots_are_bounded_where_the_engine_can(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(_writable_plan())
    by_host = {c.labels["org.labctl.host"]: c.options for c in fake_client.containers.objects}
    assert by_host["attacker"]["storage_opt"] == {"size": "1024m"}
    assert "storage_opt" not in by_host["spacecraft"]
    assert backend.writable_bounded is True


def test_an_engine_that_cannot_bound_them_gets_containers_without_and_it_is_said(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    fake_client.storage_limits = False
    said: list[tuple[str, str]] = []
    backend.up(_writable_plan(), progress=lambda subject, message: said.append((subject, message)))
    assert backend.writable_bounded is False
    assert all("storage_opt" not in c.options for c in fake_client.containers.objects)
    assert [s for s, m in said if "cannot bound writable root" in m] == ["engine"]
    again: list[str] = []
    second = dataclasses.replace(_writable_plan(), instance_id="lab-bob")
    backend.up(second, progress=lambda subject, message: again.append(message))
    assert not [m for m in again if m.startswith("warning:")]
