"""Peers of the ground station for in-process tests, all on 127.0.0.1.

``FakeSpacecraft`` listens where the rf-link would be: it decodes every uplink frame with
the protocols module, verifies SDLS with the uplink key, runs FARM-1 and answers with TM
frames carrying its CLCW. ``PacketClient`` is mission control on the packet service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labctl.protocols.cop1 import Farm1
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation, Verdict
from labctl.protocols.spacepacket import SpacePacket
from labctl.protocols.stream import packet_stream
from labctl.protocols.tc_frame import FrameKind, TcFrame, unsegment
from labctl.protocols.tm_frame import Clcw, TmFrame, idle_frame
from labctl.range.hosts.groundstation import GroundStation, settings_from_mapping

SCID = 0x42
LOOPBACK = "127.0.0.1"
UPLINK_KEY = bytes(range(32))
DOWNLINK_KEY = bytes(range(32, 64))
UPLINK_SPI = 1
DOWNLINK_SPI = 2
IDLE_FRAME_LENGTH = 64


async def wait_until(predicate: Callable[[], Any], timeout: float = 3.0) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


@dataclass
class Reception:
    """One uplink datagram as the spacecraft saw it."""

    frame: TcFrame
    verdict: Verdict | None  # None for clear BC frames or without an uplink SA


@dataclass
class FakeSpacecraft(asyncio.DatagramProtocol):
    """FARM-1 + SDLS ProcessSecurity on the uplink; TM frames with CLCW on the downlink."""

    uplink: SdlsEngine | None
    downlink: SdlsEngine | None
    ground: tuple[str, int] = (LOOPBACK, 0)
    farm: Farm1 = field(default_factory=lambda: Farm1(vcid=0))
    received: list[Reception] = field(default_factory=list)
    packets: list[bytes] = field(default_factory=list)
    ignore_first: set[int] = field(default_factory=set)  # N(S) to lose once
    answer_with_clcw: bool = True
    vc_count: int = 0
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: Any) -> None:
        frame = TcFrame.decode(data)
        if frame.kind is FrameKind.AD and frame.seq in self.ignore_first:
            self.ignore_first.discard(frame.seq)
            self.received.append(Reception(frame, None))
            return
        verdict = None
        clear = frame
        if self.uplink is not None and frame.kind is not FrameKind.BC:
            verdict = self.uplink.verify_tc(frame)
            clear = replace(frame, data=verdict.data)
        self.received.append(Reception(frame, verdict))
        if verdict is None or verdict.accepted:
            result = self.farm.receive(clear)
            if result.accepted and frame.kind is not FrameKind.BC:
                self.packets.append(unsegment(result.data)[2])
        if self.answer_with_clcw:
            self.send_clcw()

    def send_clcw(self, clcw: Clcw | None = None) -> None:
        word = (clcw or self.farm.clcw()).encode()
        self.send_raw(idle_frame(SCID, IDLE_FRAME_LENGTH, ocf=word))

    def tm_frame(self, zone: bytes, fhp: int = 0, vcid: int = 0, scid: int = SCID) -> bytes:
        """A TM frame on the data VC with this packet zone, SDLS-protected when configured."""
        frame = TmFrame(scid, vcid, zone, 0, self.vc_count, fhp, self.farm.clcw().encode())
        self.vc_count = (self.vc_count + 1) % 256
        if self.downlink is not None:
            frame = self.downlink.protect_tm(frame, DOWNLINK_SPI)
        return frame.encode()

    def send_tm(self, zone: bytes, fhp: int = 0) -> bytes:
        raw = self.tm_frame(zone, fhp)
        self.send_raw(raw)
        return raw

    def send_raw(self, datagram: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(datagram, self.ground)

    def ad_frames(self) -> list[TcFrame]:
        return [r.frame for r in self.received if r.frame.kind is FrameKind.AD]


class PacketClient:
    """Mission control: a TCP connection to the packet service, splitting what comes back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.packets: list[SpacePacket] = []
        self.closed = False
        self._scanner = packet_stream(check_pec=True)
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, address: tuple[str, int]) -> PacketClient:
        reader, writer = await asyncio.open_connection(*address)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def of(self, apid: int, service: int | None = None, subtype: int | None = None) -> list[bytes]:
        """Packets received on ``apid`` (with this PUS service/subtype), as octets."""
        out = []
        for packet in self.packets:
            raw = packet.encode()
            if packet.apid != apid:
                continue
            if service is not None and (raw[7], raw[8]) != (service, subtype):
                continue
            out.append(raw)
        return out

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._task

    async def _read(self) -> None:
        try:
            while chunk := await self.reader.read(65536):
                self.packets += self._scanner.feed(chunk)[0]
        except ConnectionError:
            pass
        self.closed = True


