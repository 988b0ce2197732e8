"""The scapy layers and the struct codecs render the same field tables: prove them identical."""

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from protocol_strategies import clcws, fsrs, pus_tcs, pus_tms, space_packets, tc_frames, tm_frames

from labctl.errors import ProtocolError
from labctl.protocols import pus, spacepacket, tc_frame, tm_frame
from labctl.protocols.crc import CrcError
from labctl.protocols.layers import (
    CLCW,
    FSR,
    PusTc,
    PusTm,
    SDLSHeader,
    SpacePacket,
    TCFrame,
    TCSegment,
    TCSetVR,
    TCUnlock,
    TMFrame,
    configure_tc,
    configure_tm,
    dissect,
)
from labctl.protocols.layers import (
    space_packets as scapy_space_packets,
)
from labctl.protocols.pus import CdsShortTime
from labctl.protocols.spacepacket import IDLE_APID


def _sp_fields(packet: spacepacket.SpacePacket) -> dict[str, Any]:
    return {
        "version": packet.version,
        "packet_type": packet.packet_type,
        "sec_header_flag": packet.sec_header_flag,
        "apid": packet.apid,
        "seq_flags": packet.seq_flags,
        "seq_count": packet.seq_count,
    }


@given(space_packets)
def test_space_packet_scapy_equals_codec(packet: spacepacket.SpacePacket) -> None:
    raw = packet.encode()
    built = SpacePacket(**_sp_fields(packet)) / packet.data
    assert bytes(built) == raw
    assert bytes(SpacePacket(raw)) == raw


@given(pus_tcs)
def test_pus_tc_scapy_equals_codec(tc: pus.PusTc) -> None:
    assume(tc.apid != IDLE_APID)  # idle packets are not dissected as PUS
    raw = tc.encode()
    built = (
        SpacePacket(apid=tc.apid, seq_count=tc.seq_count, seq_flags=tc.seq_flags)
        / PusTc(
            service=tc.service, subtype=tc.subtype, source_id=tc.source_id, ack_flags=tc.ack_flags
        )
        / tc.app_data
    )
    assert bytes(built) == raw
    dissected = SpacePacket(raw)
    assert dissected[PusTc].pec_ok
    assert bytes(dissected) == raw
    assert dissected[PusTc].service == tc.service


@given(pus_tms)
def test_pus_tm_scapy_equals_codec(tm: pus.PusTm) -> None:
    assume(tm.apid != IDLE_APID)
    raw = tm.encode()
    time = CdsShortTime.decode(tm.time)
    built = (
        SpacePacket(apid=tm.apid, seq_count=tm.seq_count, seq_flags=tm.seq_flags)
        / PusTm(
            service=tm.service,
            subtype=tm.subtype,
            msg_counter=tm.msg_counter,
            dest_id=tm.dest_id,
            time_ref=tm.time_ref,
            days=time.days,
            ms_of_day=time.ms_of_day,
        )
        / tm.source_data
    )
    assert bytes(built) == raw
    dissected = SpacePacket(raw)
    assert dissected[PusTm].pec_ok
    assert bytes(dissected) == raw


@given(tc_frames, st.booleans())
def test_tc_frame_scapy_equals_codec(frame: tc_frame.TcFrame, fecf: bool) -> None:
    configure_tc(fecf=fecf, segment_header=False)
    try:
        raw = frame.encode(fecf)
        fields = {
            name: getattr(frame, name)
            for name in ("version", "bypass", "ctrl_cmd", "spare", "scid", "vcid", "seq")
        }
        assert bytes(TCFrame(**fields) / frame.data) == raw
        dissected = TCFrame(raw)
        assert bytes(dissected) == raw
        assert dissected.fecf_ok is (True if fecf else None)
    finally:
        configure_tc()


@given(tm_frames, st.booleans())
def test_tm_frame_scapy_equals_codec(frame: tm_frame.TmFrame, fecf: bool) -> None:
    configure_tm(fecf=fecf)
    try:
        raw = frame.encode(fecf)
        fields: dict[str, Any] = {
            name: getattr(frame, name)
            for name in (
                "version",
                "scid",
                "vcid",
                "mc_count",
                "vc_count",
                "sync_flag",
                "packet_order",
                "segment_length_id",
                "fhp",
                "ocf",
            )
        }
        if frame.secondary_header is not None:
            fields.update(sec_header_flag=1, sh_data=frame.secondary_header)
        assert bytes(TMFrame(**fields) / frame.data) == raw
        dissected = TMFrame(raw)
        assert bytes(dissected) == raw
        assert dissected.ocf == frame.ocf
    finally:
        configure_tm()


@given(clcws)
def test_clcw_scapy_equals_codec(clcw: tm_frame.Clcw) -> None:
    raw = clcw.encode()
    assert bytes(CLCW(raw)) == raw
    assert CLCW(raw).report == clcw.report
    assert CLCW(raw).lockout == clcw.lockout


