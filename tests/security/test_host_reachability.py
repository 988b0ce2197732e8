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
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from live import tc_replay_instance

from labctl.backends.docker import DockerBackend
from labctl.backends.docker.hostguard import HostGuard, bridge_of

pytestmark = pytest.mark.docker

#: Run as root on the attacker: a TCP handshake in raw IPv6 frames to the host's bridge.
#: Prints {"synack": bool, "acked": bool}.
RAW_IPV6_HANDSHAKE = """
import json, random, sys
from scapy.config import conf
from scapy.layers.inet import TCP
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import Ether
from scapy.sendrecv import sendp, srp1
conf.verb = 0
my_ip, dst_mac, dst_ip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
iface = next(i for i in conf.ifaces.values() if i.ip == my_ip)
src = "fe80::%x:%x" % (random.randrange(1, 0xFFFF), random.randrange(1, 0xFFFF))
sport = random.randrange(20000, 60000)
l2 = Ether(src=iface.mac, dst=dst_mac)
out = {"synack": False, "acked": False}
# The host answers only a neighbour it knows: a solicitation from our source teaches it.
sendp(l2 / IPv6(src=src, dst=dst_ip) / ICMPv6ND_NS(tgt=dst_ip)
      / ICMPv6NDOptSrcLLAddr(lladdr=iface.mac), iface=iface.network_name)
for _ in range(2):
    answer = srp1(l2 / IPv6(src=src, dst=dst_ip) / TCP(sport=sport, dport=port, flags="S",
                  seq=1000), iface=iface.network_name, timeout=2)
    if answer is not None and TCP in answer and int(answer[TCP].flags) & 0x12 == 0x12:
        out["synack"] = True
        sendp(l2 / IPv6(src=src, dst=dst_ip) / TCP(sport=sport, dport=port, flags="A",
              seq=1001, ack=answer[TCP].seq + 1), iface=iface.network_name)
        out["acked"] = True
        break
print(json.dumps(out))
"""

#: Run as root on the attacker: route a host address through the lab interface, send UDP.
ROUTED_IPV4_UDP = """
set -e
dev=$(ip -o -4 addr show | awk -v ip="$1" '$4 ~ "^"ip"/" {print $2}')
ip route replace "$2/32" dev "$dev"
for i in 1 2 3 4 5; do printf 'labctl-probe' >"/dev/udp/$2/$3" || true; done
ip route del "$2/32" dev "$dev"
echo sent via "$dev"
"""


@dataclass
class _Listeners:
    """TCP on [::] (dual-stack) and UDP on 0.0.0.0, counting what reaches them."""

    tcp_port: int = 0
    udp_port: int = 0
    tcp_accepted: list[str] = field(default_factory=list)
    udp_received: list[str] = field(default_factory=list)


@contextmanager
def _host_listeners() -> Iterator[_Listeners]:
    found = _Listeners()
    tcp = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    tcp.bind(("::", 0))
    tcp.listen(8)
    tcp.settimeout(0.2)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    udp.settimeout(0.2)
    found.tcp_port, found.udp_port = tcp.getsockname()[1], udp.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = tcp.accept()
                found.tcp_accepted.append(str(peer[0]))
                conn.close()
            except TimeoutError:
                pass
            try:
                _, peer = udp.recvfrom(2048)
                found.udp_received.append(str(peer[0]))
            except TimeoutError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join(timeout=5)
        tcp.close()
        udp.close()


def _link_local(interface: str) -> str | None:
    """The interface's IPv6 link-local address, from /proc/net/if_inet6 (None: it has none)."""
    for line in Path("/proc/net/if_inet6").read_text().splitlines():
        fields = line.split()
        if fields[-1] == interface and fields[0].startswith("fe80"):
            return ":".join(fields[0][i : i + 4] for i in range(0, 32, 4))
    return None


def _eui64_link_local(mac: str) -> str:
    """The link-local address a bridge with this MAC gets (what an attacker would try)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    return "fe80::" + ":".join(f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2))


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
    targets4 = sorted(filter(None, {_ipv4_of("docker0"), _ipv4_of(bridge_of(access.attrs))}))
    assert targets4, "no host bridge address to aim at"
    tried: list[str] = []
    with _host_listeners() as listeners:
        for name, endpoint in networks.items():
            network = client.networks.get(name)
            bridge = bridge_of(network.attrs)
            mac = Path(f"/sys/class/net/{bridge}/address").read_text().strip()
            target6 = _link_local(bridge) or _eui64_link_local(mac)
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


def _ipv4_of(interface: str) -> str | None:
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = fcntl.ioctl(  # SIOCGIFADDR
                probe.fileno(), 0x8915, struct.pack("256s", interface.encode()[:15])
            )
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])
