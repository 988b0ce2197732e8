"""Raw-frame attacks on the range from a student's workstation (root, NET_RAW), shared by
the security campaign (tests/security/test_host_reachability.py, the docker backend) and
the swarm test (tests/integration/test_swarm.py): scripts run on the attacker, listeners
on the machine that count what reaches them, and the addresses to aim at."""

from __future__ import annotations

import fcntl
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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
class Listeners:
    """TCP on [::] (dual-stack) and UDP on 0.0.0.0, counting what reaches them."""

    tcp_port: int = 0
    udp_port: int = 0
    tcp_accepted: list[str] = field(default_factory=list)
    udp_received: list[str] = field(default_factory=list)


@contextmanager
def host_listeners() -> Iterator[Listeners]:
    found = Listeners()
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


def link_local(interface: str) -> str | None:
    """The interface's IPv6 link-local address, from /proc/net/if_inet6 (None: it has none)."""
    for line in Path("/proc/net/if_inet6").read_text().splitlines():
        fields = line.split()
        if fields[-1] == interface and fields[0].startswith("fe80"):
            return ":".join(fields[0][i : i + 4] for i in range(0, 32, 4))
    return None


def eui64_link_local(mac: str) -> str:
    """The link-local address a bridge with this MAC gets (what an attacker would try)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    return "fe80::" + ":".join(f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2))


def ipv4_of(interface: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = fcntl.ioctl(  # SIOCGIFADDR
                probe.fileno(), 0x8915, struct.pack("256s", interface.encode()[:15])
            )
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


#: Run as root on the attacker: who answers on each of its lab networks. Arguments: one
#: "address,subnet" per network (the attacker's address there). For each, an ARP request
#: to every other address of the subnet and an ICMPv6 echo to all nodes (ff02::1), in raw
#: frames; prints {address: {"arp": [[ip, mac], ...], "v6": [[ip, mac], ...]}}.
NEIGHBOURS = """
import ipaddress, json, sys
from scapy.config import conf
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.sendrecv import srp
conf.verb = 0
out = {}
for spec in sys.argv[1:]:
    mine, subnet = spec.split(",")
    iface = next(i for i in conf.ifaces.values() if i.ip == mine)
    others = [str(a) for a in ipaddress.ip_network(subnet).hosts() if str(a) != mine]
    asked = Ether(dst="ff:ff:ff:ff:ff:ff", src=iface.mac) / ARP(
        pdst=others, psrc=mine, hwsrc=iface.mac)
    arp, _ = srp(asked, iface=iface.network_name, timeout=2, retry=1)
    echo = Ether(src=iface.mac, dst="33:33:00:00:00:01") / IPv6(
        src="fe80::4c:1", dst="ff02::1") / ICMPv6EchoRequest()
    v6, _ = srp(echo, iface=iface.network_name, timeout=2, multi=True)
    out[mine] = {
        "arp": sorted({(r[ARP].psrc, r[ARP].hwsrc) for _, r in arp}),
        "v6": sorted({(r[IPv6].src, r[Ether].src) for _, r in v6}),
    }
print(json.dumps(out))
"""
