"""Hostile streams to every network service of every host, in-process on 127.0.0.1.

The real programs run as one ground segment (segment.py). Each test attacks one kind of
service, then checks what must hold: no program stopped or raised (the spacecraft counts
its internal errors, every task is still running), a legitimate operator's command still
goes from mission control to the spacecraft and back, the process's memory grew by less
than MEMORY_MIB, and the attack wrote a bounded number of log lines (no traceback).
Every attack is bounded in count and time. No engine needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from protocol_fuzz import cases, pool
from segment import LOOPBACK, SCID, Segment, eventually, resident_mib, running_segment

from labctl.protocols import tc_frame
from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.protocols.tm_frame import Clcw, TmFrame
from labctl.range.hosts import catalog
from labctl.range.hosts.groundstation.packet_service import FEED_SLICE
from labctl.range.hosts.missioncontrol.db import Archive
from labctl.range.hosts.missioncontrol.groundlink import GroundLink
from labctl.range.hosts.missioncontrol.ingest import Ingest

pytestmark = pytest.mark.fuzz

MEMORY_MIB = 64
MAX_LOG_LINES = 150
MAX_UDP = 65507


def run(scenario: object, timeout: float = 120.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await scenario  # type: ignore[misc]

    asyncio.run(bounded())


def check_log(caplog: pytest.LogCaptureFixture) -> None:
    records = caplog.records
    tracebacks = [r.getMessage() for r in records if r.exc_info]
    assert not tracebacks
    assert len(records) <= MAX_LOG_LINES, [r.getMessage() for r in records[:40]]


async def operator_resync(segment: Segment) -> None:
    """What an operator does after an attack on the air: COP-1 Unlock, then Set V(R) to the
    N(R) of the spacecraft's latest CLCW, through mission control's link."""
    station_apid = catalog.GROUND_STATION_APID
    await segment.link.send(PusTc(station_apid, 128, 1, seq_count=900, ack_flags=0).encode())
    await asyncio.sleep(1.5)  # genuine CLCWs (housekeeping every second) come in
    clcw = segment.station.downlink.last_clcw
    vr = clcw.report if clcw is not None else 0
    directive = PusTc(station_apid, 128, 2, bytes([vr]), seq_count=901, ack_flags=0)
    await segment.link.send(directive.encode())
    await asyncio.sleep(0.3)


# -- the packet service (TCP) -------------------------------------------------------------


Address = tuple[str, int]


async def send_all(address: Address, data: bytes, chunk: int = 65536) -> None:
    """Write ``data``, then end the stream and read until the station closes: a socket
    closed with unread status packets would be reset and lose what is in flight."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        for start in range(0, len(data), chunk):
            writer.write(data[start : start + chunk])
            await writer.drain()
        writer.write_eof()
        async with asyncio.timeout(10):
            while await reader.read(65536):
                pass
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def slowloris(address: Address, seconds: float) -> int:
    """Trickle a packet header and a never-ending body, one octet every 20 ms."""
    header = PusTc(catalog.PLATFORM_APID, 8, 1, b"\x00" * 900).encode()
    sent = 0
    try:
        _reader, writer = await asyncio.open_connection(*address)
    except OSError:
        return 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not writer.is_closing():
            writer.write(header[sent % len(header) : sent % len(header) + 1])
            await writer.drain()
            sent += 1
            await asyncio.sleep(0.02)
    except ConnectionError:
        pass
    finally:
        writer.close()
    return sent


async def many_connections(address: Address, count: int) -> None:
    for _ in range(count):
        try:
            _reader, writer = await asyncio.open_connection(*address)
        except OSError:
            continue
        writer.close()


