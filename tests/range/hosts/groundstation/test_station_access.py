"""A shared station's packet service with customer access: rolling passwords, booked
windows and revocation, on the real ground-station daemon over loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from gs_peers import Env, Harness, wait_until

from labctl.protocols.pus import PusTc
from labctl.protocols.station_access import (
    ACCESS_REQUEST,
    encode_request,
    period_number,
    rolling_code,
)
from labctl.range.hosts.catalog import GROUND_STATION_APID, PLATFORM_APID
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.groundstation.settings import settings_from_mapping
from labctl.range.hosts.missioncontrol.groundlink import GroundLink, StationAccess

MISSION = bytes.fromhex("11" * 16)
PARTNER = bytes.fromhex("22" * 16)
PERIOD = 60.0


def ping(count: int) -> bytes:
    return PusTc(PLATFORM_APID, 17, 1, seq_count=count).encode()


def request(name: str, secret: bytes, period_offset: int = 0) -> bytes:
    code = rolling_code(secret, name, period_number(time.time(), PERIOD) + period_offset)
    return PusTc(GROUND_STATION_APID, *ACCESS_REQUEST, encode_request(name, code)).encode()


def shared(env: Env, **partner: Any) -> None:
    """Access control on: customers 'mission' (any time) and 'partner' (``partner``)."""
    for name, secret in (("mission", MISSION), ("partner", PARTNER)):
        (env.tmp / f"{name}.access").write_text(secret.hex() + "\n", encoding="ascii")
    env.config["packet_service"]["access"] = {
        "enabled": True,
        "period": PERIOD,
        "customers": {
            "mission": {"secret_file": str(env.tmp / "mission.access")},
            "partner": {"secret_file": str(env.tmp / "partner.access"), **partner},
        },
    }


async def refused(h: Harness, first: bytes) -> None:
    client = await h.client()
    before = h.station.counters.access_refused
    await client.send(first + ping(1))
    await wait_until(lambda: client.closed)
    assert h.station.counters.access_refused == before + 1
    assert h.spacecraft.packets == []


def test_a_customer_with_its_rolling_password_commands(env: Env) -> None:
    shared(env)

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(request("mission", MISSION) + ping(0))
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])
        assert h.station.counters.access_granted == 1
        document = h.station.status_document()
        assert document["counters"]["access_granted"] == 1
        assert list(document["access"]["connected"].values()) == ["mission"]
        assert document["access"]["customers"]["partner"] == {"revoked": False, "booked_now": True}

    env.run(scenario)


def test_last_period_s_password_is_still_good(env: Env) -> None:
    shared(env)

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(request("mission", MISSION, -1) + ping(0))
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])

    env.run(scenario)


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(ping(0), id="no access request"),
        pytest.param(request("mission", PARTNER), id="wrong secret"),
        pytest.param(request("mission", MISSION, -2), id="an old password"),
        pytest.param(request("stranger", MISSION), id="unknown customer"),
        pytest.param(
            PusTc(GROUND_STATION_APID, *ACCESS_REQUEST, b"\x05ab").encode(), id="malformed"
        ),
    ],
)
def test_a_client_without_a_good_password_is_refused_and_disconnected(
    env: Env, first: bytes
) -> None:
    shared(env)
    env.run(lambda h: refused(h, first))


def test_a_revoked_customer_is_refused(env: Env) -> None:
    shared(env, revoked=True)
    env.run(lambda h: refused(h, request("partner", PARTNER)))


def test_outside_its_booked_window_a_customer_is_refused(env: Env) -> None:
    now = time.time()
    shared(env, windows=[{"every": 3600, "offset": (now + 600) % 3600, "length": 60}])
    env.run(lambda h: refused(h, request("partner", PARTNER)))


def test_a_customer_is_disconnected_when_its_window_closes(env: Env) -> None:
    now = time.time()
    shared(env, windows=[{"every": 3600, "offset": (now - 10) % 3600, "length": 60}])

    async def scenario(h: Harness) -> None:
        partner = await h.client()
        mission = await h.client()
        await partner.send(request("partner", PARTNER) + ping(0))
        await mission.send(request("mission", MISSION))
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])
        h.station.packets.wall = lambda: time.time() + 120  # the window is over
        await wait_until(lambda: partner.closed, timeout=5)
        assert h.station.counters.access_expired == 1
        assert not mission.closed  # booked at any time

    env.run(scenario)


def test_telemetry_goes_only_to_customers_that_proved_their_password(env: Env) -> None:
    shared(env)

    async def scenario(h: Harness) -> None:
        stranger = await h.client()
        mission = await h.client()
        await mission.send(request("mission", MISSION))
        await wait_until(lambda: h.station.counters.access_granted == 1)
        h.station.packets.broadcast(ping(5))
        await wait_until(lambda: mission.of(PLATFORM_APID) == [ping(5)])
        assert stranger.of(PLATFORM_APID) == []

    env.run(scenario)


def test_mission_control_s_request_is_what_the_station_takes(env: Env) -> None:
    shared(env)
    first = StationAccess("mission", MISSION, PERIOD).request(time.time())

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(first + ping(0))
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])

    env.run(scenario)


@pytest.mark.parametrize(
    ("access", "problem"),
    [
        ({"enabled": True}, "access is on: name a customer"),
        ({"enabled": True, "customers": {"a b": {}}}, "name: 1-32"),
        ({"enabled": True, "customers": {"m": {}}}, "secret_file: missing"),
        ({"enabled": True, "customers": {"m": {"secret_file": "/nonexistent"}}}, "cannot read"),
        ({"enabled": True, "customers": {"m": {"secret": "x"}}}, "unknown key"),
        ({"enabled": True, "period": 1, "customers": {}}, "outside 5.0..86400"),
    ],
)
def test_bad_access_settings_are_one_line_naming_the_key(
    env: Env, access: dict[str, Any], problem: str
) -> None:
    env.config["packet_service"]["access"] = access
    with pytest.raises(HostConfigError, match=problem):
        settings_from_mapping(env.config)


def test_a_window_longer_than_its_repeat_is_refused(env: Env, tmp_path: Path) -> None:
    shared(env, windows=[{"every": 60, "length": 90}])
    with pytest.raises(HostConfigError, match="longer than every"):
        settings_from_mapping(env.config)


def test_mission_control_s_ground_link_gets_through_a_shared_station(env: Env) -> None:
    """Mission control's own link client, with the customer's credentials, connects to
    the real station, is granted access and commands; with the wrong secret it is not."""
    shared(env)

    async def scenario(h: Harness) -> None:
        host, port = h.station.packet_service_address
        wrong = GroundLink(host, port, lambda _: None, access=StationAccess("mission", PARTNER))
        right = GroundLink(host, port, lambda _: None, access=StationAccess("mission", MISSION))
        tasks = [asyncio.create_task(link.run()) for link in (wrong, right)]
        try:
            await wait_until(lambda: h.station.counters.access_granted == 1, timeout=5)
            await right.send(ping(3))
            await wait_until(lambda: h.spacecraft.packets == [ping(3)])
            await wait_until(lambda: h.station.counters.access_refused >= 1, timeout=5)
        finally:
            for task in tasks:
                task.cancel()

    env.run(scenario)


def test_a_client_that_never_asks_for_access_does_not_hold_a_place(env: Env) -> None:
    shared(env)
    env.config["packet_service"]["access"]["timeout"] = 0.5

    async def scenario(h: Harness) -> None:
        silent = await h.client()
        await wait_until(lambda: silent.closed, timeout=5)
        assert h.station.counters.access_refused == 1
        assert h.station.packets.clients == []

    env.run(scenario)
