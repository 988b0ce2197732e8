"""Telemetry ingest: route each downlinked packet to the archive.

Housekeeping (3,25) goes to the telemetry table, events (5,x) to the events table,
verification reports (1,x) advance the sent commands they name, and ground-station status
packets (APID 0x7F0) replace the latest status; the latest parameter report (20,2) and
SDLS extended-procedure replies (129,2) are kept in memory. Packets arrive from a network anyone on
the ground segment may write to: a bad one is counted and dropped, never fatal.

Unless the configuration says ``telemetry.on_bad_packet: halt``, a lab's weakness: the
legacy processing stops at the first packet it cannot decode, as a telemetry processor
without error handling does, and nothing more is archived until mission control restarts
(each halt is recorded in the archive and shown by ``GET /api/health``).
"""

from __future__ import annotations

import logging
import struct
import time
from collections import Counter, deque
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTm
from labctl.protocols.spacepacket import SpacePacket
from labctl.range.hosts import catalog
from labctl.range.hosts.groundstation.conventions import StationStatus
from labctl.range.hosts.missioncontrol.db import Archive
from labctl.range.hosts.ratelimit import RateLimitedLog

#: PUS service 1 subtypes that move a command forward, and the state they move it to.
VERIFICATION: Final = {1: "accepted", 2: "failed", 7: "completed", 8: "failed"}
SEVERITIES: Final = {1: "info", 2: "low", 3: "medium", 4: "high"}
LOG: Final = logging.getLogger("labctl.missioncontrol.ingest")


#: Entries in one parameter report, at most (the table has a handful).
MAX_PARAMETERS: Final = 64
#: SDLS extended-procedure replies kept (the newest).
MAX_SDLS_REPLIES: Final = 32


