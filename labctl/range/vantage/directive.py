"""Transmit clear COP-1 control commands (BC frames) from a grader vantage.

Runs inside the vantage container (``python3 -m labctl.range.vantage.directive``), on the
instance's rf network, with a plain UDP socket: each ``--unlock`` or ``--set-vr N`` is one
type-BC frame (CCSDS 232.0-B-4 §4.1.2.3, 232.1-B-2 §5.4) with no SDLS security header,
exactly what an outsider with a radio sends, in the order given. The frames carry the
frame sequence number ``--frame-seq`` (FARM-1 ignores it in a BC frame; the spacecraft's
ground truth records it), which is how a check tells its own directives from a student's.

Every argument is checked first; a bad one, or a failed transmission, is one JSON line
``{"error": ...}`` and exit status 2. Success is one JSON line ``{"sent": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.tc_frame import TcFrame, set_vr_frame, unlock_frame
from labctl.range import wiring
from labctl.range.vantage.forge import UsageError, _gap, _integer, _Parser, _port

UPLINK_IN: Final = (wiring.RF_LINK, wiring.UPLINK_IN)
MAX_FRAMES: Final = 8


def directives(
    scid: int, vcid: int, steps: list[tuple[str, int | None]], frame_seq: int
) -> list[tuple[str, bytes]]:
    """(what, octets) of each directive, built and checked before anything is sent."""
    if not steps:
        raise UsageError("nothing to send: give --unlock and/or --set-vr N")
    if len(steps) > MAX_FRAMES:
        raise UsageError(f"at most {MAX_FRAMES} directives, got {len(steps)}")
    for name, value, top in (
        ("--scid", scid, 0x3FF),
        ("--vcid", vcid, 0x3F),
        ("--frame-seq", frame_seq, 0xFF),
    ):
        if not 0 <= value <= top:
            raise UsageError(f"{name} {value} outside 0..{top}")
    out = []
    for name, vr in steps:
        frame: TcFrame
        try:
            if vr is None:
                frame = unlock_frame(scid, vcid, frame_seq)
            else:
                frame = set_vr_frame(scid, vcid, vr, frame_seq)
        except ProtocolError as exc:
            raise UsageError(f"cannot build {name}: {exc}") from None
        out.append((name if vr is None else f"{name} {vr}", frame.encode()))
    return out


def transmit(frames: list[tuple[str, bytes]], target: tuple[str, int], gap: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _name, octets in frames:
            sock.sendto(octets, target)
            time.sleep(gap)


def _set_vr(text: str) -> tuple[str, int]:
    value = _integer(text)
    if not 0 <= value <= 0xFF:
        raise argparse.ArgumentTypeError(f"V(R) {value} outside 0..255")
    return ("set_vr", value)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vantage_directive", description=__doc__, add_help=False)
    parser.add_argument("--scid", type=_integer, required=True)
    parser.add_argument("--vcid", type=_integer, default=0)
    # one list, so --unlock and --set-vr N go out in the order given
    parser.add_argument("--unlock", action="append_const", const=("unlock", None), dest="steps")
    parser.add_argument("--set-vr", type=_set_vr, action="append", dest="steps")
    parser.add_argument("--frame-seq", type=_integer, default=0)
    parser.add_argument("--host", default=UPLINK_IN[0])
    parser.add_argument("--port", type=_port, default=UPLINK_IN[1])
    parser.add_argument("--gap", type=_gap, default=0.3, help="seconds between frames")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        frames = directives(args.scid, args.vcid, args.steps or [], args.frame_seq)
        transmit(frames, (args.host, args.port), args.gap)
    except (ValueError, OSError) as exc:  # UsageError, or an odd host name
        print(json.dumps({"error": str(exc) or type(exc).__name__}))
        return 2
    print(json.dumps({"sent": [name for name, _ in frames], "frame_seq": args.frame_seq}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
