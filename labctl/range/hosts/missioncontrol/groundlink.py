"""The ground link: mission control's TCP client to the ground station's packet service.

Both directions are plain streams of Space Packets (docs/ground-segment.md). Telecommands
go out through :meth:`GroundLink.send`; what comes in is split with
:mod:`labctl.protocols.stream`, which skips (and reports) garbage and bounds every
packet, and each packet is handed to a callback. The client reconnects with exponential
backoff for as long as the server runs.

Keep-alive: the ground station disconnects a client that sends nothing for its
``packet_service.idle_timeout`` (600 s by default). With ``idle_timeout`` set (mission
control's ``ground_station.idle_timeout_s``, the same value), the link sends a
connection test (PUS 17,1 to APID 0x7F0, no acknowledgements asked; the station answers
17,2) every third of it, and gives up on a station from which nothing at all arrived for
a whole idle timeout (a hung or half-open peer): it disconnects and connects again.

Shared stations: with ``access`` (mission control's ``ground_station.access``), the first
packet of every connection is an access request with the customer's rolling password
for now (:mod:`labctl.protocols.station_access`); a station that refuses it closes the
connection, and the link tries again with backoff (e.g. until the booked window opens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from labctl.protocols.pus import PusTc
from labctl.protocols.spacepacket import IDLE_APID, SEQ_COUNT_MASK, PacketType, SpacePacket
from labctl.protocols.station_access import (
    ACCESS_REQUEST,
    encode_request,
    period_number,
    rolling_code,
)
from labctl.protocols.stream import Garbage, Scanner, packet_stream
from labctl.range.hosts.catalog import GROUND_STATION_APID, PLATFORM_APID
from labctl.range.hosts.ratelimit import RateLimitedLog

LOG: Final = logging.getLogger("labctl.missioncontrol.groundlink")
READ_SIZE: Final = 4096
CONNECT_TIMEOUT: Final = 5.0
SEND_TIMEOUT: Final = 5.0
#: Largest packet accepted on the stream. A forged length field makes the scanner wait for
#: that many octets before it gives up on the candidate, so keep it near real packet sizes.
MAX_PACKET: Final = 2048
#: If octets keep arriving but no packet completes for this long, a forged length field is
#: holding the stream: rescan what is buffered now instead of waiting for MAX_PACKET octets.
STALL_SECONDS: Final = 2.0
STREAM_APIDS: Final = frozenset({PLATFORM_APID, GROUND_STATION_APID, IDLE_APID})
#: Keep-alives per idle timeout: two may be late before the station's timer runs out.
KEEPALIVES_PER_TIMEOUT: Final = 3


def connection_test(seq_count: int) -> bytes:
    """The keep-alive: a connection test (17,1) to the ground station itself, no acks."""
    return PusTc(
        GROUND_STATION_APID, 17, 1, seq_count=seq_count & SEQ_COUNT_MASK, ack_flags=0
    ).encode()


def tm_scanner() -> Scanner[SpacePacket]:
    """A stream scanner that takes only PUS TM packets (with a good CRC) on our APIDs."""
    return packet_stream(
        STREAM_APIDS, MAX_PACKET, check_pec=True, packet_type=PacketType.TM, pus=True
    )


@dataclass(frozen=True)
class StationAccess:
    """A customer's credentials for a shared station's packet service."""

    customer: str
    secret: bytes = field(repr=False)
    period: float = 60.0

    def request(self, unix_time: float) -> bytes:
        """The access request for now (PUS 200,1 to the station's APID, no acks)."""
        code = rolling_code(self.secret, self.customer, period_number(unix_time, self.period))
        data = encode_request(self.customer, code)
        return PusTc(GROUND_STATION_APID, *ACCESS_REQUEST, data, ack_flags=0).encode()


class LinkDown(Exception):
    """The packet service is not connected (or the connection broke while sending)."""


@dataclass
class LinkStats:
    """What the dashboard and the health check show about the link."""

    connected: bool = False
    connected_since: float | None = None
    connects: int = 0
    packets_in: int = 0
    packets_out: int = 0
    keepalives: int = 0
    garbage_runs: int = 0
    garbage_octets: int = 0
    last_error: str = ""


class GroundLink:
    """Keeps one connection to ``host:port`` and feeds received packets to ``on_packet``."""

    def __init__(
        self,
        host: str,
        port: int,
        on_packet: Callable[[SpacePacket], None],
        backoff: tuple[float, float] = (0.5, 10.0),
        *,
        idle_timeout: float = 0.0,
        access: StationAccess | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._on_packet = on_packet
        self._backoff_min, self._backoff_max = backoff
        self.idle_timeout = idle_timeout  # 0: no keep-alive, never give up on silence
        self.access = access
        self._keepalive_seq = 0
        #: Anyone on the ground network may write to the stream: rate-limited warnings.
        self.hostile = RateLimitedLog(LOG)
        self._writer: asyncio.StreamWriter | None = None
        self._send_lock = asyncio.Lock()
        self.stats = LinkStats()

    async def run(self) -> None:
        """Connect, read until the connection ends, wait, repeat; until cancelled."""
        delay = self._backoff_min
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except (TimeoutError, OSError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                await self._disconnect()
            if time.monotonic() - started > self._backoff_max:
                delay = self._backoff_min  # the link was up a while: retry soon
            LOG.info("ground link down (%s); retry in %.1f s", self.stats.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT
        )
        self._writer = writer
        if self.access is not None:  # before anything else, or the station refuses
            try:
                await self._write(self.access.request(time.time()))
            except LinkDown as exc:
                raise ConnectionError(str(exc)) from None
        self.stats.connected, self.stats.connected_since = True, time.time()
        self.stats.connects += 1
        self.stats.last_error = ""
        LOG.info("ground link up: %s:%d", self.host, self.port)
        keepalive = asyncio.create_task(self._keep_alive()) if self.idle_timeout else None
        try:
            await self._read(reader)
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive

    async def _read(self, reader: asyncio.StreamReader) -> None:
        scanner = tm_scanner()
        progress = time.monotonic()
        while chunk := await self._next_chunk(reader):
            if self._deliver(*scanner.feed(chunk)):
                progress = time.monotonic()
            elif time.monotonic() - progress > STALL_SECONDS:
                self._deliver(*scanner.close())
                scanner, progress = tm_scanner(), time.monotonic()
        self._deliver(*scanner.close())
        if not self.stats.last_error:
            self.stats.last_error = "connection closed by the ground station"

    async def _next_chunk(self, reader: asyncio.StreamReader) -> bytes:
        """The next octets; b"" at the end, or when the station was silent too long."""
        if not self.idle_timeout:
            return await reader.read(READ_SIZE)
        try:
            async with asyncio.timeout(self.idle_timeout):
                return await reader.read(READ_SIZE)
        except TimeoutError:
            self.stats.last_error = (
                f"the ground station was silent for {self.idle_timeout:g} s (keep-alive unanswered)"
            )
            return b""

    async def _keep_alive(self) -> None:
        """A connection test every third of the idle timeout, until the link goes down."""
        interval = self.idle_timeout / KEEPALIVES_PER_TIMEOUT
        while True:
            await asyncio.sleep(interval)
            try:
                await self._write(connection_test(self._keepalive_seq))
            except LinkDown:
                return  # the reader sees the end of the connection
            self._keepalive_seq = (self._keepalive_seq + 1) & SEQ_COUNT_MASK
            self.stats.keepalives += 1

    def _deliver(self, packets: list[SpacePacket], junk: list[Garbage]) -> bool:
        """Count the garbage, hand packets on; True if there was at least one packet."""
        for run in junk:
            self.stats.garbage_runs += 1
            self.stats.garbage_octets += run.length
            self.hostile.event(
                "TM stream: garbage runs skipped",
                "skipped %d octets on the TM stream: %s",
                run.length,
                run.reason,
            )
        for packet in packets:
            self.stats.packets_in += 1
            try:
                self._on_packet(packet)
            except Exception:  # one bad packet must never stop the ingest
                self.hostile.event(
                    "TM stream: ingest failures",
                    "ingest failed for a packet on APID %#x",
                    packet.apid,
                    level=logging.ERROR,
                    exc_info=True,
                )
        self.hostile.flush()  # the station's status packets come every few seconds
        return bool(packets)

    async def _disconnect(self) -> None:
        writer, self._writer = self._writer, None
        self.stats.connected, self.stats.connected_since = False, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def send(self, packet: bytes) -> None:
        """Write one telecommand packet; raise LinkDown if it cannot be written."""
        await self._write(packet)
        self.stats.packets_out += 1

    async def _write(self, packet: bytes) -> None:
        async with self._send_lock:
            writer = self._writer
            if writer is None or writer.is_closing():
                raise LinkDown("the ground station is not connected")
            try:
                writer.write(packet)
                await asyncio.wait_for(writer.drain(), SEND_TIMEOUT)
            except (TimeoutError, OSError) as exc:
                raise LinkDown(f"sending to the ground station failed: {exc}") from None
