"""What the packet service (TCP 10025) carries besides the spacecraft's own packets.

Light on purpose (struct and the PUS codec only) so that mission control, graders and
student tools can import it without the daemon.

Telecommands addressed to :data:`GROUND_STATION_APID` (0x7F0) are *directives to the
ground station itself*: they are executed locally and never uplinked.

| service,subtype | name | application data | effect |
| --- | --- | --- | --- |
| 17,1 | connection test | — | 17,2 reply to the sender (also keeps an idle session alive) |
| 128,1 | UNLOCK | — | transmit a BC Unlock frame (COP-1 directive) |
| 128,2 | SET_VR | V*(R) u8 | re-initialise FOP-1 with V(S) = V*(R) and transmit BC Set V(R) |
| 128,3 | REPORT_STATUS | — | send a status packet to every client now |

The ground station answers a directive with PUS 1,1 (accepted) and 1,7 (completed) when
the TC's acknowledgement flags ask for them, or 1,2 (rejected) with a
:class:`DirectiveFailure` code, all on APID 0x7F0 and to the sender only.

Status packets go to every client on APID 0x7F0 as PUS 3,25 with structure id
:data:`STATUS_STRUCTURE` and the layout :data:`STATUS_FORMAT` (big-endian), see
:class:`StationStatus`.
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass, fields
from enum import IntEnum
from typing import Final

from labctl.errors import ProtocolError
from labctl.range.hosts.catalog import GROUND_STATION_APID

__all__ = [
    "DIRECTIVE_SERVICE",
    "GROUND_STATION_APID",
    "STATUS_FORMAT",
    "STATUS_STRUCTURE",
    "Alert",
    "Directive",
    "DirectiveFailure",
    "StationStatus",
    "UplinkMode",
]

#: Private PUS service (ECSS reserves 128-255 for missions) of ground-station directives.
DIRECTIVE_SERVICE: Final = 128
#: Housekeeping structure id of the ground-station status report (3,25).
STATUS_STRUCTURE: Final = 0x10


class Directive(IntEnum):
    """Subtypes of service 128 on APID 0x7F0."""

    UNLOCK = 1
    SET_VR = 2
    REPORT_STATUS = 3


class DirectiveFailure(IntEnum):
    """Failure codes in 1,2 reports about directives."""

    UNKNOWN_DIRECTIVE = 1
    BAD_ARGUMENTS = 2
    NOT_IN_BYPASS = 3  # COP-1 directives make no sense when the uplink is type BD
    TRANSMIT_FAILED = 4


class UplinkMode(IntEnum):
    AD = 0  # sequence controlled by FOP-1 / FARM-1
    BD = 1  # bypass: no sequence control, no retransmission


class Alert(IntEnum):
    """Why FOP-1 stopped transmitting (0 = it did not)."""

    NONE = 0
    LOCKOUT = 1
    TRANSMISSION_LIMIT = 2
    OTHER = 3
    OUT_OF_STEP = 4  # FARM-1's N(R) acknowledges nothing sent (e.g. the spacecraft restarted)


ALERT_CODES: Final = frozenset(int(a) for a in Alert)

#: structure id, uplink mode, FOP state (cop1.FopState; 0 in BD mode), alert, V(S),
#: frames outstanding, CLCW flags (bit 0 seen, 1 lockout, 2 wait, 3 retransmit, 4 no RF,
#: 5 no bit lock), N(R) of the last CLCW, last FSR octet 0 (0 = none seen), clients;
#: then u32 counters: TC packets in, TC frames sent, TC frames retransmitted, TM frames
#: received, TM frames invalid (FECF, SCID, length), SDLS rejections, TM packets forwarded,
#: garbage octets skipped on the packet service, TC packets dropped.
STATUS_FORMAT: Final = ">BBBBBBBBBB9I"

CLCW_SEEN: Final = 0x01
CLCW_LOCKOUT: Final = 0x02
CLCW_WAIT: Final = 0x04
CLCW_RETRANSMIT: Final = 0x08
CLCW_NO_RF: Final = 0x10
CLCW_NO_BITLOCK: Final = 0x20


@dataclass(frozen=True)
class StationStatus:
    """The ground-station status report: source data of 3,25 on APID 0x7F0."""

    uplink_mode: UplinkMode
    fop_state: int
    alert: Alert
    vs: int
    outstanding: int
    clcw_flags: int
    clcw_report: int
    fsr_octet: int
    clients: int
    tc_packets_in: int
    frames_sent: int
    frames_retransmitted: int
    frames_received: int
    frames_invalid: int
    sdls_rejections: int
    tm_packets_forwarded: int
    garbage_octets: int
    tc_dropped: int

    def encode(self) -> bytes:
        values = [min(int(v), 0xFF) for v in astuple(self)[:9]]
        counters = [int(v) & 0xFFFFFFFF for v in astuple(self)[9:]]
        return struct.pack(STATUS_FORMAT, STATUS_STRUCTURE, *values, *counters)

    @classmethod
    def decode(cls, data: bytes) -> StationStatus:
        if len(data) != struct.calcsize(STATUS_FORMAT):
            raise ProtocolError(f"ground-station status of {len(data)} octets")
        sid, mode, state, alert, *rest = struct.unpack(STATUS_FORMAT, data)
        if sid != STATUS_STRUCTURE or mode not in (0, 1) or alert not in ALERT_CODES:
            raise ProtocolError(f"not a ground-station status (structure {sid})")
        return cls(UplinkMode(mode), state, Alert(alert), *rest)

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}

    @property
    def lockout(self) -> bool:
        return bool(self.clcw_flags & CLCW_LOCKOUT)
