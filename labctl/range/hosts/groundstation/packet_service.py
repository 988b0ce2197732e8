"""The packet service: TCP server carrying streams of Space Packets (docs/ground-segment.md).

Clients (mission control, a backup) send TC packets; every TM packet goes to every
client. Each connection is hostile until proven otherwise, and everything it can make
the daemon hold is bounded: the number of clients (and who may connect), the octets
buffered while a packet is incomplete (one stream unit plus one read), how long an
incomplete packet may wait, how long a client may stay silent, and how much telemetry
may queue for a client that does not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from typing import Final, cast

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc
from labctl.protocols.spacepacket import PacketType, SpacePacket
from labctl.protocols.station_access import ACCESS_REQUEST, code_matches, decode_request
from labctl.protocols.stream import Garbage, Scanner, packet_stream
from labctl.range.hosts.groundstation.counters import Counters
from labctl.range.hosts.groundstation.settings import AccessSettings, PacketServiceSettings
from labctl.range.hosts.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

#: Reads are fed to the scanner in slices of this size, so its buffer stays small.
FEED_SLICE: Final = 4096

PacketHandler = Callable[["ClientSession", bytes], None]


#: Shortest time between two look-ups of the allowed host names, so refused connections
#: (an attacker's flood) cannot turn into a flood of name look-ups.
RESOLVE_NAMES_EVERY: Final = 2.0


class ClientSession(asyncio.Protocol):
    """One connection to the packet service."""

    def __init__(self, service: PacketService) -> None:
        self._service = service
        self._transport: asyncio.Transport | None = None
        self._scanner: Scanner[SpacePacket] = service.new_scanner()
        self.peer = "?"
        #: The customer whose rolling password this client proved (access control on).
        self.customer: str | None = None
        self.connected_at = self.last_rx = service.clock()
        self._pending = 0  # octets fed but not yet resolved as packets or garbage
        self._pending_since = self.last_rx

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:  # dead peers (half-open connections) are found by the kernel
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._service.admit(self, peer[0] if peer else "")

    def data_received(self, data: bytes) -> None:
        now = self._service.clock()
        self.last_rx = now
        if not self._pending:
            self._pending_since = now
        for start in range(0, len(data), FEED_SLICE):
            chunk = data[start : start + FEED_SLICE]
            self._pending += len(chunk)
            self._resolve(*self._scanner.feed(chunk))
            if self._transport is None or self._transport.is_closing():
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._service.forget(self)
        self._transport = None
        # Octets still held (an open garbage run, a packet never completed) are garbage
        # too: count them. Nothing is delivered for a client that is gone.
        self._resolve(*self._scanner.close())

    # -- used by the service ------------------------------------------------------------
    def send(self, packet: bytes, limit: int) -> bool:
        """Queue ``packet``; a client that lets more than ``limit`` octets pile up is dropped."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() + len(packet) > limit:
            self._service.hostile.event(
                "packet service: clients dropped for not reading their telemetry",
                "packet service: %s does not read its telemetry; dropped",
                self.peer,
            )
            self.close(abort=True)
            return False
        transport.write(packet)
        return True

    def close(self, abort: bool = False) -> None:
        if self._transport is not None and not self._transport.is_closing():
            if abort:
                self._transport.abort()
            else:
                self._transport.close()

    def expire(self, now: float, idle_timeout: float, partial_timeout: float) -> bool:
        """Apply the timeouts; True when the client was disconnected for being idle."""
        if idle_timeout and now - self.last_rx > idle_timeout:
            self.close()
            return True
        if self._pending and now - self._pending_since > partial_timeout:
            scanner, self._scanner = self._scanner, self._service.new_scanner()
            self._resolve(*scanner.close())
            self._pending = 0
        return False

    def _resolve(self, packets: list[SpacePacket], garbage: list[Garbage]) -> None:
        for run in garbage:
            self._pending -= run.length
            self._service.garbage(self, run)
        for packet in packets:
            self._pending -= len(packet)
            self._pending_since = self._service.clock()
            self._service.deliver(self, packet.encode())


