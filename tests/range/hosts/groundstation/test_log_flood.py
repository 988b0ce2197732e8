"""Hostile input must not turn into a log flood: 100,000 forged frames and 20,000 garbage
runs through the ground station in-process give a bounded number of log lines, and
everything is still counted."""

from __future__ import annotations

import logging

import pytest
from gs_peers import DOWNLINK_SPI, SCID, Env, Harness, wait_until

from labctl.protocols.pus import PusTc, PusTm
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.protocols.tm_frame import Clcw, TmFrame
from labctl.range.hosts.catalog import PLATFORM_APID

FORGED = 100_000
#: Per kind: a burst of 5 and at most one summary per minute; a handful of kinds.
MAX_LINES = 60


def forged_frames(count: int) -> list[bytes]:
    """Downlink frames protected with the wrong key (bad MAC), with a broken FECF, and for
    another spacecraft: the three things anyone on the air can send."""
    forger = SdlsEngine.of([SecurityAssociation(DOWNLINK_SPI)], Keyring({0: bytes(32)}))
    tm = PusTm(PLATFORM_APID, 3, 25, b"forged").encode()
    frames = []
    for n in range(count):
        frame = forger.protect_tm(TmFrame(SCID, 0, tm, 0, n % 256, 0, Clcw(0, 0).encode()), 2)
        raw = frame.encode()
        kind = n % 3
        if kind == 1:
            raw = raw[:-1] + bytes([raw[-1] ^ 0xFF])  # FECF no longer checks
        elif kind == 2:
            raw = TmFrame(SCID + 1, 0, tm, 0, n % 256, 0, Clcw(0, 0).encode()).encode()
        frames.append(raw)
    return frames


def test_100k_forged_downlink_frames_give_a_bounded_log(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    frames = forged_frames(1000)
    caplog.set_level(logging.DEBUG, logger="labctl.range.hosts")

    async def scenario(h: Harness) -> None:
        caplog.clear()
        for n in range(FORGED):
            h.station.downlink.handle(frames[n % len(frames)])
        counters = h.station.counters
        assert counters.sdls_rejections + counters.frames_invalid == FORGED
        bad_mac = sum(1 for n in range(FORGED) if n % len(frames) % 3 == 0)
        assert counters.sdls_by_reason["BAD_MAC"] == bad_mac
        for limited in h.station.rate_limited_logs:
            limited.flush(force=True)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) <= MAX_LINES, lines[:20]
        summaries = [line for line in lines if "not logged one by one" in line]
        assert any(
            line.startswith("downlink: frames rejected by SDLS (BAD_MAC)") for line in summaries
        )
        assert any(line.startswith("downlink: invalid frames") for line in summaries)

    env.run(scenario)


def test_garbage_on_the_packet_service_gives_a_bounded_log(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="labctl.range.hosts")
    ping = PusTc(PLATFORM_APID, 17, 1).encode()
    junk = b"\xff" * 7 + ping  # one garbage run, then a good packet: 20,000 of them
    runs = 20_000

    async def scenario(h: Harness) -> None:
        client = await h.client()
        caplog.clear()
        for _ in range(runs // 1000):
            await client.send(junk * 1000)
        await wait_until(lambda: h.station.counters.garbage_octets == 7 * runs, timeout=8)
        for limited in h.station.rate_limited_logs:
            limited.flush(force=True)
        assert len(caplog.records) <= MAX_LINES

    env.run(scenario)