@given(fsrs)
def test_fsr_scapy_equals_codec(fsr: tm_frame.Fsr) -> None:
    raw = fsr.encode()
    assert bytes(FSR(raw)) == raw
    assert FSR(raw).bad_mac == fsr.bad_mac
    assert FSR(raw).spi == fsr.spi


def test_full_tc_stack_dissects_all_the_way_down(layer_config: object) -> None:
    tc = pus.PusTc(apid=0x10, service=8, subtype=1, app_data=b"\x01\x02")
    raw = tc_frame.TcFrame(0x42, 1, tc_frame.segment(2, tc.encode()), seq=5).encode()
    frame = TCFrame(raw)
    assert [layer.name for layer in _layers(frame)] == [
        "TCFrame",
        "TCSegment",
        "SpacePacket",
        "PusTc",
        "Raw",
    ]
    assert frame[TCSegment].map_id == 2
    assert frame[PusTc].subtype == 1
    assert bytes(frame) == raw


def test_control_commands_dissect(layer_config: object) -> None:
    assert TCUnlock in TCFrame(tc_frame.unlock_frame(1, 0).encode())
    set_vr = TCFrame(tc_frame.set_vr_frame(1, 0, 77).encode())
    assert set_vr[TCSetVR].vr == 77
    assert (
        bytes(TCFrame(bypass=1, ctrl_cmd=1) / TCSetVR(vr=77))
        == tc_frame.set_vr_frame(0, 0, 77).encode()
    )


def test_tm_frame_with_packets_and_ocf(layer_config: object) -> None:
    packets = pus.PusTm(3, 3, 25, b"hk").encode() + pus.PusTm(3, 5, 1, b"ev").encode()
    raw = tm_frame.TmFrame(0x42, 1, packets, ocf=tm_frame.Clcw(1, 7).encode()).encode()
    frame = TMFrame(raw)
    assert frame[PusTm].subtype == 25
    assert bytes(frame) == raw
    assert frame.ocf_layer()[CLCW].report == 7
    assert [p[PusTm].subtype for p in scapy_space_packets(frame[SpacePacket].build())] == [25, 1]
    fsr = tm_frame.Fsr(alarm=1, bad_sn=1).encode()
    fsr_frame = TMFrame(tm_frame.TmFrame(0x42, 1, b"\x00" * 8, fhp=0x7FF, ocf=fsr).encode())
    assert fsr_frame.ocf_layer()[FSR].bad_sn == 1


def test_modified_fields_are_recomputed_after_delete(layer_config: object) -> None:
    raw = tc_frame.TcFrame(0x42, 1, tc_frame.segment(0, pus.PusTc(1, 17, 1).encode())).encode()
    frame = TCFrame(raw)
    frame[PusTc].service = 3
    del frame[PusTc].pec
    del frame.fecf
    rebuilt = TCFrame(bytes(frame))
    assert rebuilt.fecf_ok
    assert rebuilt[PusTc].pec_ok
    assert rebuilt[PusTc].service == 3


def test_strict_dissect_raises_only_protocol_errors(layer_config: object) -> None:
    raw = tc_frame.TcFrame(1, 1, tc_frame.segment(0, pus.PusTc(1, 17, 1).encode())).encode()
    assert dissect(TCFrame, raw)[PusTc].service == 17
    with pytest.raises(CrcError):
        dissect(TCFrame, raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(ProtocolError):
        dissect(TCFrame, raw[:-3])
    with pytest.raises(ProtocolError):
        dissect(TCFrame, b"\x00")
    bad_pec = bytearray(
        tc_frame.TcFrame(
            1, 1, tc_frame.segment(0, b"\x18\x01\xc0\x00\x00\x06/\x11\x01\x00\x00\x00\x00")
        ).encode()
    )
    with pytest.raises(CrcError, match="packet error control"):
        dissect(TCFrame, bytes(bad_pec))


def test_segment_flags_continuation_is_raw(layer_config: object) -> None:
    raw = tc_frame.TcFrame(1, 1, tc_frame.segment(0, b"\x00\x01\x02", seq_flags=0)).encode()
    assert SpacePacket not in TCFrame(raw)


def test_sdls_header_layer_lengths_follow_registered_sa(layer_config: object) -> None:
    configure_tc(1, sdls=True)
    frame = TCFrame(scid=1, vcid=1) / TCSegment() / SDLSHeader(spi=3, iv=bytes(12)) / b"ciphertext"
    raw = bytes(frame)
    assert len(raw) == 5 + 1 + 2 + 12 + 10 + 16 + 2
    back = TCFrame(raw)
    assert back[SDLSHeader].spi == 3
    assert back[SDLSHeader].mac == bytes(16)
    assert bytes(back) == raw


def _layers(pkt: Any) -> list[Any]:
    out = []
    while pkt:
        out.append(pkt)
        pkt = pkt.payload
    return out