def test_packet_service_survives_hostile_streams(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="labctl")
    rng = random.Random(10025)
    oversized = b"".join(
        bytes([0x18, 0x64, 0xC0, 0x00, 0xFF, 0xFF]) + rng.randbytes(100) for _ in range(1000)
    )
    packets = [PusTc(catalog.PLATFORM_APID, 17, 1, seq_count=n).encode() for n in range(2000)]
    truncated = b"".join(p[: rng.randrange(1, len(p))] for p in packets)

    async def scenario() -> None:
        async with running_segment(tmp_path) as segment:
            address = segment.packet_service
            assert await segment.round_trip()
            caplog.clear()
            rss = resident_mib()
            await send_all(address, rng.randbytes(2 << 20))  # 2 MiB of garbage
            await send_all(address, truncated)
            await send_all(address, oversized)
            loris = [asyncio.create_task(slowloris(address, 1.5)) for _ in range(3)]
            await asyncio.sleep(0.2)
            for session in segment.station.packets.clients:
                held = len(session._scanner._buf)
                assert held <= segment.station.packets.max_packet + FEED_SLICE
            await many_connections(address, 300)
            assert sum(await asyncio.gather(*loris)) > 0
            counters = segment.station.counters
            await eventually(lambda: len(segment.station.packets.clients) == 1)
            # all of it (a random run may pass for a packet now and then)
            assert counters.garbage_octets > (2 << 20) - 65536
            assert counters.clients_refused > 0
            assert segment.link.stats.connects == 1  # mission control kept its link
            assert await segment.round_trip()
            assert segment.alive() == []
            assert resident_mib() - rss < MEMORY_MIB
            for limited in segment.station.rate_limited_logs:
                limited.flush(force=True)
        check_log(caplog)

    run(scenario())


# -- the RF UDP ports ----------------------------------------------------------------------


def forged_frames(rng: random.Random, count: int) -> list[bytes]:
    """Frames aimed at this segment (its SCID and VCs, good FECF): TC frames under SPI 1
    with the wrong key (bad MAC), TM frames with random packet zones and CLCWs."""
    forger = SdlsEngine.of([SecurityAssociation(1)], Keyring({0: bytes(32)}))
    out = []
    for n in range(count):
        tc = PusTc(catalog.PLATFORM_APID, 8, 1, rng.randbytes(4), seq_count=n).encode()
        out.append(
            forger.protect_tc(
                tc_frame.TcFrame(SCID, 0, tc_frame.segment(0, tc), n % 256), 1
            ).encode()
        )
        zone = rng.randbytes(rng.randrange(8, 200))
        clcw = Clcw(0, rng.randrange(256), lockout=int(rng.random() < 0.1)).encode()
        out.append(TmFrame(SCID, 0, zone, n % 256, n % 256, rng.randrange(0x800), clcw).encode())
    return out


