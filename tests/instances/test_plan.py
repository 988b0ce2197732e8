"""Instance ids, and the plan made from a lab."""

from __future__ import annotations

import pytest

from labctl.backends.base import ACCESS_NETWORK, GATEWAY_HOST
from labctl.errors import LabctlError
from labctl.instances import instance_id, plan_instance, slug
from labctl.instances.ids import is_instance_id
from labctl.instances.plan import host_roles
from labctl.instances.provision import KEY_DIR, initial_files
from labctl.spec import LoadedLab


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Ana Lima", "ana-lima"), ("  José_Ñ.2 ", "jos-2"), ("team--7", "team-7")],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_instance_id_is_lab_then_student() -> None:
    ident = instance_id("tc-replay", "Ana Lima")
    assert ident == "tc-replay-ana-lima"
    assert is_instance_id(ident)


def test_instance_ids_need_a_usable_student_name() -> None:
    with pytest.raises(LabctlError, match="no letter or digit"):
        instance_id("tc-replay", "!!!")
    with pytest.raises(LabctlError, match="shorter student name"):
        instance_id("tc-replay", "x" * 60)


def test_plan_follows_the_lab_topology(replay_lab: LoadedLab) -> None:
    plan = plan_instance(replay_lab, "tc-replay-ana", student="ana", seed=7)
    networks = {h.name: set(h.networks) for h in plan.hosts}
    # tc-replay attaches the attacker to rf: the student owns a radio.
    assert networks == {
        "spacecraft": {"rf"},
        "rf-link": {"rf"},
        "ground-station": {"rf", "ground"},
        "mission-control": {"ground", "corp", "link-mission-control"},
        "attacker": {"corp", "rf", "link-attacker"},
        GATEWAY_HOST: {ACCESS_NETWORK, "link-attacker", "link-mission-control"},
    }
    assert {(n.name, n.access) for n in plan.networks} == {
        ("rf", False),
        ("ground", False),
        ("corp", False),
        ("link-attacker", False),
        ("link-mission-control", False),
        (ACCESS_NETWORK, True),
    }
    assert plan.labels["org.labctl.seed"] == "7"


def test_only_the_gateway_publishes_and_it_relays_the_offered_ports(
    replay_lab: LoadedLab,
) -> None:
    plan = plan_instance(replay_lab, "tc-replay-ana", student="ana", seed=7)
    assert [h.name for h in plan.hosts if h.published] == [GATEWAY_HOST]
    gateway = plan.host(GATEWAY_HOST)
    assert gateway.forwards == {
        "10001/tcp": ("attacker", "22/tcp"),
        "10002/tcp": ("mission-control", "8080/tcp"),
    }
    assert gateway.published == ("10001/tcp", "10002/tcp")
    assert gateway.command == (
        "labctl-forward",
        "10001=attacker:22",
        "10002=mission-control:8080",
    )
    assert gateway.healthcheck == ("labctl-listening", "tcp", "10001", "tcp", "10002")
    assert gateway.image.startswith("labctl/runtime:")
    assert (gateway.user, gateway.capabilities, gateway.read_only) == ("labctl", (), True)


def test_no_student_host_joins_the_access_network(replay_lab: LoadedLab) -> None:
    plan = plan_instance(replay_lab, "tc-replay-ana", student="ana", seed=7)
    on_access = [h.name for h in plan.hosts if ACCESS_NETWORK in h.networks]
    assert on_access == [GATEWAY_HOST]


def test_plan_confines_hosts_by_role(replay_lab: LoadedLab) -> None:
    plan = plan_instance(replay_lab, "tc-replay-ana", student="ana", seed=7)
    assert plan.host("spacecraft").read_only
    assert plan.host("spacecraft").capabilities == ()
    assert "NET_ADMIN" in plan.host("ground-station").capabilities
    assert "NET_RAW" in plan.host("attacker").capabilities
    assert plan.host("attacker").image.startswith("labctl/attacker:")
    assert plan.host("rf-link").environment == {"LABCTL_INSTANCE": "tc-replay-ana"}


def test_the_gateway_name_is_reserved(replay_lab: LoadedLab) -> None:
    from dataclasses import replace

    from labctl.spec.models import ExtraHost, Host, Network, Topology

    clash = ExtraHost(name=GATEWAY_HOST, role=Host.ATTACKER, networks=(Network.CORP,))
    spec = replay_lab.spec.model_copy(update={"topology": Topology(add_hosts=(clash,))})
    with pytest.raises(LabctlError, match="labctl's own"):
        plan_instance(replace(replay_lab, spec=spec), "x-ana", student="ana", seed=1)


def test_plan_adds_environment_and_files_per_host(replay_lab: LoadedLab) -> None:
    files = initial_files(host_roles(replay_lab))
    plan = plan_instance(
        replay_lab,
        "tc-replay-ana",
        student="ana",
        seed=7,
        environment={"attacker": {"LABCTL_STUDENT_PASSWORD": "pw"}},
        files=files,
    )
    assert plan.host("attacker").environment["LABCTL_STUDENT_PASSWORD"] == "pw"
    assert set(plan.host("spacecraft").files) == set(plan.host("ground-station").files)
    assert plan.host("attacker").files == {}


def test_fresh_keys_are_shared_by_spacecraft_and_ground_station(replay_lab: LoadedLab) -> None:
    files = initial_files(host_roles(replay_lab))
    assert set(files) == {"spacecraft", "ground-station"}
    key = files["spacecraft"][f"{KEY_DIR}/uplink.key"]
    assert key == files["ground-station"][f"{KEY_DIR}/uplink.key"]
    assert key.mode == 0o600
    assert key.content is not None
    assert len(bytes.fromhex(key.content.decode())) == 16
    assert files["spacecraft"][KEY_DIR].content is None  # the directory, mode 0700
    again = initial_files(host_roles(replay_lab))
    assert again["spacecraft"][f"{KEY_DIR}/uplink.key"] != key


def test_an_added_host_runs_its_role_image(replay_lab: LoadedLab) -> None:
    from dataclasses import replace

    from labctl.spec.models import ExtraHost, Host, Network, Topology

    backup = ExtraHost(name="backup-station", role=Host.GROUND_STATION, networks=(Network.RF,))
    spec = replay_lab.spec.model_copy(update={"topology": Topology(add_hosts=(backup,))})
    lab = replace(replay_lab, spec=spec)
    assert host_roles(lab)["backup-station"] == "ground-station"
    plan = plan_instance(lab, "x-ana", student="ana", seed=1)
    assert plan.host("backup-station").image.startswith("labctl/ground-station:")
    assert "NET_ADMIN" in plan.host("backup-station").capabilities
