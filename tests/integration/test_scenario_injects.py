"""tc-replay's injects on the real engine: per-student SCID, SPI and key on both ends of the
link, anti-replay off on board, and operations still work end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from live import REPO, eventually, login, mission_control_url, send, tc_replay_instance, truth

from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances
from labctl.scenario import InjectContext, PlacedInject, apply_injects, parameters
from labctl.spec import load_lab
from labctl.spec.models import InjectRef

pytestmark = pytest.mark.docker

KEY = "/etc/labctl/keys/uplink.key"


@pytest.fixture(scope="module")
def backend(lab_backend: DockerBackend) -> DockerBackend:
    return lab_backend


@pytest.fixture(scope="module")
def instance(
    backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instances, InstanceRecord]]:
    with tc_replay_instance(backend, tmp_path_factory.mktemp("state"), "inj") as running:
        yield running
    record = running[1]
    selector = {"label": f"{INSTANCE_LABEL}={record.id}"}
    client = backend.client
    assert client.containers.list(all=True, filters=selector) == []
    assert client.networks.list(filters=selector) == []
    assert client.volumes.list(filters=selector) == []


def values(record: InstanceRecord) -> dict[str, Any]:
    lab = load_lab(REPO / "labs" / "tc-replay").spec
    return dict(parameters(lab, record.student, record.seed).values)


def test_the_spacecraft_runs_with_the_students_values(
    instance: tuple[Instances, InstanceRecord], backend: DockerBackend
) -> None:
    manager, record = instance
    params = values(record)
    document = eventually(lambda: truth(backend, record), 20, "truth file")
    assert document["scid"] == params["spacecraft_id"]
    uplink = [sa for sa in document["security_associations"] if sa["name"] == "uplink"]
    assert uplink, document["security_associations"]
    assert uplink[0]["anti_replay"] is False
    assert uplink[0]["persist_sequence"] is False
    assert uplink[0]["spi"] == params["uplink_spi"]
    kinds = [event.kind for event in manager.store.events(record.id)]
    assert kinds.count("restart") == 0  # written before the first start: nothing restarted


@pytest.mark.parametrize("host", ["spacecraft", "ground-station"])
def test_the_uplink_key_is_the_students_on_both_ends(
    instance: tuple[Instances, InstanceRecord], backend: DockerBackend, host: str
) -> None:
    _, record = instance
    assert backend.copy_from(record.id, host, KEY).decode().strip() == values(record)["uplink_key"]
    meta = backend.exec(record.id, host, ["stat", "-c", "%a %U", KEY], user="labctl")
    assert meta.output.split() == ["600", "labctl"]


def test_operators_still_command_the_spacecraft(
    instance: tuple[Instances, InstanceRecord], backend: DockerBackend
) -> None:
    _, record = instance
    client = login(mission_control_url(record))
    assert send(client, "PING")["status"] == "completed"
    executed = truth(backend, record)["executed_commands"]
    assert executed[-1]["name"] == "PING"
    assert executed[-1]["spi"] == values(record)["uplink_spi"]


def test_the_other_appliers_work_on_the_real_hosts_and_only_once(
    instance: tuple[Instances, InstanceRecord], backend: DockerBackend
) -> None:
    _, record = instance
    ctx = InjectContext(
        backend, record.id, REPO / "labs" / "tc-replay", {}, {"ground-station": "ground-station"}
    )
    gs = "ground-station"
    injects = [
        PlacedInject(
            "a", InjectRef(kind="add_user", host=gs, args={"user": "op1", "password": "pw1"})
        ),
        PlacedInject("b", InjectRef(kind="port", host=gs, args={"port": 10025, "open": False})),
        PlacedInject("c", InjectRef(kind="network", host="attacker", args={"network": "ground"})),
        PlacedInject(
            "d", InjectRef(kind="service", host=gs, args={"service": "sshd", "enabled": False})
        ),
    ]
    first = apply_injects(ctx, injects)
    assert [log.changed for log in first] == [True] * 4, first
    second = apply_injects(ctx, injects)
    assert [log.changed for log in second] == [False] * 4, second
    rules = backend.exec(record.id, gs, ["iptables", "-S", "INPUT"]).output
    assert "--dport 10025 -j DROP" in rules
    listening = backend.exec(record.id, gs, ["labctl-listening", "tcp", "22"])
    assert listening.exit_code != 0, "sshd still listens"
    networks = backend.container(record.id, "attacker").attrs["NetworkSettings"]["Networks"]
    assert f"labctl-{record.id}-ground" in networks
