"""Where "on the air" is: the rf network's broadcast address, or explicit destinations.

An air entry in rf-link.yaml is one of:

* ``broadcast`` - the broadcast address of the interface that carries the listen
  address (or of the only non-loopback IPv4 interface when listening on 0.0.0.0);
* ``broadcast:<interface>`` - that interface's broadcast address (``broadcast:eth0``);
* ``broadcast:<address or network>`` - the broadcast address of the interface whose
  network contains it, else of the network itself (``broadcast:172.30.0.0/24``);
* ``<host>`` or ``<host>:<port>`` - a unicast destination (port defaults to the air port).

Interface addresses come from the SIOCGIFADDR / SIOCGIFNETMASK ioctls (Linux), so no
extra package is needed in the image.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from typing import Final

from labctl.range.hosts.udp import Destination

SIOCGIFADDR: Final = 0x8915
SIOCGIFNETMASK: Final = 0x891B
BROADCAST: Final = "broadcast"


class AirError(ValueError):
    """An air entry that cannot be turned into a destination."""


def interface_networks() -> dict[str, ipaddress.IPv4Interface]:
    """IPv4 address and netmask of every interface that has one."""
    result: dict[str, ipaddress.IPv4Interface] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                address = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)[20:24]
                netmask = fcntl.ioctl(sock.fileno(), SIOCGIFNETMASK, request)[20:24]
            except OSError:
                continue
            text = f"{socket.inet_ntoa(address)}/{socket.inet_ntoa(netmask)}"
            result[name] = ipaddress.IPv4Interface(text)
    return result


def broadcast_of(interface: ipaddress.IPv4Interface) -> str:
    network = interface.network
    if network.prefixlen >= 31 or interface.ip.is_loopback:
        raise AirError(f"{interface} has no broadcast address")
    return str(network.broadcast_address)


def resolve_broadcast(
    selector: str, listen_host: str, interfaces: dict[str, ipaddress.IPv4Interface]
) -> str:
    """The broadcast address an air entry ``broadcast[:selector]`` stands for."""
    if not selector:
        return broadcast_of(_listening_interface(listen_host, interfaces))
    if selector in interfaces:
        return broadcast_of(interfaces[selector])
    try:
        wanted = ipaddress.IPv4Network(selector, strict=False)
    except ValueError:
        raise AirError(f"{selector!r} is neither an interface nor an IPv4 network") from None
    for interface in interfaces.values():
        if interface.network.overlaps(wanted) and not interface.ip.is_loopback:
            return broadcast_of(interface)
    if wanted.prefixlen == 32:
        raise AirError(f"no interface carries {selector}")
    return str(wanted.broadcast_address)


def _listening_interface(
    listen_host: str, interfaces: dict[str, ipaddress.IPv4Interface]
) -> ipaddress.IPv4Interface:
    candidates = [i for i in interfaces.values() if not i.ip.is_loopback]
    if listen_host not in {"", "0.0.0.0"}:
        candidates = [i for i in interfaces.values() if str(i.ip) == listen_host]
    if not candidates:
        raise AirError(f"no interface to broadcast on for listen address {listen_host!r}")
    return candidates[0]


def air_destinations(
    entries: list[str],
    air_port: int,
    listen_host: str,
    interfaces: dict[str, ipaddress.IPv4Interface] | None = None,
) -> tuple[list[Destination], bool]:
    """The destinations of the air entries, and whether any of them is a broadcast."""
    destinations: list[Destination] = []
    broadcast = False
    for entry in entries:
        if entry == BROADCAST or entry.startswith(BROADCAST + ":"):
            if interfaces is None:
                interfaces = interface_networks()
            selector = entry.removeprefix(BROADCAST).removeprefix(":")
            address = resolve_broadcast(selector, listen_host, interfaces)
            destinations.append(Destination(address, air_port))
            broadcast = True
            continue
        host, _, port = entry.partition(":")
        if not host or (port and not port.isdigit()) or int(port or air_port) > 65535:
            raise AirError(f"bad air destination {entry!r} (host or host:port)")
        destinations.append(Destination(host, int(port) if port else air_port))
    return destinations, broadcast
