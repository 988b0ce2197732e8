import datetime as dt

import pytest
from hypothesis import given
from protocol_strategies import pus_tcs, pus_tms
from spacepackets.ccsds.time import CdsShortTimestamp
from spacepackets.ecss.tc import PusTc as TheirTc
from spacepackets.ecss.tm import PusTm as TheirTm

from labctl.errors import ProtocolError
from labctl.protocols.crc import CrcError
from labctl.protocols.pus import CdsShortTime, PusTc, PusTm


@given(pus_tcs)
def test_tc_round_trip(tc: PusTc) -> None:
    raw = tc.encode()
    assert PusTc.decode(raw) == tc
    assert PusTc.decode(raw).encode() == raw


@given(pus_tms)
def test_tm_round_trip(tm: PusTm) -> None:
    raw = tm.encode()
    assert PusTm.decode(raw) == tm
    assert PusTm.decode(raw).encode() == raw


@given(pus_tcs)
def test_tc_bytes_identical_to_spacepackets_both_ways(tc: PusTc) -> None:
    theirs = TheirTc(
        service=tc.service,
        message_subtype=tc.subtype,
        apid=tc.apid,
        app_data=tc.app_data,
        seq_count=tc.seq_count,
        source_id=tc.source_id,
        ack_flags=tc.ack_flags,
    )
    theirs.sp_header.seq_flags = tc.seq_flags
    raw = bytes(theirs.pack())
    assert tc.encode() == raw
    assert PusTc.decode(raw) == tc
    back = TheirTc.unpack(tc.encode())
    assert (back.service, back.message_subtype, back.apid) == (tc.service, tc.subtype, tc.apid)
    assert bytes(back.app_data) == tc.app_data
    assert back.source_id == tc.source_id


@given(pus_tms)
def test_tm_bytes_identical_to_spacepackets_both_ways(tm: PusTm) -> None:
    theirs = TheirTm(
        service=tm.service,
        message_subtype=tm.subtype,
        timestamp=tm.time,
        source_data=tm.source_data,
        apid=tm.apid,
        seq_count=tm.seq_count,
        message_counter=tm.msg_counter,
        destination_id=tm.dest_id,
    )
    theirs.pus_tm_sec_header.spacecraft_time_ref = tm.time_ref
    theirs.space_packet_header.seq_flags = tm.seq_flags
    raw = bytes(theirs.pack())
    assert tm.encode() == raw
    assert PusTm.decode(raw) == tm
    back = TheirTm.unpack(tm.encode(), timestamp_len=7)
    assert (back.service, back.message_subtype, back.apid) == (tm.service, tm.subtype, tm.apid)
    assert bytes(back.source_data) == tm.source_data
    assert bytes(back.timestamp) == tm.time


def test_known_ping_bytes() -> None:
    assert PusTc(apid=1, service=17, subtype=1, seq_count=22).encode() == bytes.fromhex(
        "1801c01600062f11010000ab62"
    )


def test_bad_pec_is_rejected() -> None:
    raw = bytearray(PusTc(apid=1, service=17, subtype=1, app_data=b"xyz").encode())
    raw[-3] ^= 0x40
    with pytest.raises(CrcError):
        PusTc.decode(bytes(raw))


def test_type_mismatch_and_short_packets_rejected() -> None:
    tm = PusTm(apid=1, service=3, subtype=25).encode()
    with pytest.raises(ProtocolError, match="type"):
        PusTc.decode(tm)
    with pytest.raises(ProtocolError):
        PusTm.decode(tm[:10])
    short = bytes.fromhex("1801c0000001") + b"\x00\x00"  # 2-octet data field: no room
    with pytest.raises(ProtocolError):
        PusTc.decode(short)


def test_cds_short_time_matches_spacepackets() -> None:
    when = dt.datetime(2024, 5, 17, 12, 30, 1, 250000, tzinfo=dt.UTC)
    ours = CdsShortTime.from_datetime(when)
    theirs = CdsShortTimestamp.from_datetime(when)
    assert ours.encode() == theirs.pack()
    assert ours.to_datetime() == when
    assert CdsShortTime.decode(ours.encode()) == ours
    assert PusTm(1, 3, 25, time=ours.encode()).cds_time == ours
    with pytest.raises(ProtocolError):
        CdsShortTime.decode(b"\x41" + bytes(6))
