"""The ground-station daemon: packet service, uplink, downlink and status in one asyncio loop.

In its container: ``python -m labctl.range.hosts.groundstation``. In-process (tests, demos)::

    station = GroundStation(settings)
    await station.start()          # binds; ports 0 in the settings give free ports
    ...                            # station.packet_service_address, station.downlink_address
    await station.stop()

Operator control without the packet service: :meth:`GroundStation.unlock` and
:meth:`GroundStation.set_vr` (the same as directives 128,1 and 128,2 on APID 0x7F0).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import struct
import time
from collections.abc import Callable
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.tm_frame import Clcw, Fsr
from labctl.range.hosts.catalog import verification_data
from labctl.range.hosts.config import write_json_atomic
from labctl.range.hosts.groundstation import conventions as gs
from labctl.range.hosts.groundstation.counters import Counters
from labctl.range.hosts.groundstation.downlink import Downlink
from labctl.range.hosts.groundstation.packet_service import ClientSession, PacketService
from labctl.range.hosts.groundstation.settings import GroundStationSettings
from labctl.range.hosts.groundstation.uplink import Uplink
from labctl.range.hosts.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

#: Main loop period (FOP-1 timer resolution, status-change latency): T1 / 8 within bounds.
MIN_TICK: Final = 0.02
MAX_TICK: Final = 0.25
#: Packet-service timeouts are checked this often (or at a quarter of the shortest timeout).
SERVICE_TICK: Final = 1.0
PACKET_TYPE_TC: Final = 0x10
SEQ_COUNT_MODULUS: Final = 1 << 14
ACK_ACCEPTANCE: Final = 0b1000
ACK_COMPLETION: Final = 0b0001


class GroundStation:
    """One ground station. Not thread-safe: everything runs on one event loop."""

    def __init__(
        self, settings: GroundStationSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.counters = Counters()
        self._clock = clock
        self.uplink = Uplink(
            settings.scid, settings.uplink, self.counters, clock, self._status_changed
        )
        self.downlink = Downlink(
            settings.scid, settings.downlink, self.counters, self._on_clcw, self._on_tm
        )
        self.packets = PacketService(
            settings.packet_service, self.uplink.max_packet, self._on_tc, self.counters, clock
        )
        self._seq_count = 0
        self._clcw_flags = 0
        self._status_due = True
        self._started_at = time.time()
        service = settings.packet_service
        timeouts = [t for t in (service.idle_timeout, service.partial_timeout) if t]
        self._service_tick = min([SERVICE_TICK, *(t / 4 for t in timeouts)])
        self._tick = min(MAX_TICK, max(MIN_TICK, settings.uplink.fop_timeout / 8))
        self._task: asyncio.Task[None] | None = None
        #: What clients send may be hostile: lines about it are rate-limited.
        self.hostile = RateLimitedLog(log)

    @property
    def rate_limited_logs(self) -> tuple[RateLimitedLog, ...]:
        """Every part's rate-limited log (flushed by the main loop)."""
        parts = (self.hostile, self.packets.hostile, self.downlink.hostile)
        return (*parts, self.uplink.hostile)

    # -- life cycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Bind every socket and start the timers; raises OSError if a port is taken."""
        await self.uplink.start()
        try:
            await self.downlink.start()
            await self.packets.start()
        except BaseException:
            self.uplink.close()
            self.downlink.close()
            raise
        self._task = asyncio.get_running_loop().create_task(self._run())
        log.info(
            "ground station SCID %#x: packet service %s, downlink %s, uplink to %s:%d (%s)",
            self.settings.scid,
            self.packet_service_address,
            self.downlink_address,
            self.settings.uplink.rf_link_address,
            self.settings.uplink.rf_link_port,
            "BD bypass" if self.settings.uplink.bypass else "AD",
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.packets.close()
        self.downlink.close()
        self.uplink.close()

    async def serve_forever(self) -> None:
        """Start, run until cancelled, stop."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    @property
    def packet_service_address(self) -> tuple[str, int]:
        return self.packets.address

    @property
    def downlink_address(self) -> tuple[str, int]:
        return self.downlink.address

    # -- operator directives -----------------------------------------------------------------
    def unlock(self) -> None:
        """COP-1 Unlock (BC frame); FOP-1 resumes when a CLCW without lockout arrives."""
        self.hostile.event("directives: Unlock", "directive: Unlock", level=logging.INFO)
        self.uplink.unlock()

    def set_vr(self, vr: int) -> None:
        """COP-1 Set V(R): V(S) := ``vr``, outstanding frames are abandoned."""
        if not 0 <= vr <= 0xFF:
            raise ProtocolError(f"V(R) {vr} outside 0..255")
        self.hostile.event("directives: Set V(R)", "directive: Set V(R) %d", vr, level=logging.INFO)
        self.uplink.set_vr(vr)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> gs.StationStatus:
        """The current status report (the 3,25 source data)."""
        fop, counters, clcw = self.uplink.fop, self.counters, self.downlink.last_clcw
        fsr = self.downlink.last_fsr
        bypass = self.settings.uplink.bypass
        return gs.StationStatus(
            uplink_mode=gs.UplinkMode.BD if bypass else gs.UplinkMode.AD,
            fop_state=0 if bypass else int(fop.state),
            alert=self.uplink.alert,
            vs=fop.vs,
            outstanding=len(fop.sent),
            clcw_flags=_clcw_flags(clcw),
            clcw_report=clcw.report if clcw else 0,
            fsr_octet=fsr.encode()[0] if fsr else 0,
            clients=len(self.packets.clients),
            tc_packets_in=counters.tc_packets_in,
            frames_sent=counters.frames_sent,
            frames_retransmitted=counters.frames_retransmitted,
            frames_received=counters.frames_received,
            frames_invalid=counters.frames_invalid,
            sdls_rejections=counters.sdls_rejections,
            tm_packets_forwarded=counters.tm_packets_forwarded,
            garbage_octets=counters.garbage_octets,
            tc_dropped=counters.tc_dropped,
        )

    def status_document(self) -> dict[str, Any]:
        """The status file's content: the report, all counters, names instead of codes."""
        report = self.status()
        clcw, fsr = self.downlink.last_clcw, self.downlink.last_fsr
        return {
            "host": "ground-station",
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "started": dt.datetime.fromtimestamp(self._started_at, dt.UTC).isoformat(
                timespec="seconds"
            ),
            "scid": self.settings.scid,
            "uplink": {
                "mode": report.uplink_mode.name,
                "vcid": self.settings.uplink.vcid,
                "fop_state": self.uplink.fop.state.name,
                "alert": self.uplink.fop.alert,
                "alert_since": self._wall(self.uplink.fop.alert_since),
                "auto_recover": self.settings.uplink.fop_auto_recover,
                "vs": report.vs,
                "outstanding": report.outstanding,
                "waiting": len(self.uplink.fop.waiting),
                "spi": self.settings.uplink.sa.spi if self.settings.uplink.sa else None,
            },
            "downlink": {
                "vcid": self.settings.downlink.vcid,
                "spi": self.settings.downlink.sa.spi if self.settings.downlink.sa else None,
                "last_clcw": _clcw_dict(clcw),
                "last_fsr": _fsr_dict(fsr),
            },
            "clients": [client.peer for client in self.packets.clients],
            "access": self._access_document(),
            "counters": self.counters.as_dict(),
            "report": report.as_dict(),
        }

    def _access_document(self) -> dict[str, Any] | None:
        """Customer access (None: off): each customer, revoked or booked now, and who is on."""
        access = self.settings.packet_service.access
        if access is None:
            return None
        now = time.time()
        return {
            "period": access.period,
            "customers": {
                c.name: {"revoked": c.revoked, "booked_now": c.booked(now)}
                for c in access.customers
            },
            "connected": {
                client.peer: client.customer
                for client in self.packets.clients
                if client.customer is not None
            },
        }

    def _wall(self, moment: float | None) -> str | None:
        """A time of the station's clock as UTC ISO 8601 (None stays None)."""
        if moment is None:
            return None
        wall = time.time() - (self._clock() - moment)
        return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="seconds")

    def _status_changed(self) -> None:
        self._status_due = True

    def _emit_status(self) -> None:
        self._status_due = False
        report = self.status()
        self.packets.broadcast(self._tm(3, 25, report.encode()))
        if self.settings.status_file is not None:
            try:
                write_json_atomic(self.settings.status_file, self.status_document())
            except OSError as exc:
                log.error("cannot write status file %s: %s", self.settings.status_file, exc)

    async def _run(self) -> None:
        last_status = last_service = self._clock()
        while True:
            now = self._clock()
            self.uplink.tick()
            if now - last_service >= self._service_tick:
                last_service = now
                self.packets.tick(now)
                for limited in self.rate_limited_logs:
                    limited.flush()
            if self._status_due or now - last_status >= self.settings.status_interval:
                last_status = now
                self._emit_status()
            await asyncio.sleep(self._tick)

    # -- traffic ----------------------------------------------------------------------------
    def _on_tc(self, client: ClientSession, packet: bytes) -> None:
        if not packet[0] & PACKET_TYPE_TC or not packet[0] & 0x08:
            self.counters.tc_dropped += 1
            self.hostile.event(
                "packet service: packets that are not PUS TCs",
                "packet service: %s sent a packet that is not a PUS TC",
                client.peer,
                level=logging.INFO,
            )
            return
        self.counters.tc_packets_in += 1
        if int.from_bytes(packet[:2], "big") & 0x7FF == gs.GROUND_STATION_APID:
            self._directive(client, packet)
            return
        try:
            self.uplink.send_packet(packet)
        except ProtocolError as exc:
            self.counters.tc_dropped += 1
            self.hostile.event(
                "uplink: TCs dropped", "uplink: TC from %s dropped: %s", client.peer, exc
            )

    def _on_tm(self, packet: bytes) -> None:
        self.packets.broadcast(packet)

    def _on_clcw(self, clcw: Clcw) -> None:
        self.uplink.on_clcw(clcw)
        flags = _clcw_flags(clcw)
        if flags != self._clcw_flags:
            self._clcw_flags = flags
            self._status_due = True

    def _tm(self, service: int, subtype: int, data: bytes) -> bytes:
        self._seq_count = (self._seq_count + 1) % SEQ_COUNT_MODULUS
        now = CdsShortTime.from_datetime(dt.datetime.now(dt.UTC)).encode()
        return PusTm(
            gs.GROUND_STATION_APID,
            service,
            subtype,
            data,
            seq_count=self._seq_count,
            msg_counter=self._seq_count,
            time=now,
        ).encode()

    # -- directives ---------------------------------------------------------------------------
    def _directive(self, client: ClientSession, packet: bytes) -> None:
        self.counters.directives += 1
        try:
            tc = PusTc.decode(packet)
        except ProtocolError:
            self.counters.tc_dropped += 1
            return
        failure = self._execute(client, tc)
        packet_id, seq_control = struct.unpack(">HH", packet[:4])
        if failure is not None:
            self.hostile.event(
                "directives rejected",
                "directive %d,%d from %s rejected",
                tc.service,
                tc.subtype,
                client.peer,
            )
            report = self._tm(1, 2, verification_data(packet_id, seq_control, failure))
            self.packets.send(client, report)
            return
        if tc.ack_flags & ACK_ACCEPTANCE:
            self.packets.send(client, self._tm(1, 1, verification_data(packet_id, seq_control)))
        if tc.ack_flags & ACK_COMPLETION:
            self.packets.send(client, self._tm(1, 7, verification_data(packet_id, seq_control)))

    def _execute(self, client: ClientSession, tc: PusTc) -> gs.DirectiveFailure | None:
        key = (tc.service, tc.subtype)
        if key == (17, 1):
            self.packets.send(client, self._tm(17, 2, b""))
        elif key == (gs.DIRECTIVE_SERVICE, gs.Directive.UNLOCK) and not tc.app_data:
            self.unlock()
        elif key == (gs.DIRECTIVE_SERVICE, gs.Directive.SET_VR) and len(tc.app_data) == 1:
            self.set_vr(tc.app_data[0])
        elif key == (gs.DIRECTIVE_SERVICE, gs.Directive.REPORT_STATUS) and not tc.app_data:
            self._status_due = True
        elif key[0] == gs.DIRECTIVE_SERVICE and key[1] in gs.Directive._value2member_map_:
            return gs.DirectiveFailure.BAD_ARGUMENTS
        else:
            return gs.DirectiveFailure.UNKNOWN_DIRECTIVE
        return None


def _clcw_flags(clcw: Clcw | None) -> int:
    if clcw is None:
        return 0
    bits = (
        (True, gs.CLCW_SEEN),
        (clcw.lockout, gs.CLCW_LOCKOUT),
        (clcw.wait, gs.CLCW_WAIT),
        (clcw.retransmit, gs.CLCW_RETRANSMIT),
        (clcw.no_rf, gs.CLCW_NO_RF),
        (clcw.no_bitlock, gs.CLCW_NO_BITLOCK),
    )
    return sum(flag for on, flag in bits if on)


def _clcw_dict(clcw: Clcw | None) -> dict[str, int] | None:
    if clcw is None:
        return None
    names = ("vcid", "report", "lockout", "wait", "retransmit", "farm_b_counter", "no_rf")
    return {name: int(getattr(clcw, name)) for name in (*names, "no_bitlock")}


def _fsr_dict(fsr: Fsr | None) -> dict[str, int] | None:
    if fsr is None:
        return None
    names = ("alarm", "bad_sn", "bad_mac", "bad_sa", "spi", "sn_lsb")
    return {name: int(getattr(fsr, name)) for name in names}
