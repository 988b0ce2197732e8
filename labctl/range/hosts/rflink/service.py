"""The rf-link on the network: two relays (uplink, downlink) through one channel model.

Each direction receives datagrams on its input port, passes each one through the channel
model (contact window, jamming, loss, bit errors), holds it in a bounded delay line and
puts it on the air (every air destination). It never parses a frame: any datagram up to
``max_datagram`` octets is relayed, as a real radio relays noise. Everything that goes
on the air is written to the pcap; counters go to a status JSON file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from labctl.range.hosts.config import HostConfigError, write_json_atomic
from labctl.range.hosts.ratelimit import RateLimitedLog
from labctl.range.hosts.rflink.air import AirError, air_destinations
from labctl.range.hosts.rflink.channel import DOWNLINK, UPLINK, ChannelModel
from labctl.range.hosts.rflink.config import LinkConfig, RfLinkConfig
from labctl.range.hosts.rflink.pcap import PcapWriter
from labctl.range.hosts.udp import Address, Destination, UdpEndpoint, open_udp

BATCH: Final = 64

log = logging.getLogger(__name__)


@dataclass
class Relay:
    """One direction of the channel."""

    name: str
    config: LinkConfig
    endpoint: UdpEndpoint
    air: list[Destination]
    delay_line: deque[tuple[float, bytes, Address]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    forwarded: int = 0
    dropped_delay_full: int = 0

    def counters(self) -> dict[str, Any]:
        return {
            **self.endpoint.counters.as_dict(),
            "forwarded": self.forwarded,
            "dropped_delay_full": self.dropped_delay_full,
            "in_flight": len(self.delay_line),
            "air": [str(d) for d in self.air],
        }


class RfLink:
    """The radio channel between the ground stations and the spacecraft."""

    def __init__(
        self,
        config: RfLinkConfig,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.channel = ChannelModel(config.channel, rng or random.Random(config.seed), clock)
        self.clock = clock
        self.pcap = (
            PcapWriter(config.pcap.path, config.pcap.max_bytes, config.pcap.rotate)
            if config.pcap.path is not None
            else None
        )
        self.relays: dict[str, Relay] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: Anyone on the RF segment may transmit: lines about noise are rate-limited.
        self.hostile = RateLimitedLog(log)

    def address(self, direction: str) -> Address:
        """The bound input address of a direction (useful after binding port 0)."""
        return self.relays[direction].endpoint.address

    async def start(self) -> None:
        for name, link in ((UPLINK, self.config.uplink), (DOWNLINK, self.config.downlink)):
            self.relays[name] = await self._open(name, link)
        for relay in self.relays.values():
            self._tasks.append(asyncio.create_task(self._receive_loop(relay)))
            self._tasks.append(asyncio.create_task(self._deliver_loop(relay)))
        if self.config.status_file is not None:
            self._tasks.append(asyncio.create_task(self._status_loop()))
        log.info("rf-link relaying %s", {n: r.counters()["air"] for n, r in self.relays.items()})

    async def _open(self, name: str, link: LinkConfig) -> Relay:
        try:
            air, broadcast = air_destinations(list(link.air), link.air_port, link.host)
        except AirError as exc:
            raise HostConfigError(self.config.file, f"{name}.air", str(exc)) from None
        endpoint = await open_udp(
            link.host,
            link.port,
            queue_size=link.queue_size,
            max_datagram=self.config.max_datagram,
            broadcast=broadcast,
        )
        return Relay(name, link, endpoint, air)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.write_status()
        for relay in self.relays.values():
            relay.endpoint.close()
        if self.pcap is not None:
            self.pcap.close()

    async def serve(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # -- relaying -------------------------------------------------------------------------
    async def _receive_loop(self, relay: Relay) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for datagram, sender in await relay.endpoint.receive_batch(BATCH):
                received = self._transmit(relay, datagram, sender)
                if received is None:
                    continue
                if not self.config.channel.delay:
                    self._on_air(relay, received, sender)
                elif len(relay.delay_line) >= self.config.delay_queue:
                    relay.dropped_delay_full += 1
                else:
                    due = loop.time() + self.config.channel.delay
                    relay.delay_line.append((due, received, sender))
                    relay.wake.set()
            self.hostile.flush()
            await asyncio.sleep(0)

    def _transmit(self, relay: Relay, datagram: bytes, sender: Address) -> bytes | None:
        """The channel's verdict; noise heard and frames lost to jamming are logged,
        rate-limited (a flood of noise is a flood of events)."""
        noise = self.channel.noise[relay.name]
        jammed = self.channel.dropped[f"{relay.name}_jammed"]
        received = self.channel.transmit(relay.name, datagram)
        if self.channel.noise[relay.name] != noise:
            self.hostile.event(
                f"{relay.name}: noise datagrams (not frames)",
                "%s: noise on the air: %d octets from %s",
                relay.name,
                len(datagram),
                sender[0],
                level=logging.INFO,
            )
        if self.channel.dropped[f"{relay.name}_jammed"] != jammed:
            self.hostile.event(
                f"{relay.name}: datagrams lost to jamming",
                "%s: jammed, a datagram from %s lost",
                relay.name,
                sender[0],
                level=logging.INFO,
            )
        return received

    async def _deliver_loop(self, relay: Relay) -> None:
        """Frames leave the delay line in order (the delay is the same for every frame)."""
        loop = asyncio.get_running_loop()
        while True:
            if not relay.delay_line:
                relay.wake.clear()
                await relay.wake.wait()
                continue
            due, frame, sender = relay.delay_line[0]
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
                continue
            relay.delay_line.popleft()
            self._on_air(relay, frame, sender)

    def _on_air(self, relay: Relay, frame: bytes, sender: Address) -> None:
        relay.forwarded += 1
        first: Address | None = None
        for destination in relay.air:
            address = destination.address()
            if address is None:
                continue
            first = first or address
            relay.endpoint.send(frame, address)
        if self.pcap is not None and first is not None:
            self.pcap.record(self.clock(), sender, first, frame)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        channel = self.channel
        document: dict[str, Any] = {
            "time": self.clock(),
            "in_contact": channel.in_contact(),
            "next_pass": channel.next_pass(),
            "passes": [
                {"aos": c.aos, "los": c.los, "max_elevation": round(c.max_elevation, 1)}
                for c in channel.upcoming(3)
            ],
            "jamming": {UPLINK: channel.jammed(UPLINK), DOWNLINK: channel.jammed(DOWNLINK)},
            "noise": dict(channel.noise),
            "dropped": dict(sorted(channel.dropped.items())),
            # frames (not noise) lost to jamming, and the time of the last one
            "frames_jammed": dict(sorted(channel.frames_jammed.items())),
            "last_frame_jammed_at": dict(sorted(channel.last_frame_jammed.items())),
            "bits_flipped": channel.bits_flipped,
            "frames_corrupted": channel.frames_corrupted,
        }
        for name, relay in self.relays.items():
            document[name] = relay.counters()
        if self.pcap is not None:
            document["pcap"] = {
                "path": str(self.pcap.path),
                "bytes": self.pcap.size,
                "records": self.pcap.records,
                "skipped": self.pcap.skipped,
                "rotations": self.pcap.rotations,
                "errors": self.pcap.errors,
            }
        return document

    def write_status(self) -> None:
        if self.config.status_file is None:
            return
        try:
            write_json_atomic(self.config.status_file, self.status())
        except OSError as exc:
            log.warning("cannot write %s: %s", self.config.status_file, exc)

    async def _status_loop(self) -> None:
        while True:
            self.write_status()
            await asyncio.sleep(self.config.status_interval)
