"""The packet service under hostile clients: garbage, oversized and stalled packets, too many
clients, strangers, silent and slow clients."""

from __future__ import annotations

import asyncio

from gs_peers import LOOPBACK, Env, Harness, PacketClient, wait_until

from labctl.protocols.pus import PusTc, PusTm
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.range.hosts.groundstation.counters import Counters
from labctl.range.hosts.groundstation.packet_service import FEED_SLICE, ClientSession, PacketService
from labctl.range.hosts.groundstation.settings import PacketServiceSettings


def ping(count: int) -> bytes:
    return PusTc(PLATFORM_APID, 17, 1, seq_count=count).encode()


def test_garbage_is_skipped_and_counted_and_valid_packets_still_go_through(env: Env) -> None:
    garbage = b"\xff\xfe hello \x00\x01" * 7

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(ping(0) + garbage + ping(1))
        await wait_until(lambda: h.spacecraft.packets == [ping(0), ping(1)])
        assert h.station.counters.garbage_octets == len(garbage)
        assert h.station.status().garbage_octets == len(garbage)

    env.run(scenario)


def test_corrupted_packet_error_control_is_garbage_not_uplinked(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        bad = bytearray(ping(0))
        bad[-1] ^= 0xFF
        await client.send(bytes(bad) + ping(1))
        await wait_until(lambda: h.spacecraft.packets == [ping(1)])
        assert h.station.counters.garbage_octets == len(bad)

    env.run(scenario)


def test_tm_packets_and_oversized_tcs_are_not_uplinked(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        too_long = PusTc(PLATFORM_APID, 8, 1, b"\x00" * 2000).encode()  # > one TC frame
        tm = PusTm(PLATFORM_APID, 3, 25, b"x").encode()
        await client.send(too_long + tm + ping(0))
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])
        assert h.station.counters.garbage_octets == len(too_long) + len(tm)

    env.run(scenario)


def test_stalled_incomplete_packet_is_discarded_after_partial_timeout(env: Env) -> None:
    env.config["packet_service"]["partial_timeout"] = 0.2
    header = ping(0)[:10]  # promises more octets that never come

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(header)
        await wait_until(lambda: h.station.counters.garbage_octets == len(header))
        await client.send(ping(1))
        await wait_until(lambda: h.spacecraft.packets == [ping(1)])

    env.run(scenario)


def test_too_many_clients_are_refused(env: Env) -> None:
    env.config["packet_service"]["max_clients"] = 2

    async def scenario(h: Harness) -> None:
        await h.client()
        await h.client()
        extra = await PacketClient.connect(h.station.packet_service_address)
        h.clients.append(extra)
        await wait_until(lambda: extra.closed)
        assert h.station.counters.clients_refused == 1
        assert len(h.station.packets.clients) == 2

    env.run(scenario)


def test_clients_outside_the_allow_list_are_refused(env: Env) -> None:
    env.config["packet_service"]["allowed_clients"] = ["10.0.0.0/8"]

    async def scenario(h: Harness) -> None:
        stranger = await PacketClient.connect(h.station.packet_service_address)
        h.clients.append(stranger)
        await stranger.send(ping(0))
        await wait_until(lambda: stranger.closed)
        assert h.station.counters.clients_refused == 1
        await asyncio.sleep(0.05)
        assert not h.spacecraft.received

    env.run(scenario)


def test_allowed_host_names_are_looked_up(env: Env) -> None:
    """``mission-control`` does not resolve here: its client is refused; ``localhost`` does."""
    env.config["packet_service"]["allowed_clients"] = ["mission-control.invalid", "localhost"]

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(ping(0))
        await wait_until(lambda: h.spacecraft.received)
        assert h.station.counters.clients_refused == 0

    env.run(scenario)


def test_an_unresolvable_name_admits_nobody(env: Env) -> None:
    env.config["packet_service"]["allowed_clients"] = ["mission-control.invalid"]

    async def scenario(h: Harness) -> None:
        stranger = await PacketClient.connect(h.station.packet_service_address)
        h.clients.append(stranger)
        await stranger.send(ping(0))
        await wait_until(lambda: stranger.closed)
        assert h.station.counters.clients_refused == 1
        assert not h.spacecraft.received

    env.run(scenario)


def test_silent_client_is_disconnected_after_idle_timeout(env: Env) -> None:
    env.config["packet_service"]["idle_timeout"] = 0.2

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await wait_until(lambda: client.closed)
        assert h.station.counters.clients_dropped == 1
        assert not h.station.packets.clients

    env.run(scenario)


class _StuckTransport:
    """A transport whose peer never reads: its write buffer only grows."""

    def __init__(self) -> None:
        self.buffered = 0
        self.aborted = False

    def get_extra_info(self, name: str) -> object:
        return (LOOPBACK, 4242) if name == "peername" else None

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.buffered += len(data)

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    close = abort


def test_slow_client_is_dropped_when_its_send_buffer_is_full() -> None:
    counters = Counters()
    settings = PacketServiceSettings(max_send_buffer=4096)
    service = PacketService(settings, 1000, lambda c, p: None, counters, lambda: 0.0)
    session = ClientSession(service)
    transport = _StuckTransport()
    session.connection_made(transport)  # type: ignore[arg-type]
    packet = PusTm(PLATFORM_APID, 3, 25, b"x" * 500).encode()
    delivered = [service.broadcast(packet) for _ in range(20)]
    assert transport.aborted
    assert transport.buffered <= 4096
    assert delivered.count(1) == transport.buffered // len(packet)
    assert counters.clients_dropped == 1
    assert not service.clients


def test_huge_garbage_read_keeps_the_scanner_bounded() -> None:
    counters = Counters()
    got: list[bytes] = []
    service = PacketService(
        PacketServiceSettings(), 1000, lambda c, p: got.append(p), counters, lambda: 0.0
    )
    session = ClientSession(service)
    session.connection_made(_StuckTransport())  # type: ignore[arg-type]
    session.data_received(b"\x18\x07\x00\x07\x00\x07" * 50_000 + ping(3)[:8])
    assert len(session._scanner._buf) <= 1000 + FEED_SLICE  # one unit plus one slice
    session.data_received(ping(3)[8:])
    assert got == [ping(3)]
    assert counters.garbage_octets == 300_000  # each candidate fails its CRC


def test_garbage_of_a_client_that_hangs_up_is_still_counted(env: Env) -> None:
    garbage = b"\xff" * 10_000  # no packet ever starts: one run, still open at the end

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(garbage)
        await client.close()
        await wait_until(lambda: not h.station.packets.clients)
        await wait_until(lambda: h.station.counters.garbage_octets == len(garbage))

    env.run(scenario)
