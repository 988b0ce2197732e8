import fastcrc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_strategies import tc_frames

from labctl.errors import ProtocolError
from labctl.protocols.crc import CrcError
from labctl.protocols.tc_frame import (
    TC_MAX_FRAME_SIZE,
    ControlCommand,
    FrameKind,
    TcFrame,
    decode_control_command,
    frame_kind,
    segment,
    set_vr_frame,
    unlock_frame,
    unsegment,
)


@given(tc_frames, st.booleans())
def test_round_trip_is_byte_identical(frame: TcFrame, fecf: bool) -> None:
    raw = frame.encode(fecf)
    assert TcFrame.decode(raw, fecf) == frame
    assert TcFrame.decode(raw, fecf).encode(fecf) == raw
    assert (raw[2] & 0x03) << 8 | raw[3] == len(raw) - 1


def test_known_frame_bytes() -> None:
    frame = TcFrame(scid=0x42, vcid=1, seq=5, data=segment(2, b"\x01\x02"))
    assert frame.encode() == bytes.fromhex("0042040905c20102") + frame.encode()[-2:]
    # FECF checked against an independent CRC implementation (fastcrc, used by spacepackets)
    assert frame.encode()[-2:] == fastcrc.crc16.ibm_3740(frame.encode()[:-2]).to_bytes(2, "big")
    assert frame.encode()[-2:] == bytes.fromhex("c54d")


def test_fecf_mismatch_raises_crc_error() -> None:
    raw = bytearray(TcFrame(1, 2, b"abc").encode())
    raw[5] ^= 1
    with pytest.raises(CrcError):
        TcFrame.decode(bytes(raw))


def test_length_rules() -> None:
    with pytest.raises(ProtocolError):
        TcFrame(1, 1, bytes(TC_MAX_FRAME_SIZE)).encode()
    assert len(TcFrame(1, 1, bytes(TC_MAX_FRAME_SIZE - 7)).encode()) == TC_MAX_FRAME_SIZE
    with pytest.raises(ProtocolError):
        TcFrame(1, 1, b"").encode()
    raw = TcFrame(1, 1, b"abcd").encode()
    with pytest.raises(ProtocolError):
        TcFrame.decode(raw[:-1])
    with pytest.raises(ProtocolError, match="trailing"):
        TcFrame.decode(raw + b"\x00")
    with pytest.raises(ProtocolError, match="too small"):
        TcFrame.decode(bytes.fromhex("0001000100"))


def test_frame_kinds_and_control_commands() -> None:
    assert frame_kind(0, 0) is FrameKind.AD
    assert frame_kind(1, 0) is FrameKind.BD
    assert frame_kind(1, 1) is FrameKind.BC
    assert frame_kind(0, 1) is FrameKind.ILLEGAL
    unlock = unlock_frame(0x42, 3)
    assert unlock.kind is FrameKind.BC
    assert unlock.encode()[5:-2] == b"\x00"
    assert decode_control_command(unlock.data) == (ControlCommand.UNLOCK, None)
    set_vr = set_vr_frame(0x42, 3, 200)
    assert set_vr.encode()[5:-2] == bytes.fromhex("8200c8")
    assert decode_control_command(set_vr.data) == (ControlCommand.SET_VR, 200)
    with pytest.raises(ProtocolError):
        decode_control_command(b"\x82\x01\x00")
    with pytest.raises(ProtocolError):
        set_vr_frame(1, 1, 256)


def test_segment_header() -> None:
    assert segment(5, b"x") == bytes([0xC5]) + b"x"
    assert unsegment(bytes([0x45]) + b"yz") == (1, 5, b"yz")
    with pytest.raises(ProtocolError):
        unsegment(b"")