class PacketService:
    """The TCP server; ``on_packet`` gets every complete packet with its session."""

    def __init__(
        self,
        settings: PacketServiceSettings,
        max_packet: int,
        on_packet: PacketHandler,
        counters: Counters,
        clock: Callable[[], float],
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        #: Unix time: rolling passwords and booked windows are read on the wall clock.
        self.wall = wall
        #: Addresses of the allowed host names, looked up again at most every few seconds.
        self._named: frozenset[str] = _resolve(settings.allowed_names)
        self._named_at = clock()
        self.max_packet = max_packet
        self.clock = clock
        self._on_packet = on_packet
        self._counters = counters
        self._clients: list[ClientSession] = []
        self._server: asyncio.Server | None = None
        #: Clients may be hostile: lines about what they do are rate-limited.
        self.hostile = RateLimitedLog(log)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSession(self), self.settings.address, self.settings.port
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.close(abort=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the port is the real one when the settings asked for 0)."""
        assert self._server is not None, "not started"
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def clients(self) -> list[ClientSession]:
        return list(self._clients)

    def new_scanner(self) -> Scanner[SpacePacket]:
        return packet_stream(
            max_size=self.max_packet, check_pec=True, packet_type=PacketType.TC, pus=True
        )

    def broadcast(self, packet: bytes) -> int:
        """Send ``packet`` to every client (with access control on, every client that
        proved a customer's password); returns how many took it."""
        open_to_all = self.settings.access is None
        return sum(
            self.send(client, packet)
            for client in list(self._clients)
            if open_to_all or client.customer is not None
        )

    def send(self, client: ClientSession, packet: bytes) -> bool:
        sent = client.send(packet, self.settings.max_send_buffer)
        if not sent and client in self._clients:
            self._counters.clients_dropped += 1
            self.forget(client)
        return sent

    def tick(self, now: float) -> None:
        """Apply idle and partial-packet timeouts (call about once a second)."""
        for client in list(self._clients):
            timeouts = (self.settings.idle_timeout, self.settings.partial_timeout)
            if client.expire(now, *timeouts):
                self.hostile.event(
                    "packet service: idle clients disconnected",
                    "packet service: %s idle, disconnected",
                    client.peer,
                    level=logging.INFO,
                )
                self._counters.clients_dropped += 1
                self.forget(client)
        self._close_ended_windows()

    def _close_ended_windows(self) -> None:
        """A customer's connection ends with its booked window; a client that has not
        proved a password within ``access.timeout`` is closed (it would hold a place)."""
        access = self.settings.access
        if access is None:
            return
        now, elapsed = self.wall(), self.clock()
        for client in list(self._clients):
            if client.customer is None and elapsed - client.connected_at > access.timeout:
                self._refuse_access(client, f"no access request within {access.timeout:g} s")
                continue
            customer = access.customer(client.customer) if client.customer else None
            if customer is not None and not customer.booked(now):
                self.hostile.event(
                    "packet service: customers disconnected at the end of their window",
                    "packet service: %s (%s): booked window over, disconnected",
                    client.peer,
                    customer.name,
                    level=logging.INFO,
                )
                self._counters.access_expired += 1
                client.close()
                self.forget(client)

    # -- called by sessions -----------------------------------------------------------------
    def admit(self, client: ClientSession, host: str) -> None:
        if not self._allowed(host):
            reason = "not in packet_service.allowed_clients"
        elif len(self._clients) >= self.settings.max_clients:
            reason = f"packet_service.max_clients ({self.settings.max_clients}) reached"
        else:
            self._clients.append(client)
            self._counters.clients_accepted += 1
            self.hostile.event(
                "packet service: clients connected",
                "packet service: client %s connected",
                client.peer,
                level=logging.INFO,
            )
            return
        self.hostile.event(
            "packet service: connections refused",
            "packet service: refused %s: %s",
            client.peer,
            reason,
        )
        self._counters.clients_refused += 1
        client.close(abort=True)

    def forget(self, client: ClientSession) -> None:
        if client in self._clients:
            self._clients.remove(client)
            self.hostile.event(
                "packet service: clients gone",
                "packet service: client %s gone",
                client.peer,
                level=logging.INFO,
            )

    def deliver(self, client: ClientSession, packet: bytes) -> None:
        if client not in self._clients:
            return
        if self.settings.access is not None and client.customer is None:
            self._authenticate(client, packet, self.settings.access)
            return
        self._on_packet(client, packet)

    def _authenticate(self, client: ClientSession, packet: bytes, access: AccessSettings) -> None:
        """The first packet of a client must be an access request with a customer's
        rolling password for now, in a window the customer booked; else it is dropped."""
        try:
            request = PusTc.decode(packet)
            if (request.service, request.subtype) != ACCESS_REQUEST:
                raise ProtocolError("the first packet must be an access request (PUS 200,1)")
            name, code = decode_request(request.app_data)
        except ProtocolError as exc:
            self._refuse_access(client, str(exc))
            return
        customer, now = access.customer(name), self.wall()
        if customer is None:
            reason = f"no customer {name!r}"
        elif customer.revoked:
            reason = f"customer {name}: access revoked"
        elif not code_matches(customer.secret, name, code, now, access.period):
            reason = f"customer {name}: wrong rolling password"
        elif not customer.booked(now):
            reason = f"customer {name}: no booked window now"
        else:
            client.customer = name
            self._counters.access_granted += 1
            self.hostile.event(
                "packet service: customers granted access",
                "packet service: %s is customer %s",
                client.peer,
                name,
                level=logging.INFO,
            )
            return
        self._refuse_access(client, reason)

    def _refuse_access(self, client: ClientSession, reason: str) -> None:
        self._counters.access_refused += 1
        self.hostile.event(
            "packet service: access refused", "packet service: %s refused: %s", client.peer, reason
        )
        client.close(abort=True)
        self.forget(client)

    def garbage(self, client: ClientSession, run: Garbage) -> None:
        self._counters.garbage_octets += run.length
        self.hostile.event(
            "packet service: garbage runs skipped",
            "packet service: %s: skipped %d octets (%s) at %d",
            client.peer,
            run.length,
            run.reason,
            run.offset,
            level=logging.INFO,
        )

    def _allowed(self, host: str) -> bool:
        networks, names = self.settings.allowed_clients, self.settings.allowed_names
        if not networks and not names:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in networks):
            return True
        if str(address) in self._named:
            return True
        now = self.clock()
        if names and now - self._named_at >= RESOLVE_NAMES_EVERY:
            self._named, self._named_at = _resolve(names), now  # a host may have moved
        return str(address) in self._named


def _resolve(names: tuple[str, ...]) -> frozenset[str]:
    """The IPv4 addresses the names resolve to now (a name that does not resolve adds none)."""
    found: set[str] = set()
    for name in names:
        try:
            infos = socket.getaddrinfo(name, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
        except OSError:
            continue
        found.update(str(info[4][0]) for info in infos)
    return frozenset(found)
