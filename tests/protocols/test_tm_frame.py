import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_strategies import clcws, fsrs, tm_frames
from spacepackets.ccsds.tm_frame import (
    MasterChannelId,
    TmFramePrimaryHeader,
    TmTransferFrame,
    TransferFrameDataFieldStatus,
    TransferFrameSecondaryHeader,
)

from labctl.errors import ProtocolError
from labctl.protocols.crc import CrcError
from labctl.protocols.tm_frame import (
    FHP_IDLE,
    IDLE_VCID,
    Clcw,
    Fsr,
    TmFrame,
    decode_ocf,
    idle_frame,
)


@given(tm_frames, st.booleans())
def test_round_trip_is_byte_identical(frame: TmFrame, fecf: bool) -> None:
    raw = frame.encode(fecf)
    assert TmFrame.decode(raw, fecf) == frame
    assert TmFrame.decode(raw, fecf).encode(fecf) == raw


def _theirs(frame: TmFrame, fecf: bytes | None, length: int) -> TmTransferFrame:
    status = TransferFrameDataFieldStatus(
        frame.secondary_header is not None,
        bool(frame.sync_flag),
        bool(frame.packet_order),
        frame.segment_length_id,
        frame.fhp,
    )
    header = TmFramePrimaryHeader(
        MasterChannelId(frame.version, frame.scid),
        frame.vcid,
        frame.ocf is not None,
        frame.mc_count,
        frame.vc_count,
        status,
    )
    secondary = None
    if frame.secondary_header is not None:
        sh = frame.secondary_header
        secondary = TransferFrameSecondaryHeader(0, len(sh), sh)
    return TmTransferFrame(length, header, secondary, frame.data, frame.ocf, fecf)


@given(tm_frames)
def test_bytes_identical_to_spacepackets_both_ways(frame: TmFrame) -> None:
    ours = frame.encode()
    theirs = _theirs(frame, ours[-2:], len(ours))
    assert bytes(theirs.pack()) == ours
    parsed = TmTransferFrame.unpack(ours, len(ours), True)
    assert parsed.primary_header.vc_id == frame.vcid
    assert parsed.primary_header.master_channel_id.spacecraft_id == frame.scid
    assert parsed.primary_header.frame_datafield_status.first_header_pointer == frame.fhp
    assert bytes(parsed.data_field) == frame.data
    assert parsed.op_ctrl_field == frame.ocf
    assert TmFrame.decode(bytes(theirs.pack())) == frame


@given(clcws)
def test_clcw_round_trip(clcw: Clcw) -> None:
    assert Clcw.decode(clcw.encode()) == clcw
    assert decode_ocf(clcw.encode()) == clcw


@given(fsrs)
def test_fsr_round_trip(fsr: Fsr) -> None:
    assert Fsr.decode(fsr.encode()) == fsr
    assert decode_ocf(fsr.encode()) == fsr


def test_clcw_known_bits() -> None:
    clcw = Clcw(vcid=5, report=0x2A, lockout=1, retransmit=1, farm_b_counter=3)
    assert clcw.encode() == bytes([0b0000_0001, 0b0001_0100, 0b0010_1110, 0x2A])
    fsr = Fsr(alarm=1, bad_mac=1, spi=0x0102, sn_lsb=0x7F)
    assert fsr.encode() == bytes([0b1100_1010, 0x01, 0x02, 0x7F])


def test_idle_frame() -> None:
    raw = idle_frame(0x42, 64, mc_count=9, ocf=Clcw().encode())
    frame = TmFrame.decode(raw)
    assert len(raw) == 64
    assert frame.is_idle
    assert frame.fhp == FHP_IDLE
    assert frame.vcid == IDLE_VCID
    assert frame.mc_count == 9
    with pytest.raises(ProtocolError):
        idle_frame(1, 8)


def test_decode_errors_are_typed() -> None:
    raw = TmFrame(1, 1, b"data", ocf=bytes(4)).encode()
    with pytest.raises(CrcError):
        TmFrame.decode(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(ProtocolError):
        TmFrame.decode(raw[:7])
    with pytest.raises(ProtocolError):
        TmFrame.decode(bytes.fromhex("0000000080") + b"\x3f")
    with pytest.raises(ProtocolError):
        Clcw.decode(Fsr().encode())
    with pytest.raises(ProtocolError):
        Fsr.decode(Clcw().encode())
    with pytest.raises(ProtocolError):
        decode_ocf(b"abc")
    with pytest.raises(ProtocolError):
        TmFrame(1, 1, b"", ocf=b"abc").encode()
