"""The host machine is unreachable from every lab network, in both address families.

The attack (issue 12, found by hand): the student has root and NET_RAW on the attacker
workstation. The lab bridges carry no IPv4 address, but the kernel gives each bridge an
IPv6 link-local one; raw Ethernet frames to it (the container's own IPv6 stack is off,
so scapy speaks for it) completed a TCP handshake with any host service listening on
``[::]``. Over IPv4, a route to a host address through the lab interface delivered UDP to
the host one way (it answers ARP on every interface).

Here the test starts its own listeners on the host (TCP on ``[::]``, dual-stack, and UDP
on ``0.0.0.0``) and attacks them from the attacker, as root, on each of its lab networks.
Targets are only the host's own bridge addresses; the IPv4 probe is UDP, which has no
answer that could leave through the host's default route.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import tc_replay_instance
from rawframes import (
    RAW_IPV6_HANDSHAKE,
    ROUTED_IPV4_UDP,
    eui64_link_local,
    host_listeners,
    ipv4_of,
    link_local,
)

from labctl.backends.docker import DockerBackend
from labctl.backends.docker.hostguard import HostGuard, bridge_of

pytestmark = pytest.mark.docker


@pytest.fixture
def attacker_instance(lab_backend: DockerBackend, tmp_path: Path) -> Iterator[str]:
    with tc_replay_instance(lab_backend, tmp_path, "hostreach") as (_, record):
        yield record.id


def test_the_host_is_unreachable_from_every_lab_network(
    lab_backend: DockerBackend, attacker_instance: str
) -> None:
    attacker = lab_backend.container(attacker_instance, "attacker")
    attacker.reload()
    networks = attacker.attrs["NetworkSettings"]["Networks"]
    client = lab_backend.client
    assert networks, "the attacker has no network"
    # The host's own IPv4 addresses on bridges: docker0 and this instance's access bridge.
    access = client.networks.get(f"labctl-{attacker_instance}-access")
    targets4 = sorted(filter(None, {ipv4_of("docker0"), ipv4_of(bridge_of(access.attrs))}))
    assert targets4, "no host bridge address to aim at"
    tried: list[str] = []
    with host_listeners() as listeners:
        for name, endpoint in networks.items():
            network = client.networks.get(name)
            bridge = bridge_of(network.attrs)
            mac = Path(f"/sys/class/net/{bridge}/address").read_text().strip()
            target6 = link_local(bridge) or eui64_link_local(mac)
            result = lab_backend.exec(
                attacker_instance,
                "attacker",
                [
                    "python3",
                    "-c",
                    RAW_IPV6_HANDSHAKE,
                    endpoint["IPAddress"],
                    mac,
                    target6,
                    str(listeners.tcp_port),
                ],
                user="root",
            )
            assert result.exit_code == 0, result.output
            answer = json.loads(result.output.strip().splitlines()[-1])
            assert not answer["synack"], f"{name} ({bridge}): the host answered {answer}"
            for target4 in targets4:
                routed = lab_backend.exec(
                    attacker_instance,
                    "attacker",
                    [
                        "sh",
                        "-c",
                        ROUTED_IPV4_UDP,
                        "probe",
                        endpoint["IPAddress"],
                        target4,
                        str(listeners.udp_port),
                    ],
                    user="root",
                )
                assert routed.exit_code == 0, routed.output
            tried.append(f"{name}: [{target6}] tcp, {targets4} udp")
        time.sleep(1.0)
    assert listeners.tcp_accepted == [], f"TCP reached the host from a lab: {tried}"
    assert listeners.udp_received == [], f"UDP reached the host from a lab: {tried}"


def test_every_network_of_an_instance_is_in_the_guard_while_it_lives(
    lab_backend: DockerBackend, attacker_instance: str
) -> None:
    networks = lab_backend.client.networks.list(
        filters={"label": f"org.labctl.instance={attacker_instance}"}
    )
    lab = {bridge_of(n.attrs) for n in networks if n.attrs["Internal"]}
    access = {bridge_of(n.attrs) for n in networks if not n.attrs["Internal"]}
    assert len(lab) >= 5
    assert len(access) == 1
    state = HostGuard(lab_backend.client).state()
    assert state.protects(lab, access) == []
