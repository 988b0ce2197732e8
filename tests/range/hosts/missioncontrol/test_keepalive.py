"""The ground link's keep-alive against the real ground station, in-process on 127.0.0.1.

The ground station disconnects a client that sends nothing for
``packet_service.idle_timeout``; mission control keeps a quiet link up with a connection
test (17,1 to APID 0x7F0) every third of ``ground_station.idle_timeout_s``, and drops a
ground station that stays silent for a whole idle timeout. Timeouts are fractions of a
second here so the tests run in a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from labctl.protocols.pus import PusTc
from labctl.protocols.spacepacket import SpacePacket
from labctl.range.hosts.catalog import GROUND_STATION_APID
from labctl.range.hosts.config import Config
from labctl.range.hosts.groundstation import GroundStation, settings_from_mapping
from labctl.range.hosts.missioncontrol.groundlink import GroundLink, connection_test
from labctl.range.hosts.missioncontrol.settings import settings_from

LOOPBACK = "127.0.0.1"
IDLE = 0.4


def station_config(idle: float) -> dict[str, Any]:
    return {
        "scid": 0x42,
        "packet_service": {"address": LOOPBACK, "port": 0, "idle_timeout": idle},
        "uplink": {
            "rf_link": {"address": LOOPBACK, "port": 9},
            "bind_address": LOOPBACK,
            "sa": "none",
        },
        "downlink": {"address": LOOPBACK, "port": 0, "sa": "none"},
        "status_interval": 60,  # no status packet during the test: the link is quiet
    }


async def with_station(
    idle: float, scenario: Callable[[GroundStation], Awaitable[None]], timeout: float = 10.0
) -> None:
    station = GroundStation(settings_from_mapping(station_config(idle)))
    await station.start()
    try:
        async with asyncio.timeout(timeout):
            await scenario(station)
    finally:
        await station.stop()


async def running(link: GroundLink) -> asyncio.Task[None]:
    task = asyncio.create_task(link.run())
    deadline = time.monotonic() + 3
    while not link.stats.connected:
        assert time.monotonic() < deadline, "the ground link did not connect"
        await asyncio.sleep(0.01)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_connection_test_is_a_directive_without_acknowledgements() -> None:
    tc = PusTc.decode(connection_test(5))
    expected = (GROUND_STATION_APID, 17, 1, 0, 5)
    assert (tc.apid, tc.service, tc.subtype, tc.ack_flags, tc.seq_count) == expected
    assert PusTc.decode(connection_test(0x4000)).seq_count == 0


def test_quiet_link_stays_up_past_the_idle_timeout() -> None:
    received: list[SpacePacket] = []

    async def scenario(station: GroundStation) -> None:
        host, port = station.packet_service_address
        link = GroundLink(host, port, received.append, (0.05, 0.2), idle_timeout=IDLE)
        task = await running(link)
        await asyncio.sleep(IDLE * 4)
        await stop(task)
        assert link.stats.connects == 1, link.stats
        assert station.counters.clients_dropped == 0
        assert link.stats.keepalives >= 3
        assert link.stats.packets_out == 0  # keep-alives are not commands
        replies = [p for p in received if p.apid == GROUND_STATION_APID]
        assert len(replies) >= 3  # each one answered with 17,2

    asyncio.run(with_station(IDLE, scenario))


def test_link_without_keepalive_is_dropped_by_the_ground_station() -> None:
    async def scenario(station: GroundStation) -> None:
        host, port = station.packet_service_address
        link = GroundLink(host, port, lambda p: None, (0.05, 0.2), idle_timeout=0)
        task = await running(link)
        await asyncio.sleep(IDLE * 4)
        await stop(task)
        assert link.stats.connects >= 2
        assert station.counters.clients_dropped >= 1
        assert link.stats.keepalives == 0

    asyncio.run(with_station(IDLE, scenario))


def test_a_silent_client_is_still_dropped_while_mission_control_stays() -> None:
    async def scenario(station: GroundStation) -> None:
        host, port = station.packet_service_address
        link = GroundLink(host, port, lambda p: None, (0.05, 0.2), idle_timeout=IDLE)
        task = await running(link)
        reader, writer = await asyncio.open_connection(host, port)
        try:
            async with asyncio.timeout(IDLE * 6):
                assert await reader.read() == b""  # closed by the ground station
        finally:
            writer.close()
        await stop(task)
        assert station.counters.clients_dropped == 1
        assert link.stats.connects == 1

    asyncio.run(with_station(IDLE, scenario))


def test_mission_control_drops_a_silent_ground_station() -> None:
    """A peer that accepts and never answers (a hung or half-open station) is left after one
    idle timeout, and the link connects again."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    async def scenario() -> None:
        server = await asyncio.start_server(hold, LOOPBACK, 0)
        port = server.sockets[0].getsockname()[1]
        link = GroundLink(LOOPBACK, port, lambda p: None, (0.05, 0.2), idle_timeout=0.3)
        task = await running(link)
        await asyncio.sleep(1.2)
        await stop(task)
        for writer in accepted:
            writer.close()
        server.close()
        # the peer never closes: only the silence timeout makes the link connect again
        assert link.stats.connects >= 2
        assert len(accepted) >= 2

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_idle_timeout_setting() -> None:
    base = {"users": {"a": {"role": "viewer", "password": "a"}}}
    assert settings_from(Config(base, "t.yaml")).ground_idle_timeout == 600.0
    quiet = {**base, "ground_station": {"idle_timeout_s": 0}}
    assert settings_from(Config(quiet, "t.yaml")).ground_idle_timeout == 0.0
