"""The swarm backend's parts without an engine: placement by load, the service a host
becomes (confinement, the start gate, tmpfs modes, published ports), files kept as
configs, and ``labctl nodes`` on a backend with and without nodes."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import docker.errors
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))

from cli_env import environment, invoke

from labctl.backends.base import (
    GATEWAY_HOST,
    HOST_LABEL,
    INSTANCE_LABEL,
    READY_LABEL,
    FileSpec,
    HostPlan,
    InstancePlan,
    Limits,
    NetworkPlan,
    NodeInfo,
)
from labctl.backends.docker.arch import ARCH_LABEL
from labctl.backends.swarm import gate, kept, services
from labctl.backends.swarm.images import images_arch
from labctl.backends.swarm.nodes import (
    ENGINE_LABEL,
    NODE_LABEL,
    Engines,
    choose_node,
    list_nodes,
    manager_node_id,
)
from labctl.core.api import Core
from labctl.errors import BackendError

# --- a fake of the SDK's swarm calls ------------------------------------------------------


class FakeImage:
    attrs: ClassVar[dict[str, Any]] = {
        "Config": {
            "Entrypoint": ["/usr/bin/tini", "--"],
            "Cmd": ["python", "-m", "labctl.range.hosts.spacecraft"],
            "Healthcheck": {"Test": ["CMD", "labctl-listening", "udp", "5100"]},
        }
    }


class FakeApi:
    def __init__(self) -> None:
        self.node_list: list[dict[str, Any]] = []
        self.service_list: list[dict[str, Any]] = []
        self.config_list: list[dict[str, Any]] = []

    def nodes(self) -> list[dict[str, Any]]:
        return self.node_list

    def inspect_node(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.node_list if n["ID"] == node_id)

    def services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return self.service_list

    def configs(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        if "name" in filters:
            return [c for c in self.config_list if c["Spec"]["Name"] == filters["name"]]
        wanted = filters["label"]
        wanted = [wanted] if isinstance(wanted, str) else wanted
        return [
            c
            for c in self.config_list
            if all(c["Spec"]["Labels"].get(k) == v for k, v in (w.split("=", 1) for w in wanted))
        ]

    def remove_config(self, ident: str) -> None:
        self.config_list = [c for c in self.config_list if c["ID"] != ident]


class FakeConfigs:
    def __init__(self, api: FakeApi) -> None:
        self.api = api

    def create(self, name: str, data: bytes, labels: dict[str, str]) -> None:
        spec = {"Name": name, "Labels": labels, "Data": base64.b64encode(data).decode()}
        self.api.config_list.append({"ID": f"c{len(self.api.config_list)}", "Spec": spec})


class FakeImages:
    def get(self, name: str) -> FakeImage:
        return FakeImage()


class FakeSwarmClient:
    def __init__(self, swarm: dict[str, Any] | None = None) -> None:
        self.api = FakeApi()
        self.configs = FakeConfigs(self.api)
        self.images = FakeImages()
        self.swarm = swarm or {}

    def info(self) -> dict[str, Any]:
        return {"Swarm": self.swarm, "Architecture": "x86_64"}


def _node(ident: str, *, role: str = "worker", state: str = "ready", availability: str = "active",
          memory: int = 8 << 30, engine: str | None = None,
          machine: str = "x86_64") -> dict[str, Any]:  # fmt: skip
    labels = {ENGINE_LABEL: engine} if engine else {}
    return {
        "ID": ident,
        "Spec": {"Role": role, "Availability": availability, "Labels": labels},
        "Status": {"State": state},
        "Description": {
            "Hostname": f"host-{ident}",
            "Resources": {"MemoryBytes": memory, "NanoCPUs": 2_000_000_000},
            "Platform": {"Architecture": machine, "OS": "linux"},
        },
    }


def _service(instance: str, host: str, node: str) -> dict[str, Any]:
    labels = {INSTANCE_LABEL: instance, HOST_LABEL: host, NODE_LABEL: node}
    return {
        "ID": f"{instance}-{host}",
        "Spec": {"Name": f"labctl-{instance}-{host}", "Labels": labels},
    }


# --- nodes and placement ------------------------------------------------------------------


def test_nodes_count_instances_where_their_hosts_run_not_their_gateway() -> None:
    client = FakeSwarmClient()
    client.api.node_list = [_node("m", role="manager"), _node("w", engine="unix:///run/n2.sock")]
    client.api.service_list = [
        _service("a", "spacecraft", "w"),
        _service("a", "attacker", "w"),
        _service("a", GATEWAY_HOST, "m"),
    ]
    nodes = list_nodes(client, "m")  # type: ignore[arg-type]
    assert [(n.id, n.role, n.instances) for n in nodes] == [
        ("m", "manager", ()),
        ("w", "worker", ("a",)),
    ]
    assert nodes[0].engine is None  # labctl's own engine
    assert nodes[1].engine == "unix:///run/n2.sock"


def _info(ident: str, instances: int, *, memory: int = 8 << 30, arch: str = "amd64",
          **state: str) -> NodeInfo:  # fmt: skip
    return NodeInfo(
        id=ident, hostname=ident, role="worker", state=state.get("state", "ready"),
        availability=state.get("availability", "active"), engine=None, memory_bytes=memory,
        cpus=2.0, instances=tuple(f"i{n}" for n in range(instances)), arch=arch,
    )  # fmt: skip


def test_a_nodes_architecture_is_dockers_platform_name_of_its_machine() -> None:
    client = FakeSwarmClient()
    client.api.node_list = [
        _node("m", role="manager"),
        _node("w", machine="aarch64"),
        _node("x", machine="riscv64"),
        {**_node("y"), "Description": {"Hostname": "host-y"}},
    ]
    nodes = {n.id: n.arch for n in list_nodes(client, "m")}  # type: ignore[arg-type]
    assert nodes == {"m": "amd64", "w": "arm64", "x": "riscv64", "y": ""}


def test_placement_keeps_to_nodes_that_run_the_images_architecture() -> None:
    nodes = [
        _info("a", 2, arch="amd64"),
        _info("b", 0, arch="arm64"),
        _info("c", 1, arch=""),  # unknown: not ruled out
    ]
    assert choose_node(nodes, "amd64").id == "c"
    assert choose_node(nodes, "arm64").id == "b"
    assert choose_node(nodes[:1], "amd64").id == "a"
    assert choose_node(nodes).id == "b"  # images of mixed or unknown architecture


def test_no_node_of_the_images_architecture_is_one_line_naming_the_way_out() -> None:
    with pytest.raises(BackendError) as caught:
        choose_node([_info("a", 0, arch="arm64"), _info("b", 0, arch="arm64")], "amd64")
    message = str(caught.value)
    assert "the images are for amd64" in message
    assert "a (arm64), b (arm64)" in message
    assert "labctl images build --arch arm64" in message
    assert "\n" not in message


def test_the_images_architecture_is_their_label_or_the_engines_own() -> None:
    labelled = {"labctl/a:t": {ARCH_LABEL: "arm64"}, "labctl/b:t": {ARCH_LABEL: "arm64"}}
    client = FakeSwarmClient()
    client.images = LabelledImages({**labelled, "labctl/c:t": {}, "labctl/d:t": {}})  # type: ignore[assignment]
    assert images_arch(client, ["labctl/a:t", "labctl/b:t", "labctl/a:t"]) == "arm64"  # type: ignore[arg-type]
    assert images_arch(client, ["labctl/c:t", "labctl/d:t"]) == "amd64"  # type: ignore[arg-type]
    assert images_arch(client, ["labctl/a:t", "labctl/c:t"]) is None  # type: ignore[arg-type]
    assert images_arch(client, ["labctl/a:t", "labctl/missing:t"]) is None  # type: ignore[arg-type]


class LabelledImages:
    def __init__(self, labels: dict[str, dict[str, str]]) -> None:
        self.labels = labels

    def get(self, name: str) -> Any:
        if name not in self.labels:
            raise docker.errors.ImageNotFound(name)
        return type("Image", (), {"labels": self.labels[name]})()


def test_placement_takes_the_usable_node_with_the_fewest_instances() -> None:
    nodes = [
        _info("a", 1),
        _info("b", 0, availability="drain"),
        _info("c", 0, state="down"),
        _info("d", 2),
    ]
    assert choose_node(nodes).id == "a"


def test_placement_breaks_ties_by_memory_then_id() -> None:
    assert choose_node([_info("a", 1), _info("b", 1, memory=16 << 30)]).id == "b"
    assert choose_node([_info("b", 1), _info("a", 1)]).id == "a"


def test_no_usable_node_is_one_line() -> None:
    with pytest.raises(BackendError, match="no swarm node is ready and active"):
        choose_node([_info("a", 0, availability="drain")])


@pytest.mark.parametrize(
    ("swarm", "says"),
    [
        ({"LocalNodeState": "inactive"}, "not part of a swarm"),
        ({"LocalNodeState": "active", "ControlAvailable": False}, "a swarm worker"),
    ],
)
def test_the_engine_must_be_a_swarm_manager(swarm: dict[str, Any], says: str) -> None:
    with pytest.raises(BackendError, match=says):
        manager_node_id(FakeSwarmClient(swarm))  # type: ignore[arg-type]


def test_a_node_without_an_engine_label_is_one_line() -> None:
    client = FakeSwarmClient()
    client.api.node_list = [_node("m", role="manager"), _node("w")]
    with pytest.raises(BackendError, match=f"no {ENGINE_LABEL} label"):
        Engines(client, "m").of("w")  # type: ignore[arg-type]


@pytest.mark.parametrize("address", ["tcp://10.0.0.12:2375", "tcp://node2:2376", "http://x"])
def test_an_engine_reached_without_authentication_is_refused(address: str) -> None:
    """labctl gives the SDK no TLS settings: a tcp:// engine would be root on that node for
    anyone on the network, so only a local socket or SSH is used."""
    client = FakeSwarmClient()
    client.api.node_list = [_node("m", role="manager"), _node("w", engine=address)]
    with pytest.raises(BackendError, match="not a unix:// socket or an ssh:// address"):
        Engines(client, "m").of("w")  # type: ignore[arg-type]


# --- the service of a host ----------------------------------------------------------------


def _spec(host: HostPlan) -> dict[str, Any]:
    networks = (NetworkPlan("rf"), NetworkPlan("access", access=True))
    plan = InstancePlan("lab-ana", "lab", (host,), networks)
    return services.service_spec(FakeSwarmClient(), plan, host, "node-w")  # type: ignore[arg-type]


SPACECRAFT = HostPlan(
    name="spacecraft",
    role="spacecraft",
    image="labctl/spacecraft:test",
    networks=("rf",),
    limits=Limits(memory_mib=160, cpus=0.5, pids=64),
    read_only=True,
    volumes=("/etc/labctl",),
    tmpfs={"/run": "uid=10001,gid=10001,mode=0755,size=16m", "/tmp": "mode=1777,size=64m"},
)


def test_a_host_is_a_confined_service_pinned_to_its_node() -> None:
    spec = _spec(SPACECRAFT)
    template = spec["task_template"]
    container = template["ContainerSpec"]
    assert container["CapabilityDrop"] == ["ALL"]
    assert "CapabilityAdd" not in container
    assert container["ReadOnly"] is True
    assert container["Healthcheck"]["Test"] == ["NONE"]
    assert template["Resources"]["Limits"] == {
        "NanoCPUs": 500_000_000,
        "MemoryBytes": 160 << 20,
        "Pids": 64,
    }
    assert template["Placement"]["Constraints"] == ["node.id==node-w"]
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["LogDriver"] == {
        "Name": "json-file",
        "Options": {"max-size": "1m", "max-file": "3"},
    }
    [network] = template["Networks"]
    assert (network["Target"], network["Aliases"]) == ("labctl-lab-ana-rf", ["spacecraft"])
    assert spec["endpoint_spec"] == {"Mode": "dnsrr"}
    assert spec["labels"][NODE_LABEL] == "node-w"
    ready = json.loads(container["Labels"][READY_LABEL])
    assert ready == ["labctl-listening", "udp", "5100"]  # the image's health check, run by labctl


def test_the_program_runs_behind_the_start_gate_with_no_new_privileges() -> None:
    container = _spec(SPACECRAFT)["task_template"]["ContainerSpec"]
    assert container["Command"] == list(gate.ENTRYPOINT)
    program = ["/usr/bin/tini", "--", "python", "-m", "labctl.range.hosts.spacecraft"]
    assert container["Args"] == ["setpriv", "--no-new-privs", *program]
    replaced = _spec(HostPlan(**{**SPACECRAFT.__dict__, "command": ("sleep", "1")}))
    assert replaced["task_template"]["ContainerSpec"]["Args"] == [
        "setpriv",
        "--no-new-privs",
        "/usr/bin/tini",
        "--",
        "sleep",
        "1",
    ]
    # a profile that keeps setuid binaries working (sudo on the workstation): no setpriv
    privileged = _spec(HostPlan(**{**SPACECRAFT.__dict__, "no_new_privileges": False}))
    assert privileged["task_template"]["ContainerSpec"]["Args"] == program


def test_tmpfs_sizes_and_modes_and_a_small_dev_shm() -> None:
    mounts = {m["Target"]: m for m in _spec(SPACECRAFT)["task_template"]["ContainerSpec"]["Mounts"]}
    assert mounts["/etc/labctl"]["Type"] == "volume"
    assert mounts["/tmp"]["TmpfsOptions"] == {"SizeBytes": 64 << 20, "Mode": 0o1777}
    # an owner the Swarm API cannot give: shared (sticky) instead
    assert mounts["/run"]["TmpfsOptions"] == {"SizeBytes": 16 << 20, "Mode": 0o1777}
    assert mounts["/dev/shm"]["TmpfsOptions"]["SizeBytes"] == 16 << 20


def test_a_gateway_publishes_on_its_own_node_only() -> None:
    gateway = HostPlan(
        name=GATEWAY_HOST, role="gateway", image="labctl/runtime:test", networks=("access",),
        limits=Limits(48, 0.25, 16), read_only=True, published=("10001/tcp", "10002/tcp"),
    )  # fmt: skip
    endpoint = _spec(gateway)["endpoint_spec"]
    assert endpoint["Mode"] == "dnsrr"
    assert endpoint["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 10001, "PublishMode": "host"},
        {"Protocol": "tcp", "TargetPort": 10002, "PublishMode": "host"},
    ]


def test_a_tmpfs_without_a_size_is_refused() -> None:
    with pytest.raises(BackendError, match="no size"):
        _spec(HostPlan(**{**SPACECRAFT.__dict__, "tmpfs": {"/run": "mode=0755"}}))


# --- the start gate -----------------------------------------------------------------------


class GatedContainer:
    name = "c"
    attrs: ClassVar[dict[str, Any]] = {
        "HostConfig": {
            "Mounts": [
                {"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"Mode": 0o1777}},
                {"Type": "volume", "Target": "/etc/labctl"},
                {"Type": "tmpfs", "Target": "/home/student", "TmpfsOptions": {"Mode": 0o755}},
            ]
        }
    }

    def __init__(self, exit_code: int = 0) -> None:
        self.ran: list[tuple[list[str], str]] = []
        self.exit_code = exit_code

    def exec_run(self, argv: list[str], user: str) -> tuple[int, bytes]:
        self.ran.append((argv, user))
        return self.exit_code, b"touch: read-only" if self.exit_code else b""


def test_opening_the_gate_sets_root_owned_tmpfs_modes_then_the_marker() -> None:
    container = GatedContainer()
    gate.open_gate(container)  # type: ignore[arg-type]
    [(argv, user)] = container.ran
    assert user == "root"
    script = argv[2]
    assert '[ "$(stat -c %u /run)" != 0 ] || chmod 1777 /run' in script
    assert "chmod 755 /home/student" in script
    assert script.endswith(f"touch {gate.MARKER}")


def test_a_gate_that_does_not_open_is_one_line() -> None:
    with pytest.raises(BackendError, match="read-only"):
        gate.open_gate(GatedContainer(exit_code=1))  # type: ignore[arg-type]


# --- kept files ---------------------------------------------------------------------------


def test_kept_files_come_back_in_order_with_mode_and_owner() -> None:
    client = FakeSwarmClient()
    files = {
        "/etc/labctl/keys": FileSpec(None, 0o750, 0, 10001),
        "/etc/labctl/keys/sa.key": FileSpec(b"\x00\x01", 0o640, 0, 10001),
        "/etc/labctl/empty": FileSpec(b"", 0o600, 0, 0),
    }
    kept.keep(client, "i", "ground-station", files)  # type: ignore[arg-type]
    kept.keep(
        client, "i", "ground-station", {"/etc/labctl/keys/sa.key": FileSpec(b"new", 0o600, 0, 0)}
    )  # type: ignore[arg-type]
    back = kept.kept(client, "i", "ground-station")  # type: ignore[arg-type]
    assert list(back) == ["/etc/labctl/keys", "/etc/labctl/empty", "/etc/labctl/keys/sa.key"]
    assert back["/etc/labctl/keys"] == FileSpec(None, 0o750, 0, 10001)
    assert back["/etc/labctl/empty"] == FileSpec(b"", 0o600, 0, 0)
    assert back["/etc/labctl/keys/sa.key"] == FileSpec(b"new", 0o600, 0, 0)  # replaced
    assert kept.forget(client, "i") == 3  # type: ignore[arg-type]
    assert kept.kept(client, "i", "ground-station") == {}  # type: ignore[arg-type]


def test_network_changes_are_kept_beside_the_files_not_as_one() -> None:
    client: Any = FakeSwarmClient()
    kept.keep(client, "i", "spacecraft", {"/etc/labctl/a": FileSpec(b"a", 0o644, 0, 0)})
    kept.keep_wiring(client, "i", "spacecraft", {"corp": True, "rf": False})
    kept.keep_wiring(client, "i", "spacecraft", {"corp": True})  # replaces the first
    assert kept.wiring(client, "i", "spacecraft") == {"corp": True}
    assert kept.wiring(client, "i", "attacker") == {}
    assert list(kept.kept(client, "i", "spacecraft")) == ["/etc/labctl/a"]
    kept.keep_wiring(client, "i", "spacecraft", {})  # back to the service's own networks
    assert kept.wiring(client, "i", "spacecraft") == {}
    kept.keep_wiring(client, "i", "spacecraft", {"corp": True})
    assert kept.forget(client, "i") == 2  # the file and the wiring go with the instance


def test_an_unreadable_kept_wiring_is_none() -> None:
    client: Any = FakeSwarmClient()
    kept.keep_wiring(client, "i", "h", {"corp": True})
    client.api.config_list[0]["Spec"]["Data"] = base64.b64encode(b"[not json").decode()
    assert kept.wiring(client, "i", "h") == {}
    client.api.config_list[0]["Spec"]["Data"] = base64.b64encode(b'{"corp": "yes"}').decode()
    assert kept.wiring(client, "i", "h") == {}


def test_a_file_too_large_for_a_config_is_one_line() -> None:
    big = FileSpec(b"x" * (kept.MAX_BYTES + 1))
    with pytest.raises(BackendError, match="larger than a swarm config holds"):
        kept.keep(FakeSwarmClient(), "i", "h", {"/big": big})  # type: ignore[arg-type]


def test_config_names_fit_the_swarm_limit() -> None:
    long = "tc-replay-" + "x" * 60
    assert len(kept.config_name(long, "mission-control", "/etc/labctl/a")) <= 64
    assert kept.config_name("i", "h", "/a") != kept.config_name("i", "h", "/b")


# --- labctl nodes -------------------------------------------------------------------------


class TwoNodes:
    name = "swarm"

    def nodes(self) -> list[NodeInfo]:
        return [_info("managerid0000", 1), _info("workerid00000", 0, availability="drain")]


def test_labctl_nodes_lists_nodes_with_instances_and_load() -> None:
    env = environment(core_factory=lambda s: Core(s, backend=TwoNodes()))  # type: ignore[arg-type]
    run = invoke(env, "nodes")
    assert run.exit_code == 0, run.output
    assert "managerid000" in run.out
    assert "drain" in run.out
    assert "1 on 2 CPUs, 8.0 GiB" in run.out
    assert "2 node(s), 1 taking new instances" in run.out


class OneEngine:
    name = "docker"


def test_labctl_nodes_without_a_multi_node_backend_is_one_line() -> None:
    env = environment(core_factory=lambda s: Core(s, backend=OneEngine()))  # type: ignore[arg-type]
    run = invoke(env, "nodes")
    assert run.exit_code == 1
    assert "the docker backend runs everything on one engine and has no nodes" in run.err
    assert "LABCTL_BACKEND=swarm" in run.err
