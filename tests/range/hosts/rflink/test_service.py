"""The rf-link on loopback: relaying, delay, jamming, pcap, status, floods."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from labctl.range.hosts.config import Config
from labctl.range.hosts.rflink import RfLink, parse_config
from labctl.range.hosts.udp import UdpEndpoint, open_udp


def link_config(tmp_path: Path, up_air: int, down_air: int, **channel: Any) -> Config:
    return Config(
        {
            "uplink": {"host": "127.0.0.1", "port": 0, "air": [f"127.0.0.1:{up_air}"]},
            "downlink": {"host": "127.0.0.1", "port": 0, "air": [f"127.0.0.1:{down_air}"]},
            "channel": {"seed": 4, **channel},
            "pcap": {"path": str(tmp_path / "rf.pcap"), "max_bytes": 100_000},
            "status_file": str(tmp_path / "status.json"),
            "status_interval": 0.05,
            "max_datagram": 1100,
        },
        "rf-link.yaml",
    )


async def started(tmp_path: Path, **channel: Any) -> tuple[RfLink, UdpEndpoint, UdpEndpoint]:
    up_air, down_air = await open_udp("127.0.0.1", 0), await open_udp("127.0.0.1", 0)
    config = link_config(tmp_path, up_air.address[1], down_air.address[1], **channel)
    link = RfLink(parse_config(config))
    await link.start()
    return link, up_air, down_air


def test_relays_both_directions_with_delay_and_writes_pcap(
    tmp_path: Path, loopback: SimpleNamespace
) -> None:
    async def scenario() -> None:
        link, up_air, down_air = await started(tmp_path, delay_ms=50)
        sender = await open_udp("127.0.0.1", 0)
        try:
            start = time.monotonic()
            sender.send(b"uplink frame", link.address("uplink"))
            sender.send(b"downlink frame", link.address("downlink"))
            got_up = await loopback.collect(up_air, lambda got: len(got) == 1)
            got_down = await loopback.collect(down_air, lambda got: len(got) == 1)
            assert time.monotonic() - start >= 0.045
            assert (got_up, got_down) == ([b"uplink frame"], [b"downlink frame"])
            await asyncio.sleep(0.1)
            status = json.loads((tmp_path / "status.json").read_text())
            assert status["uplink"]["forwarded"] == status["downlink"]["forwarded"] == 1
            assert status["pcap"]["records"] == 2
        finally:
            sender.close()
            up_air.close()
            down_air.close()
            await link.stop()

    loopback.run_async(scenario())


def test_jammed_uplink_carries_nothing(tmp_path: Path, loopback: SimpleNamespace) -> None:
    async def scenario() -> None:
        link, up_air, down_air = await started(tmp_path, jamming={"uplink": True})
        sender = await open_udp("127.0.0.1", 0)
        try:
            for _ in range(10):
                sender.send(b"x" * 20, link.address("uplink"))
            sender.send(b"telemetry", link.address("downlink"))
            assert await loopback.collect(down_air, lambda got: len(got) == 1) == [b"telemetry"]
            assert await loopback.collect(up_air, lambda got: False, timeout=0.1) == []
            assert link.status()["dropped"] == {"uplink_jammed": 10}
        finally:
            sender.close()
            up_air.close()
            down_air.close()
            await link.stop()

    loopback.run_async(scenario())


def test_loss_one_and_oversize_datagrams(tmp_path: Path, loopback: SimpleNamespace) -> None:
    async def scenario() -> None:
        link, up_air, down_air = await started(tmp_path, loss=1.0)
        sender = await open_udp("127.0.0.1", 0)
        try:
            for _ in range(20):
                sender.send(b"y" * 30, link.address("uplink"))
            sender.send(b"z" * 1500, link.address("uplink"))
            assert await loopback.eventually(
                lambda: link.relays["uplink"].endpoint.counters.received == 21
            )
            assert await loopback.collect(up_air, lambda got: False, timeout=0.1) == []
            status = link.status()
            assert status["dropped"] == {"uplink_lost": 20}
            assert status["uplink"]["dropped_oversize"] == 1
        finally:
            sender.close()
            up_air.close()
            down_air.close()
            await link.stop()

    loopback.run_async(scenario())


def test_flood_is_relayed_or_counted_never_fatal(tmp_path: Path, loopback: SimpleNamespace) -> None:
    async def scenario() -> None:
        # noise that jams is the next test; here every datagram heard must be relayed
        link, up_air, down_air = await started(tmp_path, jamming={"noise_threshold": 0})
        sender = await open_udp("127.0.0.1", 0)
        try:
            for i in range(2000):
                sender.send(bytes([i & 0xFF]) * (1 + i % 900), link.address("uplink"))
                if i % 20 == 0:
                    await asyncio.sleep(0)
            sender.send(b"still alive", link.address("downlink"))
            assert await loopback.collect(down_air, lambda got: b"still alive" in got)
            relay = link.relays["uplink"]
            counters = relay.endpoint.counters
            assert await loopback.eventually(lambda: relay.forwarded == counters.received)
            assert counters.received > 100  # the rest the kernel dropped: also survivable
        finally:
            sender.close()
            up_air.close()
            down_air.close()
            await link.stop()

    loopback.run_async(scenario())


def test_noise_on_the_air_jams_the_uplink(tmp_path: Path, loopback: SimpleNamespace) -> None:
    from labctl.protocols.tc_frame import TcFrame

    frame = TcFrame(300, 0, b"\x00\x01\x02", 7).encode()

    async def scenario() -> None:
        link, up_air, down_air = await started(tmp_path, jamming={"noise_threshold": 20})
        sender = await open_udp("127.0.0.1", 0)
        try:
            sender.send(frame, link.address("uplink"))
            assert await loopback.collect(up_air, lambda got: len(got) == 1) == [frame]
            for i in range(60):
                sender.send(bytes([i]) * 50, link.address("uplink"))
            relay = link.relays["uplink"]
            assert await loopback.eventually(lambda: relay.endpoint.counters.received == 61)
            sender.send(frame, link.address("uplink"))
            sender.send(b"telemetry", link.address("downlink"))
            assert await loopback.collect(down_air, lambda got: len(got) == 1) == [b"telemetry"]
            heard = await loopback.collect(up_air, lambda got: False, timeout=0.2)
            assert frame not in heard  # the operator's frame drowned in the noise
            status = link.status()
            assert status["jamming"]["uplink"] is True
            assert status["noise"] == {"uplink": 60}
            assert status["dropped"]["uplink_jammed"] >= 1
        finally:
            sender.close()
            up_air.close()
            down_air.close()
            await link.stop()

    loopback.run_async(scenario())