@dataclass
class Harness:
    """A ground station wired to a fake spacecraft, plus helpers to reach it."""

    station: GroundStation
    spacecraft: FakeSpacecraft
    clients: list[PacketClient]

    async def client(self) -> PacketClient:
        client = await PacketClient.connect(self.station.packet_service_address)
        self.clients.append(client)
        await wait_until(lambda: len(self.station.packets.clients) >= len(self.clients))
        return client


@dataclass
class Env:
    """Key files in a temporary directory and a settings mapping to adjust per test."""

    tmp: Path
    config: dict[str, Any]

    def run(self, scenario: Callable[[Harness], Awaitable[None]]) -> None:
        asyncio.run(_run(self, scenario))


def base_config(tmp: Path) -> dict[str, Any]:
    for name, key in (("uplink.key", UPLINK_KEY), ("downlink.key", DOWNLINK_KEY)):
        (tmp / name).write_text(key.hex() + "\n", encoding="ascii")
        os.chmod(tmp / name, 0o600)
    return {
        "scid": SCID,
        "packet_service": {"address": LOOPBACK, "port": 0, "max_clients": 3},
        "uplink": {
            "rf_link": {"address": LOOPBACK, "port": 9},  # replaced by the spacecraft's port
            "bind_address": LOOPBACK,
            "fop": {"window": 4, "timeout": 0.2, "transmission_limit": 3},
            "sa": {"spi": UPLINK_SPI, "key_file": str(tmp / "uplink.key")},
        },
        "downlink": {
            "address": LOOPBACK,
            "port": 0,
            "sa": {"spi": DOWNLINK_SPI, "key_file": str(tmp / "downlink.key")},
        },
        "status_file": str(tmp / "status.json"),
        "status_interval": 5,
    }


def engines(config: dict[str, Any]) -> tuple[SdlsEngine | None, SdlsEngine | None]:
    """The spacecraft's side of the configured SAs (same keys, fresh counters)."""
    up = config["uplink"].get("sa") not in (None, "none")
    down = config["downlink"].get("sa") not in (None, "none")
    return (
        SdlsEngine.of([SecurityAssociation(UPLINK_SPI)], Keyring({0: UPLINK_KEY})) if up else None,
        SdlsEngine.of([SecurityAssociation(DOWNLINK_SPI)], Keyring({0: DOWNLINK_KEY}))
        if down
        else None,
    )


async def _run(env: Env, scenario: Callable[[Harness], Awaitable[None]]) -> None:
    loop = asyncio.get_running_loop()
    spacecraft = FakeSpacecraft(*engines(env.config))
    await loop.create_datagram_endpoint(lambda: spacecraft, local_addr=(LOOPBACK, 0))
    env.config["uplink"]["rf_link"]["port"] = spacecraft.port
    station = GroundStation(settings_from_mapping(env.config))
    await station.start()
    spacecraft.ground = station.downlink_address
    harness = Harness(station, spacecraft, [])
    try:
        await asyncio.wait_for(scenario(harness), timeout=10)
    finally:
        for client in harness.clients:
            await client.close()
        await station.stop()
        assert spacecraft.transport is not None
        spacecraft.transport.close()
