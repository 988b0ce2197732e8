"""The uplink: TC packets → TC transfer frames (FOP-1, segment header, SDLS, FECF) → rf-link.

One TC packet per frame (no segmentation), on one virtual channel and MAP. Type AD by
default: FOP-1 numbers the frames, keeps at most ``window`` unacknowledged, retransmits
on the CLCW retransmit flag or timer T1 and stops (alert) on lockout, when FARM-1's N(R)
is out of step (a restarted spacecraft), or when the transmission limit is reached.
Unlock and Set V(R) are the operator's way back; with ``fop.auto_recover`` (the default)
the station re-initiates the AD service by itself once an alert has lasted T1, no more
than once per ``RECOVERY_SPACING_T1`` x T1 (the COP-1 procedure a real station automates).
With
``bypass: true`` frames go out as type BD: no sequence control, no retransmission.

SDLS is applied afresh to every transmission, retransmissions included, so each carries
a new sequence number. BC control frames (Unlock, Set V(R)) carry no segment header and
are sent in the clear unless ``uplink.sa.protect_control`` is set (the spacecraft must
expect the same). Each frame is one UDP datagram to the rf-link uplink-in port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.cop1 import (
    LIMIT_ALERT,
    LOCKOUT_ALERT,
    OUT_OF_STEP_ALERT,
    Fop1,
    FopState,
)
from labctl.protocols.crc import CRC16_SIZE
from labctl.protocols.tc_frame import (
    SEGMENT_HEADER_SIZE,
    TC_HEADER_SIZE,
    TC_MAX_FRAME_SIZE,
    FrameKind,
    TcFrame,
    segment,
)
from labctl.protocols.tm_frame import Clcw
from labctl.range.hosts.groundstation.conventions import Alert
from labctl.range.hosts.groundstation.counters import Counters
from labctl.range.hosts.groundstation.settings import UplinkSettings
from labctl.range.hosts.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

#: TC packets waiting for room in the FOP-1 window before new ones are dropped.
MAX_WAITING: Final = 256
#: How often the rf-link name is looked up again (its address changes if it restarts),
#: and how soon a failed look-up is retried.
RESOLVE_EVERY: Final = 30.0
RESOLVE_RETRY: Final = 2.0

ALERTS: Final = {
    "": Alert.NONE,
    LOCKOUT_ALERT: Alert.LOCKOUT,
    LIMIT_ALERT: Alert.TRANSMISSION_LIMIT,
    OUT_OF_STEP_ALERT: Alert.OUT_OF_STEP,
}
#: Automatic recovery: an alert must have lasted T1, and recoveries are this many T1
#: apart, and at least RECOVERY_SPACING_MIN seconds (a forged CLCW cannot make it busy).
RECOVERY_SPACING_T1: Final = 5
RECOVERY_SPACING_MIN: Final = 10.0


class _Sender(asyncio.DatagramProtocol):
    def error_received(self, exc: Exception) -> None:
        log.debug("uplink: send error %s", exc)


class Uplink:
    """FOP-1, SDLS and the UDP socket towards the rf-link, for one virtual channel."""

    def __init__(
        self,
        scid: int,
        settings: UplinkSettings,
        counters: Counters,
        clock: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._counters = counters
        self._clock = clock
        self._on_change = on_change
        self.fop = Fop1(
            scid,
            settings.vcid,
            window=settings.fop_window,
            timeout=settings.fop_timeout,
            transmission_limit=settings.fop_transmission_limit,
            max_waiting=MAX_WAITING,
        )
        self.sa = settings.sa
        self._engine = settings.sa.engine() if settings.sa else None
        self._transport: asyncio.DatagramTransport | None = None
        self._target: tuple[str, int] | None = None
        self._resolved_at = -RESOLVE_EVERY
        self._resolving: asyncio.Task[None] | None = None
        self._last = self._summary()
        self._recovered_at: float | None = None
        #: Forged CLCWs on the air can make FOP-1 retransmit and alert at will.
        self.hostile = RateLimitedLog(log)

    # -- life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self.sa is not None and self._engine is not None:
            self.sa.restore(self._engine, "uplink.sa.sequence_file")
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            _Sender, local_addr=(self.settings.bind_address, 0), family=socket.AF_INET
        )
        self._transport = transport
        await self._resolve()

    def close(self) -> None:
        if self._resolving is not None:
            self._resolving.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def max_packet(self) -> int:
        """The longest TC packet that fits in one frame with this configuration."""
        overhead = TC_HEADER_SIZE + SEGMENT_HEADER_SIZE + CRC16_SIZE
        return TC_MAX_FRAME_SIZE - overhead - (self.sa.association.overhead if self.sa else 0)

    @property
    def alert(self) -> Alert:
        return ALERTS.get(self.fop.alert, Alert.OTHER)

    # -- packets and directives -------------------------------------------------------------
    def send_packet(self, packet: bytes) -> None:
        """Frame and transmit one TC packet. Raises ProtocolError when it cannot be queued."""
        if len(packet) > self.max_packet:
            raise ProtocolError(f"TC packet of {len(packet)} octets; at most {self.max_packet}")
        data = segment(self.settings.map_id, packet)
        if self.settings.bypass:
            self._transmit([self.fop.send_bd(data)])
        else:
            self._transmit(self.fop.send_ad(data, self._clock()))
        self._changed()

    def unlock(self) -> None:
        """COP-1 directive: transmit a BC Unlock frame."""
        self._transmit([self.fop.unlock()])
        self._changed()

    def set_vr(self, vr: int) -> None:
        """COP-1 directive: V(S) := V*(R), drop outstanding frames, transmit BC Set V(R)."""
        self._transmit([self.fop.set_vr(vr)])
        self._changed()

    def on_clcw(self, clcw: Clcw) -> None:
        self._transmit(self.fop.on_clcw(clcw, self._clock()), resend=bool(clcw.retransmit))
        self._changed()

    def reinitiate(self) -> int:
        """Re-initiate the AD service (Unlock / Set V(R) as FARM-1's state needs); returns
        the number of outstanding frames sent again."""
        now, fop = self._clock(), self.fop
        outstanding = len(fop.sent)
        lockout, out_of_step, blind = fop.farm_lockout, bool(fop.out_of_step), fop.dark(now)
        start = fop.sent[0].frame.seq if fop.sent else fop.vs
        frames = fop.reinitiate(now)
        control = [f for f in frames if f.kind is FrameKind.BC]
        self._transmit(control)
        self._transmit(frames[len(control) : len(control) + outstanding], resend=True)
        self._transmit(frames[len(control) + outstanding :])
        self._recovered_at = now
        steps = (["Unlock"] if lockout else []) + (
            [f"Set V(R) {start}" + (" (no CLCW: blind)" if blind else "")]
            if (lockout or out_of_step or blind)
            else []
        )
        log.info(
            "uplink: AD service re-initiated (%s), %d outstanding frame(s) sent again",
            ", ".join(steps) or "resume",
            outstanding,
        )
        self._changed()
        return outstanding

    def _auto_recover(self, now: float) -> None:
        fop, settings = self.fop, self.settings
        if not settings.fop_auto_recover or settings.bypass or fop.state is not FopState.ALERTED:
            return
        if fop.alert_since is None or now - fop.alert_since < settings.fop_timeout:
            return
        spacing = max(RECOVERY_SPACING_MIN, RECOVERY_SPACING_T1 * settings.fop_timeout)
        if self._recovered_at is not None and now - self._recovered_at < spacing:
            return
        self._counters.fop_recoveries += 1
        self.reinitiate()

    def tick(self) -> None:
        """Timer T1, automatic recovery, periodic re-resolution of the rf-link address."""
        now = self._clock()
        self._auto_recover(now)
        frames = self.fop.on_timer(now)
        if frames:
            self.hostile.event(
                "uplink: T1 expiries",
                "uplink: T1 expired, retransmitting %d frame(s)",
                len(frames),
                level=logging.INFO,
            )
        self._transmit(frames, resend=True)
        if now - self._resolved_at > RESOLVE_EVERY and self._resolving is None:
            self._resolving = asyncio.get_running_loop().create_task(self._resolve())
        self._changed()

    # -- transmission -------------------------------------------------------------------
    def _transmit(self, frames: list[TcFrame], resend: bool = False) -> None:
        for frame in frames:
            try:
                raw = self._protect(frame).encode()
            except ProtocolError as exc:  # e.g. sequence number exhausted: rekey needed
                log.error("uplink: cannot protect frame: %s", exc)
                self._counters.frames_unsent += 1
                continue
            if self._transport is None or self._target is None:
                self._counters.frames_unsent += 1
                continue
            self._transport.sendto(raw, self._target)
            is_resend = resend and frame.kind is FrameKind.AD
            if is_resend:
                self._counters.frames_retransmitted += 1
            else:
                self._counters.frames_sent += 1

    def _protect(self, frame: TcFrame) -> TcFrame:
        sa, engine = self.sa, self._engine
        if sa is None or engine is None:
            return frame
        if frame.kind is FrameKind.BC:
            if not sa.protect_control:
                return frame
            protected = engine.protect_tc(frame, sa.spi, segment_header=False)
        else:
            protected = engine.protect_tc(frame, sa.spi)
        sa.persist(engine)
        return protected

    async def _resolve(self) -> None:
        host, port = self.settings.rf_link_address, self.settings.rf_link_port
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
            address = infos[0][4]
            self._target = (str(address[0]), int(address[1]))
            self._resolved_at = self._clock()
        except OSError as exc:
            self._resolved_at = self._clock() - RESOLVE_EVERY + RESOLVE_RETRY
            level = logging.WARNING if self._target is None else logging.DEBUG
            log.log(level, "uplink: cannot resolve rf-link %s: %s (will retry)", host, exc)
        finally:
            self._resolving = None

    # -- state --------------------------------------------------------------------------
    def _summary(self) -> tuple[FopState, str]:
        return self.fop.state, self.fop.alert

    def _changed(self) -> None:
        summary = self._summary()
        if summary != self._last:
            if self.fop.alert and self.fop.alert != self._last[1]:
                self.hostile.event(
                    "uplink: FOP-1 alerts",
                    "uplink: FOP-1 alert: %s; %s",
                    self.fop.alert,
                    "automatic recovery after T1"
                    if self.settings.fop_auto_recover
                    else "operator: Unlock or Set V(R)",
                )
            self._last = summary
            self._on_change()
