"""A small asyncio UDP endpoint for the emulated hosts: bounded, counted, never crashing.

Everything that arrives on the radio segment is hostile and may arrive as a flood, so an
endpoint keeps at most ``queue_size`` datagrams waiting (excess is dropped and counted),
drops datagrams longer than ``max_datagram`` on arrival, and turns socket errors (ICMP
port unreachable on loopback, a destination that does not resolve yet) into counters.
Destinations are resolved lazily and re-resolved after a failure, because in a container
the peer's name may not exist yet when this host starts.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Final, cast

DEFAULT_QUEUE: Final = 4096
MAX_UDP_PAYLOAD: Final = 65507
RECEIVE_BUFFER: Final = 1 << 20  # ask for 1 MiB; the kernel caps it at net.core.rmem_max
RESOLVE_RETRY: Final = 5.0  # seconds before a failed name is looked up again

Address = tuple[str, int]


@dataclass
class UdpCounters:
    received: int = 0
    dropped_queue_full: int = 0
    dropped_oversize: int = 0
    sent: int = 0
    send_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class UdpEndpoint(asyncio.DatagramProtocol):
    """One bound UDP socket with a bounded receive queue."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE, max_datagram: int = MAX_UDP_PAYLOAD):
        self.queue_size = queue_size
        self.max_datagram = max_datagram
        self.counters = UdpCounters()
        self._queue: deque[tuple[bytes, Address]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.DatagramTransport | None = None

    # -- protocol callbacks -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython's selector datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.counters.received += 1
        if len(data) > self.max_datagram:
            self.counters.dropped_oversize += 1
            return
        if len(self._queue) >= self.queue_size:
            self.counters.dropped_queue_full += 1
            return
        self._queue.append((data, (addr[0], addr[1])))
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def error_received(self, exc: Exception) -> None:
        self.counters.send_errors += 1  # ICMP errors come back for earlier sends

    # -- API ------------------------------------------------------------------------------
    @property
    def address(self) -> Address:
        """The bound (host, port): useful after binding port 0 in tests."""
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def pending(self) -> int:
        return len(self._queue)

    async def receive_batch(self, limit: int = 64) -> list[tuple[bytes, Address]]:
        """Wait for at least one datagram; return up to ``limit`` of them."""
        while not self._queue:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        count = min(limit, len(self._queue))
        return [self._queue.popleft() for _ in range(count)]

    def send(self, data: bytes, addr: Address) -> bool:
        """Send one datagram; errors are counted, never raised."""
        if self._transport is None or self._transport.is_closing():
            self.counters.send_errors += 1
            return False
        try:
            self._transport.sendto(data, addr)
        except (OSError, ValueError):
            self.counters.send_errors += 1
            return False
        self.counters.sent += 1
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_udp(
    host: str,
    port: int,
    *,
    queue_size: int = DEFAULT_QUEUE,
    max_datagram: int = MAX_UDP_PAYLOAD,
    broadcast: bool = False,
) -> UdpEndpoint:
    """Bind a UDP endpoint on (host, port); ``broadcast`` sets SO_BROADCAST for sending."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    _, endpoint = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(queue_size, max_datagram), sock=sock
    )
    return endpoint


@dataclass
class Destination:
    """A peer given as host name or address, resolved on first use and after failures."""

    host: str
    port: int
    _address: Address | None = None
    _retry_at: float = 0.0

    def address(self) -> Address | None:
        """The resolved (ip, port), or None while the name does not resolve."""
        if self._address is not None:
            return self._address
        now = time.monotonic()
        if now < self._retry_at:
            return None
        try:
            infos = socket.getaddrinfo(self.host, self.port, socket.AF_INET, socket.SOCK_DGRAM)
        except OSError:
            self._retry_at = now + RESOLVE_RETRY
            return None
        ip, port = infos[0][4][:2]
        self._address = (str(ip), int(port))
        return self._address

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"
