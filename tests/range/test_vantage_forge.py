"""The forging vantage module: frames byte-exact against the codecs and the scapy layers,
hostile arguments refused with one line, transmission over real UDP on loopback."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator

import pytest

from labctl.protocols.crc import append_crc16
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation, ServiceType
from labctl.protocols.tc_frame import Bypass, FrameKind, TcFrame, segment, unsegment
from labctl.range.vantage import forge as vantage_forge
from labctl.range.vantage.forge import UsageError, forge_frame, telecommand

SCID, SPI = 321, 500


def test_a_plaintext_frame_is_exactly_what_the_codecs_build() -> None:
    packet = PusTc(0x064, 8, 1, struct.pack(">HH", 4, 2000), 1, 0).encode()
    assert telecommand(8, 1, struct.pack(">HH", 4, 2000), source_id=0, apid=0x64, count=1) == (
        packet
    )
    raw = forge_frame(SCID, 0, packet, SPI, arsn=7)
    # By hand: header (BD, length), segment header MAP 0, SPI, 4-octet ARSN, packet, FECF.
    body = bytes([0xC0]) + SPI.to_bytes(2, "big") + (7).to_bytes(4, "big") + packet
    length = 5 + len(body) + 2 - 1
    header = struct.pack(">HHB", 0x2000 | SCID, length, 0)
    assert raw == append_crc16(header + body)
    frame = TcFrame.decode(raw)
    assert (frame.kind, frame.scid, frame.vcid, frame.seq) == (FrameKind.BD, SCID, 0, 0)
    # The receiving end of the codecs: a plaintext SA verifies it and yields the packet.
    sa = SecurityAssociation(SPI, ServiceType.PLAINTEXT, iv_len=0, sn_len=4, mac_len=0)
    verdict = SdlsEngine.of([sa], Keyring()).verify_tc(frame)
    assert verdict.accepted
    assert verdict.sequence_number == 7
    assert unsegment(verdict.data) == (3, 0, packet)


def test_a_frame_without_sdls_is_the_bare_packet() -> None:
    packet = PusTc(0x064, 17, 1).encode()
    expected = TcFrame(SCID, 5, segment(0, packet), 0, Bypass.TYPE_B).encode()
    assert forge_frame(SCID, 5, packet, None) == expected


def test_the_scapy_layers_build_the_same_octets() -> None:
    layers = pytest.importorskip("labctl.protocols.layers")
    from scapy.packet import Raw

    layers.register_sa(
        SecurityAssociation(SPI, ServiceType.PLAINTEXT, iv_len=0, sn_len=4, mac_len=0)
    )
    try:
        built = (
            layers.TCFrame(bypass=1, scid=SCID, vcid=0, seq=0)
            / layers.TCSegment(seq_flags=3, map_id=0)
            / layers.SDLSHeader(spi=SPI, sn=3)
            / layers.SpacePacket(packet_type=1, sec_header_flag=1, apid=0x64, seq_count=0)
            / layers.PusTc(service=8, subtype=1, source_id=0xFE12)
            / Raw(struct.pack(">H", 1))
        )
        packet = telecommand(8, 1, b"\x00\x01", source_id=0xFE12, apid=0x64, count=0)
        assert bytes(built) == forge_frame(SCID, 0, packet, SPI, arsn=3)
    finally:
        layers.CONFIG.reset()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: forge_frame(1024, 0, b"x", None), "--scid 1024 outside 0..1023"),
        (lambda: forge_frame(1, 64, b"x", None), "--vcid 64 outside 0..63"),
        (lambda: forge_frame(1, 0, b"x", 65536), "SPI 65536 outside 0..65535"),
        (lambda: forge_frame(1, 0, b"x", 5, arsn=0), "sequence number 0 outside"),
        (lambda: forge_frame(1, 0, b"x", 5, arsn=256, sn_len=1), "sequence number 256 outside"),
        (lambda: forge_frame(1, 0, b"x", 5, sn_len=9), "--sn-len 9 outside 1..8"),
        (lambda: forge_frame(1, 0, bytes(1100), None), "cannot build the frame"),
        (lambda: telecommand(256, 1, b"", source_id=0, apid=1, count=0), "--service 256"),
        (lambda: telecommand(8, 1, b"", source_id=-1, apid=1, count=0), "--source-id -1"),
        (lambda: telecommand(8, 1, b"", source_id=0, apid=0x800, count=0), "--apid 2048"),
    ],
)
def test_bad_values_are_one_usage_error(call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --scid"),
        (["--scid", "5"], "nothing to forge"),
        (["--scid", "five", "--clear"], "'five' is not an integer"),
        (["--scid", "5", "--spi", "x:y"], "is not SPI[:ARSN]"),
        (["--scid", "5", "--spi", "7:0"], "sequence number 0 outside"),
        (["--scid", "5", "--clear", "--app-data", "zz"], "'zz' is not hex octets"),
        (["--scid", "5", "--clear", "--port", "70000"], "70000 outside 1..65535"),
        (["--scid", "5", "--clear", "--gap", "nan"], "outside 0..5 s"),
        (["--scid", "5", "--clear", "--unknown"], "unrecognized arguments: --unknown"),
        (["--scid", "5", *["--spi", "1"] * 17], "at most 16 frames"),
        (["--scid", "5", "--clear", "--app-data", "00" * 1100], "cannot build the frame"),
    ],
)
def test_main_reports_bad_arguments_as_one_json_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vantage_forge.main(argv) == 2
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1
    assert out.err == ""
    assert message in json.loads(lines[0])["error"]


def test_an_unknown_host_is_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--scid", "5", "--clear", "--host", "no-such-host.invalid", "--gap", "0"]
    assert vantage_forge.main(argv) == 2
    assert "error" in json.loads(capsys.readouterr().out)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2.0)
        yield sock


def test_main_transmits_every_frame(
    receiver: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    port = receiver.getsockname()[1]
    argv = ["--scid", str(SCID), "--spi", f"{SPI}:4", "--spi", "0x20", "--clear"]
    argv += ["--source-id", "65040", "--host", "127.0.0.1", "--port", str(port), "--gap", "0"]
    assert vantage_forge.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source_id"] == 65040
    assert [(s["spi"], s["arsn"]) for s in report["sent"]] == [(SPI, 4), (32, 1), (None, None)]
    heard = [receiver.recv(2048) for _ in range(3)]
    packets = [telecommand(17, 1, b"", source_id=65040, apid=0x64, count=n) for n in range(3)]
    assert heard == [
        forge_frame(SCID, 0, packets[0], SPI, arsn=4),
        forge_frame(SCID, 0, packets[1], 32, arsn=1),
        forge_frame(SCID, 0, packets[2], None),
    ]
    assert [s["octets"] for s in report["sent"]] == [len(h) for h in heard]