def hostile_datagrams(rng: random.Random, count: int) -> list[bytes]:
    """The fuzzer's inputs, forged frames, and some of every size up to the largest UDP
    datagram."""
    out = list(cases(rng, count, pool())) + forged_frames(rng, count // 10)
    out += [rng.randbytes(rng.choice((0, 1, 7, 1025, 4096, MAX_UDP))) for _ in range(count // 50)]
    rng.shuffle(out)
    return out


async def flood(targets: dict[str, tuple[str, int]], datagrams: list[bytes]) -> int:
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for index, datagram in enumerate(datagrams):
            for address in targets.values():
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    sock.sendto(datagram, address)
                    sent += 1
            if index % 200 == 0:
                await asyncio.sleep(0.005)  # the hosts run in this loop: let them read
    return sent


def test_rf_udp_ports_survive_hostile_datagrams(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="labctl")
    datagrams = hostile_datagrams(random.Random(5100), 5000)

    async def scenario() -> None:
        async with running_segment(tmp_path) as segment:
            assert await segment.round_trip()
            caplog.clear()
            rss = resident_mib()
            targets = segment.udp_services()
            assert await flood(targets, datagrams) >= len(datagrams) * len(targets) // 2
            await asyncio.sleep(0.5)
            rejected = segment.spacecraft.fsw.state.counters.rejected_by_reason
            assert rejected["bad_mac"] > 100
            assert sum(rejected.values()) > 1000
            assert segment.station.counters.frames_invalid > 1000
            relays = segment.rflink.relays.values()
            assert all(r.endpoint.pending() <= r.config.queue_size for r in relays)
            await operator_resync(segment)
            assert await segment.round_trip()
            assert segment.alive() == []
            assert resident_mib() - rss < MEMORY_MIB
            limiters = [
                *segment.station.rate_limited_logs,
                segment.spacecraft.hostile,
                segment.rflink.hostile,
            ]
            for limited in limiters:
                limited.flush(force=True)
        check_log(caplog)

    run(scenario())


# -- mission control's link ingest ------------------------------------------------------------


def tm(service: int, subtype: int, data: bytes, apid: int = catalog.PLATFORM_APID) -> bytes:
    return PusTm(apid, service, subtype, data, time=CdsShortTime(24000, 5).encode()).encode()


def hostile_telemetry(rng: random.Random) -> list[bytes]:
    """Well-formed packets (good CRC) whose contents lie, then raw hostile octets."""
    lies = [
        tm(3, 25, b""),
        tm(3, 25, rng.randbytes(3)),
        tm(3, 25, rng.randbytes(4000)),
        tm(5, 1, b""),
        tm(5, 4, b"\xff\xff" + rng.randbytes(500)),
        tm(1, 1, b"\x00"),
        tm(1, 8, rng.randbytes(6)),
        tm(3, 25, rng.randbytes(40), apid=catalog.GROUND_STATION_APID),
        tm(17, 2, b"", apid=0x123),
        PusTm(catalog.PLATFORM_APID, 3, 25, b"x", time=b"\xff" * 7).encode(),
    ]
    oversized = b"".join(bytes([0x08, 0x64, 0xC0, 0, 0xFF, 0xFF]) + rng.randbytes(64)
                         for _ in range(200))  # fmt: skip
    truncated = b"".join(p[: rng.randrange(1, len(p))] for p in lies * 20)
    return [*lies * 50, rng.randbytes(4 << 20), oversized, truncated, *cases(rng, 3000, pool())]


def test_ingest_survives_a_hostile_ground_station(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="labctl")
    rng = random.Random(8080)
    storm = hostile_telemetry(rng)
    hk = catalog.Housekeeping(catalog.Mode.NOMINAL, 80, False, 1, 0, 0, "after the storm")
    legit = tm(3, 25, hk.encode())
    done = asyncio.Event

    async def scenario() -> None:
        finished = done()

        async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for chunk in storm:
                writer.write(chunk)
                await writer.drain()
            for octet in legit[:20]:  # slow partial writes: one octet every 20 ms
                writer.write(bytes([octet]))
                await writer.drain()
                await asyncio.sleep(0.02)
            writer.write(legit[20:])
            await writer.drain()
            await finished.wait()
            writer.close()

        server = await asyncio.start_server(hostile, LOOPBACK, 0)
        port = server.sockets[0].getsockname()[1]
        archive = Archive(tmp_path / "mc.db")
        ingest = Ingest(archive)
        link = GroundLink(LOOPBACK, port, ingest, (0.05, 0.5))
        rss = resident_mib()
        task = asyncio.create_task(link.run())
        try:

            def archived() -> bool:
                row = archive.latest_housekeeping()
                return row is not None and row["ops_message"] == "after the storm"

            assert await eventually(archived, timeout=30)
            assert link.stats.connects == 1
            assert link.stats.garbage_octets > 4 << 20
            assert ingest.counts["rejected"] >= 300  # the lies that pass the stream filter
            assert not task.done()
            assert resident_mib() - rss < MEMORY_MIB
        finally:
            finished.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            server.close()
            archive.close()
        link.hostile.flush(force=True)
        ingest.hostile.flush(force=True)
        check_log(caplog)

    run(scenario())
