"""Uplink and downlink end to end: TCP client → ground station → fake spacecraft and back."""

from __future__ import annotations

import json
from typing import Any

from gs_peers import SCID, UPLINK_KEY, UPLINK_SPI, Env, Harness, PacketClient, wait_until

from labctl.protocols.pus import PusTc, PusTm
from labctl.protocols.sdls import (
    Keyring,
    MacAlgorithm,
    RejectReason,
    SdlsEngine,
    SecurityAssociation,
    ServiceType,
)
from labctl.protocols.tc_frame import Bypass, FrameKind, segment
from labctl.protocols.tm_frame import Clcw, TmFrame
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.range.hosts.groundstation.conventions import GROUND_STATION_APID, Alert, StationStatus


def ping(count: int) -> bytes:
    return PusTc(PLATFORM_APID, 17, 1, seq_count=count).encode()


def report(count: int, data: bytes = b"hk") -> bytes:
    return PusTm(PLATFORM_APID, 3, 25, data, seq_count=count).encode()


def test_tc_packets_become_sdls_protected_ad_frames_with_increasing_ns(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        packets = [ping(n) for n in range(3)]
        await client.send(b"".join(packets))
        await wait_until(lambda: len(h.spacecraft.packets) == 3)
        frames = h.spacecraft.ad_frames()
        assert [f.seq for f in frames] == [0, 1, 2]
        for frame, packet, rx in zip(frames, packets, h.spacecraft.received, strict=True):
            assert (frame.scid, frame.vcid, frame.bypass, frame.ctrl_cmd) == (SCID, 0, 0, 0)
            assert rx.verdict is not None
            assert rx.verdict.accepted
            assert rx.verdict.spi == 1
            assert rx.verdict.data == segment(0, packet)
            assert packet not in frame.data  # authenticated encryption: not in the clear
        assert h.spacecraft.packets == packets
        await wait_until(lambda: not h.station.uplink.fop.sent)  # acknowledged by the CLCW
        assert h.station.counters.frames_sent == 3

    env.run(scenario)


def test_tm_packets_from_verified_frames_reach_every_client(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        first, second = await h.client(), await h.client()
        tm = [report(1), report(2, b"x" * 40)]
        h.spacecraft.send_tm(b"".join(tm))
        await wait_until(lambda: len(first.of(PLATFORM_APID)) == len(second.of(PLATFORM_APID)) == 2)
        assert first.of(PLATFORM_APID) == second.of(PLATFORM_APID) == tm
        assert h.station.counters.frames_received == 1
        assert h.station.counters.tm_packets_forwarded == 2

    env.run(scenario)


def test_packets_spanning_frames_are_reassembled(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        a, b, c = report(1, b"a" * 30), report(2, b"b" * 60), report(3)
        stream = a + b + c
        cut1, cut2 = len(a) + 10, len(a) + 40  # b spans three frames
        h.spacecraft.send_tm(stream[:cut1], fhp=0)
        h.spacecraft.send_tm(stream[cut1:cut2], fhp=0x7FF)
        h.spacecraft.send_tm(stream[cut2:], fhp=len(b) - 40)
        await wait_until(lambda: len(client.of(PLATFORM_APID)) == 3)
        assert client.of(PLATFORM_APID) == [a, b, c]

    env.run(scenario)


def test_frame_with_bad_mac_is_dropped_and_counted(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        forged = bytearray(h.spacecraft.tm_frame(report(1)))
        forged[20] ^= 0x01  # inside the ciphertext
        h.station.downlink.handle(_refecf(bytes(forged)))
        genuine = h.spacecraft.send_tm(report(2))
        await wait_until(lambda: len(client.of(PLATFORM_APID)) == 1)
        assert client.of(PLATFORM_APID) == [report(2)]
        h.spacecraft.send_raw(genuine)  # replayed: bad sequence number
        await wait_until(lambda: h.station.counters.sdls_rejections == 2)
        reasons = h.station.counters.sdls_by_reason
        assert reasons == {RejectReason.BAD_MAC.name: 1, RejectReason.BAD_SN.name: 1}
        assert len(client.of(PLATFORM_APID)) == 1

    env.run(scenario)


def test_invalid_datagrams_on_the_downlink_are_counted_not_fatal(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        h.spacecraft.send_raw(b"\x00" * 3)
        h.spacecraft.send_raw(b"\xff" * 3000)
        foreign = TmFrame(SCID + 1, 0, report(9), fhp=0).encode()
        h.spacecraft.send_raw(foreign)
        broken = bytearray(h.spacecraft.tm_frame(report(1)))
        broken[-1] ^= 0xFF  # bad FECF
        h.spacecraft.send_raw(bytes(broken))
        h.spacecraft.send_tm(report(2))
        await wait_until(lambda: len(client.of(PLATFORM_APID)) == 1)
        assert h.station.counters.frames_invalid == 4

    env.run(scenario)


def test_clear_downlink_when_no_sa_is_configured(env: Env) -> None:
    env.config["downlink"]["sa"] = "none"

    async def scenario(h: Harness) -> None:
        client = await h.client()
        h.spacecraft.send_tm(report(5))
        await wait_until(lambda: client.of(PLATFORM_APID) == [report(5)])

    env.run(scenario)


def test_lost_frames_are_retransmitted_on_fop_timeout(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        h.spacecraft.ignore_first = {0}
        await client.send(ping(0) + ping(1))
        await wait_until(lambda: h.spacecraft.packets == [ping(0), ping(1)])
        seqs = [f.seq for f in h.spacecraft.ad_frames()]
        assert seqs.count(0) == 2  # lost once, sent again after T1 (or the retransmit flag)
        assert h.station.counters.frames_retransmitted >= 1
        sdls_numbers = [r.verdict.sequence_number or 0 for r in h.spacecraft.received if r.verdict]
        assert sdls_numbers == sorted(set(sdls_numbers))  # fresh SDLS number every time
        await wait_until(lambda: not h.station.uplink.fop.sent)

    env.run(scenario)


def test_timer_retransmission_without_any_clcw(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        h.spacecraft.answer_with_clcw = False
        client = await h.client()
        await client.send(ping(0))
        await wait_until(lambda: len(h.spacecraft.ad_frames()) == 3)  # transmission limit 3
        await wait_until(lambda: h.station.uplink.alert is Alert.TRANSMISSION_LIMIT)
        alerted = Alert.TRANSMISSION_LIMIT
        await wait_until(lambda: any(_status(p).alert is alerted for p in _reports(client)))
        status = next(_status(p) for p in _reports(client) if _status(p).alert is alerted)
        assert status.frames_retransmitted == 2
        assert status.outstanding == 1

    env.run(scenario)


def test_lockout_is_reported_and_unlock_directive_resumes(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        h.spacecraft.send_clcw(Clcw(lockout=1, report=0))
        await wait_until(lambda: h.station.uplink.alert is Alert.LOCKOUT)
        await wait_until(lambda: any(_status(p).lockout for p in _reports(client)))
        status = _status(_reports(client)[-1])
        assert status.alert is Alert.LOCKOUT
        await wait_until(lambda: _status_file(env)["uplink"]["alert"] == "FARM-1 lockout")
        await client.send(ping(0))  # queued while locked out
        await client.send(PusTc(GROUND_STATION_APID, 128, 1).encode())
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])
        kinds = [r.frame.kind for r in h.spacecraft.received]
        assert kinds == [FrameKind.BC, FrameKind.AD]
        assert h.spacecraft.received[0].frame.data == b"\x00"  # Unlock, in the clear
        assert client.of(GROUND_STATION_APID, 1, 1)
        assert client.of(GROUND_STATION_APID, 1, 7)
        await wait_until(lambda: h.station.uplink.alert is Alert.NONE)

    env.run(scenario)


def test_set_vr_directive_renumbers_the_uplink(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(PusTc(GROUND_STATION_APID, 128, 2, b"\x05").encode())
        await wait_until(lambda: len(h.spacecraft.received) == 1)
        assert h.spacecraft.received[0].frame.data == b"\x82\x00\x05"
        assert h.spacecraft.farm.vr == 5
        await client.send(ping(0))
        await wait_until(lambda: h.spacecraft.packets == [ping(0)])
        assert h.spacecraft.ad_frames()[0].seq == 5

    env.run(scenario)


def test_directive_errors_and_connection_test(env: Env) -> None:
    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(PusTc(GROUND_STATION_APID, 17, 1).encode())
        await client.send(PusTc(GROUND_STATION_APID, 128, 2).encode())  # V*(R) missing
        await client.send(PusTc(GROUND_STATION_APID, 99, 9).encode())
        await wait_until(lambda: len(client.of(GROUND_STATION_APID, 1, 2)) == 2)
        assert len(client.of(GROUND_STATION_APID, 17, 2)) == 1
        codes = [int.from_bytes(p[-4:-2], "big") for p in client.of(GROUND_STATION_APID, 1, 2)]
        assert codes == [2, 1]  # bad arguments, unknown directive
        assert not h.spacecraft.received  # directives never go on the air

    env.run(scenario)


def test_bypass_uplink_sends_bd_frames(env: Env) -> None:
    env.config["uplink"]["bypass"] = True

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(ping(0) + ping(1))
        await wait_until(lambda: len(h.spacecraft.packets) == 2)
        frames = [r.frame for r in h.spacecraft.received]
        assert all(f.bypass == Bypass.TYPE_B and f.kind is FrameKind.BD for f in frames)
        assert all(r.verdict is not None and r.verdict.accepted for r in h.spacecraft.received)
        assert h.station.status().uplink_mode == 1

    env.run(scenario)


def test_uplink_sequence_number_survives_a_restart(env: Env) -> None:
    env.config["uplink"]["sa"]["sequence_file"] = str(env.tmp / "uplink-sn.json")

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await client.send(ping(0) + ping(1))
        await wait_until(lambda: len(h.spacecraft.packets) == 2)

    env.run(scenario)
    assert json.loads((env.tmp / "uplink-sn.json").read_text()) == {"1": 2}

    async def after_restart(h: Harness) -> None:
        client = await h.client()
        await client.send(ping(2))
        await wait_until(lambda: len(h.spacecraft.received) == 1)
        assert h.spacecraft.received[0].verdict is not None
        assert h.spacecraft.received[0].verdict.sequence_number == 3

    env.run(after_restart)


def test_status_packets_are_periodic_and_decodable(env: Env) -> None:
    env.config["status_interval"] = 0.1

    async def scenario(h: Harness) -> None:
        client = await h.client()
        await wait_until(lambda: len(_reports(client)) >= 3)
        status = _status(_reports(client)[-1])
        assert status.clients == 1
        assert status.fop_state == 1
        assert status.alert is Alert.NONE
        document = _status_file(env)
        assert document["report"]["clients"] == 1
        assert document["scid"] == SCID

    env.run(scenario)


# --- helpers -------------------------------------------------------------------------------


def _refecf(frame: bytes) -> bytes:
    from labctl.protocols.crc import append_crc16

    return append_crc16(frame[:-2])


def _reports(client: PacketClient) -> list[bytes]:
    return client.of(GROUND_STATION_APID, 3, 25)


def _status(packet: bytes) -> StationStatus:
    return StationStatus.decode(PusTm.decode(packet).source_data)


def _status_file(env: Env) -> dict[str, Any]:
    path = env.tmp / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"uplink": {}, "report": {}}


def test_protected_control_frames_when_configured(env: Env) -> None:
    env.config["uplink"]["sa"]["protect_control"] = True

    async def scenario(h: Harness) -> None:
        h.station.unlock()
        await wait_until(lambda: len(h.spacecraft.received) == 1)
        frame = h.spacecraft.received[0].frame
        assert frame.kind is FrameKind.BC
        assert frame.data != b"\x00"  # security header + MAC around the directive
        assert h.spacecraft.uplink is not None
        verdict = h.spacecraft.uplink.verify_tc(frame, segment_header=False)
        assert verdict.accepted
        assert verdict.data == b"\x00"

    env.run(scenario)


def test_authentication_only_uplink_keeps_the_packet_readable(env: Env) -> None:
    env.config["uplink"]["sa"].update(service="authentication", mac_algorithm="hmac_sha256")

    async def scenario(h: Harness) -> None:
        h.spacecraft.answer_with_clcw = False
        client = await h.client()
        await client.send(ping(7))
        await wait_until(lambda: len(h.spacecraft.received) == 1)
        frame = h.spacecraft.received[0].frame
        assert ping(7) in frame.data  # authenticated, not encrypted
        sa = SecurityAssociation(  # the lengths both ends default to for authentication
            UPLINK_SPI,
            ServiceType.AUTHENTICATION,
            iv_len=0,
            sn_len=4,
            mac_algorithm=MacAlgorithm.HMAC_SHA256,
        )
        spacecraft = SdlsEngine.of([sa], Keyring({0: UPLINK_KEY}))
        assert spacecraft.verify_tc(frame).data == segment(0, ping(7))

    env.run(scenario)
