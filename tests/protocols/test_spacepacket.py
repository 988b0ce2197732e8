import pytest
from hypothesis import given
from protocol_strategies import space_packets
from spacepackets.ccsds.spacepacket import (
    PacketType as TheirPacketType,
)
from spacepackets.ccsds.spacepacket import (
    SequenceFlags as TheirSequenceFlags,
)
from spacepackets.ccsds.spacepacket import (
    SpacePacket as TheirSpacePacket,
)
from spacepackets.ccsds.spacepacket import (
    SpacePacketHeader,
)

from labctl.errors import ProtocolError
from labctl.protocols.spacepacket import (
    IDLE_APID,
    PRIMARY_HEADER,
    PacketType,
    SpacePacket,
    idle_packet,
    packet_length_at,
)


@given(space_packets)
def test_round_trip_is_byte_identical(packet: SpacePacket) -> None:
    raw = packet.encode()
    assert SpacePacket.decode(raw) == packet
    assert SpacePacket.decode(raw).encode() == raw


@given(space_packets)
def test_ours_parses_with_spacepackets(packet: SpacePacket) -> None:
    raw = packet.encode()
    header = SpacePacketHeader.unpack(raw)
    assert header.apid == packet.apid
    assert header.seq_count == packet.seq_count
    assert header.packet_type == packet.packet_type
    assert header.sec_header_flag == bool(packet.sec_header_flag)
    assert header.seq_flags == packet.seq_flags
    assert header.ccsds_version == packet.version
    assert header.packet_len == len(raw)


@given(space_packets)
def test_theirs_decodes_with_ours(packet: SpacePacket) -> None:
    header = SpacePacketHeader(
        packet_type=TheirPacketType(packet.packet_type),
        apid=packet.apid,
        seq_count=packet.seq_count,
        data_len=len(packet.data) - 1,
        sec_header_flag=bool(packet.sec_header_flag),
        seq_flags=TheirSequenceFlags(packet.seq_flags),
        ccsds_version=packet.version,
    )
    sec, user = (
        (packet.data[:1], packet.data[1:]) if packet.sec_header_flag else (None, packet.data)
    )
    theirs = bytes(TheirSpacePacket(header, sec, user).pack())
    assert SpacePacket.decode(theirs) == packet


def test_known_header_bytes() -> None:
    raw = SpacePacket(apid=0x42, packet_type=PacketType.TC, seq_count=7, data=b"\xaa").encode()
    assert raw == bytes.fromhex("104 2c0 070 000 aa".replace(" ", ""))


def test_idle_packet() -> None:
    raw = idle_packet(20)
    packet = SpacePacket.decode(raw)
    assert packet.is_idle
    assert packet.apid == IDLE_APID
    assert len(raw) == 20
    assert set(packet.data) == {0xFF}
    with pytest.raises(ProtocolError):
        idle_packet(6)


def test_decode_errors_are_typed() -> None:
    good = SpacePacket(apid=1, data=b"abc").encode()
    with pytest.raises(ProtocolError):
        SpacePacket.decode(good[:5])
    with pytest.raises(ProtocolError):
        SpacePacket.decode(good[:-1])
    with pytest.raises(ProtocolError, match="trailing"):
        SpacePacket.decode(good + b"x")
    with pytest.raises(ProtocolError):
        SpacePacket(apid=0x800).encode()
    with pytest.raises(ProtocolError):
        SpacePacket(data=b"").encode()


def test_decode_prefix_walks_concatenated_packets() -> None:
    a, b = SpacePacket(apid=1, data=b"a").encode(), SpacePacket(apid=2, data=b"bb").encode()
    first, end = SpacePacket.decode_prefix(a + b)
    second, end2 = SpacePacket.decode_prefix(a + b, end)
    assert (first.apid, second.apid, end2) == (1, 2, len(a + b))
    assert packet_length_at(a + b, end) == len(b)
    assert packet_length_at(b"\x00", 0) is None


def test_field_table_matches_standard_widths() -> None:
    assert [f.width for f in PRIMARY_HEADER.fields] == [3, 1, 1, 11, 2, 14, 16]
    assert PRIMARY_HEADER.size == 6
