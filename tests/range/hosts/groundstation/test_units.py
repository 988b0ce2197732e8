"""Pure parts: packet reassembly across frames, the status layout, packet validation."""

from __future__ import annotations

import pytest

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc, PusTm
from labctl.protocols.spacepacket import idle_packet
from labctl.protocols.tm_frame import FHP_IDLE, FHP_NO_PACKET_START
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.range.hosts.groundstation.conventions import Alert, StationStatus, UplinkMode
from labctl.range.hosts.groundstation.downlink import PacketExtractor, valid_tm_packet


def tm(count: int, size: int = 10) -> bytes:
    return PusTm(PLATFORM_APID, 3, 25, bytes([count]) * size, seq_count=count).encode()


def test_whole_packets_and_idle_fill_in_one_frame() -> None:
    extractor = PacketExtractor()
    zone = tm(1) + tm(2) + idle_packet(20)
    assert extractor.push(0, 0, zone) == [tm(1), tm(2), idle_packet(20)]


def test_short_fill_after_the_last_packet_is_ignored() -> None:
    extractor = PacketExtractor()
    assert extractor.push(0, 0, tm(1) + b"\xff" * 5) == [tm(1)]
    assert extractor.push(1, 0, tm(2) + b"\xff") == [tm(2)]
    assert extractor.broken == 0


def test_packet_spanning_three_frames() -> None:
    extractor = PacketExtractor()
    a, b = tm(1), tm(2, 100)
    stream = a + b + tm(3)
    assert extractor.push(0, 0, stream[: len(a) + 5]) == [a]
    assert extractor.push(1, FHP_NO_PACKET_START, stream[len(a) + 5 : len(a) + 50]) == []
    rest = stream[len(a) + 50 :]
    assert extractor.push(2, len(b) - 50, rest) == [b, tm(3)]
    assert extractor.octets_lost == 0
    assert extractor.broken == 0


def test_header_cut_between_frames() -> None:
    extractor = PacketExtractor()
    a = tm(1)
    assert extractor.push(7, 0, a[:3]) == []
    assert extractor.push(8, len(a) - 3, a[3:]) == [a]


def test_a_missing_frame_drops_the_packet_in_progress() -> None:
    extractor = PacketExtractor()
    a, b = tm(1, 60), tm(2)
    assert extractor.push(0, 0, a[:20]) == []
    # frame 1 lost; frame 2 holds the tail of a and then b
    assert extractor.push(2, len(a) - 40, a[40:] + b) == [b]
    assert extractor.octets_lost == 20 + (len(a) - 40)


def test_inconsistent_first_header_pointers_are_counted_not_fatal() -> None:
    extractor = PacketExtractor()
    assert extractor.push(0, 50, b"\x00" * 10) == []  # pointer beyond the data
    assert extractor.push(1, 0, tm(1)[:12]) == []
    assert extractor.push(2, 2, b"\x00" * 8) == []  # new packet before the old one ended
    assert extractor.push(3, FHP_IDLE, b"\x55" * 8) == []
    assert extractor.broken == 2
    assert extractor.push(4, 0, tm(4)) == [tm(4)]


def test_reassembly_is_bounded() -> None:
    extractor = PacketExtractor(max_packet=64)
    huge = PusTm(PLATFORM_APID, 3, 25, b"z" * 200).encode()
    assert extractor.push(0, 0, huge[:50]) == []
    assert extractor.push(1, FHP_NO_PACKET_START, huge[50:120]) == []
    assert extractor.broken == 1


def test_tm_packet_validation() -> None:
    assert valid_tm_packet(tm(1))
    broken = bytearray(tm(1))
    broken[-1] ^= 1
    assert not valid_tm_packet(bytes(broken))
    assert not valid_tm_packet(PusTc(PLATFORM_APID, 17, 1).encode())
    assert valid_tm_packet(idle_packet(12))


def test_status_round_trip_and_rejection() -> None:
    status = StationStatus(UplinkMode.AD, 3, Alert.LOCKOUT, 17, 2, 0x03, 16, 0xC8, 1, *range(1, 10))
    data = status.encode()
    assert len(data) == 46
    assert data[0] == 0x10
    assert StationStatus.decode(data) == status
    assert status.lockout
    assert status.as_dict()["garbage_octets"] == 8
    with pytest.raises(ProtocolError):
        StationStatus.decode(data[:-1])
    with pytest.raises(ProtocolError):
        StationStatus.decode(b"\x11" + data[1:])
