"""The ground station's running counters, shared by its parts and reported in its status."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Counters:
    """Monotonic counts since start. Everything hostile input can cause is counted here."""

    tc_packets_in: int = 0  # TC packets split from the packet-service streams
    tc_dropped: int = 0  # not a PUS TC, too long for a frame, or the FOP queue was full
    directives: int = 0  # TCs to the ground station itself (APID 0x7F0)
    frames_sent: int = 0  # TC frames transmitted, first transmissions and control frames
    frames_retransmitted: int = 0
    fop_recoveries: int = 0  # AD service re-initiated by the automatic recovery
    frames_unsent: int = 0  # the rf-link address could not be resolved or the send failed
    frames_received: int = 0  # TM frames that passed FECF, SCID and SDLS
    frames_invalid: int = 0  # undecodable, bad FECF, foreign SCID
    frames_other_vc: int = 0
    sdls_rejections: int = 0
    sdls_by_reason: Counter[str] = field(default_factory=Counter)
    tm_packets_forwarded: int = 0
    tm_packets_invalid: int = 0  # not TM, bad packet error control, broken reassembly
    tm_octets_lost: int = 0  # packet fragments dropped because a frame went missing
    garbage_octets: int = 0  # skipped on packet-service streams
    clients_accepted: int = 0
    clients_refused: int = 0  # too many, or not in allowed_clients
    clients_dropped: int = 0  # idle, or too slow to take their telemetry
    access_granted: int = 0  # clients that proved a customer's rolling password
    access_refused: int = 0  # no access request, unknown or revoked customer, bad code, no window
    access_expired: int = 0  # customers disconnected when their booked window closed

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["sdls_by_reason"] = dict(self.sdls_by_reason)
        return document