class Ingest:
    """Decodes PUS TM and archives it; keeps counters for the dashboard."""

    def __init__(self, archive: Archive, halt_on_bad_packet: bool = False) -> None:
        self._archive = archive
        #: The lab's weakness: stop at the first packet that cannot be decoded.
        self.halt_on_bad_packet = halt_on_bad_packet
        #: Why the processing halted (None: running).
        self.halted: str | None = None
        self.counts: Counter[str] = Counter()
        self.last_telemetry: float | None = None
        #: The last parameter report (20,2): one entry per parameter, and when it came.
        self.parameters: list[dict[str, object]] = []
        self.parameters_at: float | None = None
        #: The latest SDLS extended-procedure replies (129,2), oldest first.
        self.sdls_replies: deque[dict[str, object]] = deque(maxlen=MAX_SDLS_REPLIES)
        #: Rejected packets are logged, rate-limited (the stream may be forged).
        self.hostile = RateLimitedLog(LOG)

    def __call__(self, packet: SpacePacket) -> None:
        self.hostile.flush()  # summaries of finished periods, once a flood has stopped
        if self.halted is not None:
            self.counts["ignored_while_halted"] += 1
            return
        if packet.is_idle:
            return
        try:
            tm = PusTm.decode(packet.encode())
            self._route(tm)
        except ProtocolError as exc:
            self.counts["rejected"] += 1
            if self.halt_on_bad_packet:
                self._halt(f"packet APID {packet.apid:#x} sequence count {packet.seq_count}: {exc}")
                return
            self.hostile.event(
                "ingest: packets rejected",
                "ingest: packet on APID %#x rejected: %s",
                packet.apid,
                exc,
                level=logging.INFO,
            )
            return
        self.last_telemetry = time.time()

    def _halt(self, reason: str) -> None:
        self.halted = reason
        self._archive.record_ingest_halt(reason)
        LOG.error("ingest: telemetry processing HALTED (telemetry.on_bad_packet: halt): %s", reason)

    def _route(self, tm: PusTm) -> None:
        if tm.apid == catalog.GROUND_STATION_APID:
            self._ground_station(tm)
        elif tm.apid != catalog.PLATFORM_APID:
            raise ProtocolError(f"APID {tm.apid:#x} is not ours")
        elif (tm.service, tm.subtype) == (3, 25):
            self._housekeeping(tm)
        elif tm.service == 5 and tm.subtype in SEVERITIES:
            self._event(tm)
        elif tm.service == 1 and tm.subtype in VERIFICATION:
            self._verification(tm)
        elif (tm.service, tm.subtype) == (20, 2):
            self._parameters(tm)
        elif (tm.service, tm.subtype) == (catalog.SDLS_EP_SERVICE, 2):
            self._sdls_reply(tm)
        else:
            self.counts[f"tm_{tm.service}_{tm.subtype}"] += 1

    def _ground_station(self, tm: PusTm) -> None:
        """Status reports are kept; replies to directives are only counted."""
        if (tm.service, tm.subtype) != (3, 25):
            self.counts[f"ground_station_{tm.service}_{tm.subtype}"] += 1
            return
        status = StationStatus.decode(tm.source_data)
        fields: dict[str, object] = dict(status.as_dict())
        fields.update(uplink_mode=status.uplink_mode.name, alert=status.alert.name)
        fields["lockout"] = status.lockout
        self._archive.set_ground_status(tm.source_data, fields)
        self.counts["ground_status"] += 1

    def _housekeeping(self, tm: PusTm) -> None:
        hk = catalog.Housekeeping.decode(tm.source_data)
        self._archive.add_housekeeping(
            {
                "received_at": time.time(),
                "apid": tm.apid,
                "seq_count": tm.seq_count,
                "spacecraft_time": _spacecraft_time(tm),
                "mode": hk.mode.name,
                "battery_pct": hk.battery_pct,
                "payload_on": int(hk.payload_on),
                "commands_executed": hk.commands_executed,
                "commands_rejected": hk.commands_rejected,
                "frames_rejected": hk.frames_rejected,
                "ops_message": hk.ops_message,
            }
        )
        self.counts["housekeeping"] += 1

    def _event(self, tm: PusTm) -> None:
        if len(tm.source_data) < 2:
            raise ProtocolError("event report without an event id")
        (event_id,) = struct.unpack_from(">H", tm.source_data)
        try:
            name = catalog.Event(event_id).name
        except ValueError:
            name = f"EVENT_{event_id}"
        self._archive.add_event(tm.subtype, event_id, name, tm.source_data[2:66])
        self.counts["events"] += 1

    def _parameters(self, tm: PusTm) -> None:
        """A parameter report: (id u16, stored u32, in use u32) per parameter."""
        size = struct.calcsize(catalog.PARAMETER_REPORT_FORMAT)
        data = tm.source_data
        if len(data) % size or len(data) > size * MAX_PARAMETERS:
            raise ProtocolError(f"parameter report of {len(data)} octets")
        rows: list[dict[str, object]] = []
        for offset in range(0, len(data), size):
            ident, kept, used = struct.unpack_from(catalog.PARAMETER_REPORT_FORMAT, data, offset)
            known = catalog.PARAMETER_BY_ID.get(ident)
            rows.append(
                {
                    "id": ident,
                    "name": known.name if known else f"PARAMETER_{ident}",
                    "stored": kept,
                    "in_use": used,
                    "pending": kept != used,
                    "description": known.description if known else "",
                }
            )
        self.parameters, self.parameters_at = rows, time.time()
        self.counts["parameter_reports"] += 1

    def _sdls_reply(self, tm: PusTm) -> None:
        """An SDLS extended-procedure reply (Read ARSN, SA status, key inventory, key
        verification): kept, newest last, for GET /api/sdls/replies."""
        reply = catalog.describe_reply(tm.source_data)
        self.sdls_replies.append({"received_at": time.time(), **reply})
        self.counts["sdls_replies"] += 1

    def _verification(self, tm: PusTm) -> None:
        failure = tm.subtype in (2, 8)
        expected = 6 if failure else 4
        if len(tm.source_data) != expected:
            raise ProtocolError(f"verification report of {len(tm.source_data)} octets")
        packet_id, seq_control = struct.unpack_from(">HH", tm.source_data)
        code = struct.unpack_from(">H", tm.source_data, 4)[0] if failure else None
        status = VERIFICATION[tm.subtype]
        if self._archive.advance_command(packet_id, seq_control, status, code) is None:
            self.counts["unmatched_verification"] += 1
        else:
            self.counts["verification"] += 1


def _spacecraft_time(tm: PusTm) -> str | None:
    try:
        return tm.cds_time.to_datetime().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    except (ProtocolError, OverflowError, ValueError):
        return None
