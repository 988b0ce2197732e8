"""Stream and datagram splitting: garbage is skipped and reported, buffers stay bounded."""

import random

from labctl.protocols.pus import PusTc, PusTm
from labctl.protocols.spacepacket import PacketType, SpacePacket
from labctl.protocols.stream import (
    ASM,
    packet_stream,
    packets_in,
    space_packet_at,
    split_datagram,
    tc_frame_at,
    tc_frame_stream,
    tm_frame_stream,
)
from labctl.protocols.tc_frame import TcFrame, segment
from labctl.protocols.tm_frame import TmFrame


def tc(seq: int) -> bytes:
    return TcFrame(0x42, 1, segment(0, PusTc(1, 17, 1, seq_count=seq).encode()), seq).encode()


def test_tc_stream_skips_and_reports_garbage_between_frames() -> None:
    stream = tc_frame_stream()
    junk = b"\xff\xee\xdd"
    data = tc(0) + junk + tc(1) + tc(2)
    frames, garbage = stream.feed(data)
    assert [f.seq for f in frames] == [0, 1, 2]
    assert len(garbage) == 1
    assert garbage[0].offset == len(tc(0))
    assert garbage[0].length == 3
    assert garbage[0].sample == junk


def test_tc_stream_reassembles_across_any_chunking() -> None:
    data = b"".join(tc(n) for n in range(10))
    rng = random.Random(7)
    for _ in range(20):
        stream = tc_frame_stream()
        seen = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 40)
            frames, garbage = stream.feed(data[pos : pos + step])
            assert not garbage
            seen += [f.seq for f in frames]
            pos += step
        assert seen == list(range(10))
        assert stream.close() == ([], [])


def test_corrupted_frame_is_garbage_and_stream_resyncs() -> None:
    bad = bytearray(tc(1))
    bad[8] ^= 0xFF
    frames, garbage = split_datagram(tc_frame_at(), tc(0) + bytes(bad) + tc(2))
    assert [f.seq for f in frames] == [0, 2]
    assert sum(g.length for g in garbage) == len(bad)


def test_unknown_scid_is_garbage() -> None:
    frames, garbage = split_datagram(tc_frame_at(frozenset({0x99})), tc(0))
    assert frames == []
    assert garbage[0].length == len(tc(0))


def test_truncated_tail_reported_on_close() -> None:
    stream = tc_frame_stream()
    frames, _ = stream.feed(tc(0) + tc(1)[:7])
    assert len(frames) == 1
    units, tail = stream.close()
    assert units == []
    assert sum(g.length for g in tail) == 7


def test_packet_stream_with_apid_filter_and_pec() -> None:
    good = PusTm(5, 3, 25, b"hk").encode()
    other = PusTm(6, 3, 25, b"hk").encode()
    packets, garbage = split_datagram(
        space_packet_at(apids=frozenset({5}), check_pec=True), good + other + good
    )
    assert [p.apid for p in packets] == [5, 5]
    assert garbage[0].length == len(other)
    corrupt = bytearray(good)
    corrupt[-1] ^= 1
    stream = packet_stream(apids=frozenset({5}), check_pec=True)
    packets, garbage = stream.feed(bytes(corrupt) + good)
    more, tail = stream.close()
    assert [p.apid for p in packets + more] == [5]
    assert sum(g.length for g in garbage + tail) == len(corrupt)


def test_packet_stream_caps_declared_length() -> None:
    huge = SpacePacket(apid=1, data=bytes(5000)).encode()
    packets, garbage = packet_stream(max_size=4096).feed(huge)
    assert packets == [] or all(len(p) <= 4096 for p in packets)
    assert garbage


def test_tm_stream_with_and_without_asm() -> None:
    frames = [TmFrame(0x42, 1, bytes([n]) * 20, mc_count=n).encode() for n in range(3)]
    size = len(frames[0])
    out, garbage = tm_frame_stream(size).feed(b"".join(frames))
    assert [f.mc_count for f in out] == [0, 1, 2]
    assert not garbage
    synced = b"junk" + b"".join(ASM + f for f in frames)
    out, garbage = tm_frame_stream(size, asm=True).feed(synced)
    assert [f.mc_count for f in out] == [0, 1, 2]
    assert garbage[0].length == 4


def test_packets_in_frame_data_field() -> None:
    a, b = PusTc(1, 17, 1).encode(), PusTc(2, 17, 1).encode()
    packets, rest = packets_in(a + b + b[:4])
    assert [p.apid for p in packets] == [1, 2]
    assert rest == b[:4]


def test_buffer_stays_bounded_under_garbage_flood() -> None:
    rng = random.Random(1)
    stream = tc_frame_stream()
    total = 0
    for _ in range(200):
        chunk = rng.randbytes(512)
        stream.feed(chunk)
        total += len(chunk)
        assert len(stream._buf) <= 1024 + 512
    assert stream.close() is not None


def test_space_packet_decoder_rejects_version() -> None:
    raw = bytearray(PusTc(1, 17, 1).encode())
    raw[0] |= 0x20
    packets, garbage = split_datagram(space_packet_at(apids=frozenset({1})), bytes(raw))
    assert packets == []
    assert garbage


def test_pus_filter_skips_a_header_without_secondary_header_instead_of_swallowing() -> None:
    # A junk run shaped like a TM header with no secondary header (so no CRC to check)
    # and a long declared length would otherwise eat the real packets after it.
    junk = bytes([0x00, 0x64, 0xC0, 0x00, 0x00, 0x40])
    good = [PusTm(0x64, 3, 25, b"hk", seq_count=n).encode() for n in range(3)]
    plain = packet_stream(max_size=4096, check_pec=True)
    strict = packet_stream(max_size=4096, check_pec=True, packet_type=PacketType.TM, pus=True)
    assert len(plain.feed(junk + b"".join(good))[0]) < 3
    packets, garbage = strict.feed(junk + b"".join(good))
    assert [p.seq_count for p in packets] == [0, 1, 2]
    assert garbage[0].length == len(junk)


def test_packet_type_filter_rejects_the_other_direction() -> None:
    stream = packet_stream(check_pec=True, packet_type=PacketType.TC, pus=True)
    tm = PusTm(0x64, 17, 2).encode()
    tc_packet = PusTc(0x64, 17, 1).encode()
    packets, garbage = stream.feed(tm + tc_packet)
    assert [p.packet_type for p in packets] == [PacketType.TC]
    assert garbage[0].length == len(tm)


def test_apid_filter_is_judged_before_waiting_for_the_length() -> None:
    stream = packet_stream(apids=frozenset({0x64}), max_size=4096)
    forged = bytes([0x08, 0x65, 0xC0, 0x00, 0x0F, 0xFF])  # APID 0x65, 4 KiB declared
    packets, _ = stream.feed(forged + PusTm(0x64, 17, 2).encode())
    assert len(packets) == 1
