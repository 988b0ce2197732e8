"""COP-1: FARM-1 (receiving end) and a compact FOP-1 (sending end), CCSDS 232.1-B-2.

FARM-1 follows the state table of §6.3 (states S1 Open, S2 Wait, S3 Lockout; events E1-E10)
and reports through the CLCW (232.0-B-4 §4.2). The caller hands it frames that already
passed frame validation (FECF, SCID, VCID) and SDLS processing.

FOP-1 keeps the parts a ground station needs: V(S), a sent queue acknowledged by N(R),
retransmission on the CLCW retransmit flag or on timer T1 with a transmission limit, and
the Unlock / Set V(R) directives. Retransmitted frames are handed back as clear
:class:`TcFrame` objects so SDLS is re-applied with a fresh sequence number each time.

FOP-1 also notices when FARM-1 has fallen out of step with it, the way a spacecraft that
restarted does (FARM-1 back at V(R) = 0, the station's V(S) further on): a CLCW with the
lockout flag, or ``OUT_OF_STEP_REPORTS`` CLCWs in a row whose N(R) acknowledges nothing
the FOP sent (one such report can be stale or forged; a row of them is FARM-1's state).
Either stops transmission with an alert; :meth:`Fop1.reinitiate` is the way back
(232.1-B-2 §5.1.2, "Initiate AD service with Unlock" / "with Set V(R)"), run by the
station's automatic recovery or by an operator's directive.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.tc_frame import (
    Bypass,
    ControlCommand,
    FrameKind,
    TcFrame,
    decode_control_command,
    set_vr_frame,
    unlock_frame,
)
from labctl.protocols.tm_frame import Clcw

MODULUS: Final = 256
DEFAULT_WINDOW: Final = 10
#: CLCWs in a row with an N(R) outside the sent window before FOP-1 calls FARM-1 out of step.
OUT_OF_STEP_REPORTS: Final = 3
#: Without a CLCW for this long the downlink is dark and re-initiation sets V(R) blind.
DARK_AFTER_T1: Final = 5
DARK_AFTER_MIN: Final = 10.0
LOCKOUT_ALERT: Final = "FARM-1 lockout"
OUT_OF_STEP_ALERT: Final = "N(R) out of step"
LIMIT_ALERT: Final = "transmission limit reached"


class FarmState(IntEnum):
    OPEN = 1  # S1
    WAIT = 2  # S2
    LOCKOUT = 3  # S3


class FarmEvent(IntEnum):
    """232.1-B-2 Table 6-1."""

    AD_ACCEPTED = 1  # E1: N(S) = V(R), buffer space
    AD_NO_BUFFER = 2  # E2: N(S) = V(R), no buffer space
    AD_POSITIVE_WINDOW = 3  # E3: N(S) ahead of V(R) within PW
    AD_NEGATIVE_WINDOW = 4  # E4: N(S) behind V(R) within NW (duplicate)
    AD_LOCKOUT_AREA = 5  # E5: outside both windows
    BD = 6  # E6
    UNLOCK = 7  # E7
    SET_VR = 8  # E8
    INVALID = 9  # E9: illegal frame kind or unknown control command
    BUFFER_RELEASE = 10  # E10


@dataclass(frozen=True, slots=True)
class FarmResult:
    accepted: bool
    event: FarmEvent
    data: bytes = b""  # AD/BD frame data field passed upwards when accepted


@dataclass
class Farm1:
    """FARM-1 for one virtual channel. ``window`` is the sliding window width W (even)."""

    vcid: int
    window: int = DEFAULT_WINDOW
    vr: int = 0
    state: FarmState = FarmState.OPEN
    farm_b_counter: int = 0
    retransmit: bool = False
    capacity: int | None = None  # AD frames the buffer holds; None = never full
    held: int = 0

    def __post_init__(self) -> None:
        if self.window % 2 or not 2 <= self.window <= 254:
            raise ValueError("FARM-1 window width is even, 2..254 (232.1-B-2 §6.1.8.2)")

    @property
    def lockout(self) -> bool:
        return self.state is FarmState.LOCKOUT

    @property
    def wait(self) -> bool:
        return self.state is FarmState.WAIT

    def receive(self, frame: TcFrame) -> FarmResult:
        """Apply one valid frame to the state machine."""
        kind = frame.kind
        if kind is FrameKind.AD:
            return self._ad(frame)
        if kind is FrameKind.BD:
            self.farm_b_counter += 1
            return FarmResult(True, FarmEvent.BD, frame.data)
        if kind is FrameKind.BC:
            return self._bc(frame.data)
        return FarmResult(False, FarmEvent.INVALID)

    def release(self, frames: int = 1) -> None:
        """E10: the upper layer consumed ``frames`` buffered AD frames."""
        self.held = max(0, self.held - frames)
        if self.state is FarmState.WAIT:
            self.state = FarmState.OPEN

    def clcw(self, no_rf: int = 0, no_bitlock: int = 0, status: int = 0) -> Clcw:
        """The CLCW reporting this FARM (232.0-B-4 §4.2)."""
        return Clcw(
            vcid=self.vcid,
            report=self.vr,
            lockout=int(self.lockout),
            wait=int(self.wait),
            retransmit=int(self.retransmit),
            farm_b_counter=self.farm_b_counter & 0b11,
            no_rf=no_rf,
            no_bitlock=no_bitlock,
            status=status,
        )

    def _ad(self, frame: TcFrame) -> FarmResult:
        ahead = (frame.seq - self.vr) % MODULUS
        half = self.window // 2
        if self.state is FarmState.LOCKOUT:
            return FarmResult(False, self._classify(ahead, half))
        if ahead == 0:
            if self.state is FarmState.WAIT or self._full():
                self.retransmit = True
                self.state = FarmState.WAIT
                return FarmResult(False, FarmEvent.AD_NO_BUFFER)
            self.vr = (self.vr + 1) % MODULUS
            self.retransmit = False
            self.held += 1
            return FarmResult(True, FarmEvent.AD_ACCEPTED, frame.data)
        event = self._classify(ahead, half)
        if event is FarmEvent.AD_POSITIVE_WINDOW and self.state is FarmState.OPEN:
            self.retransmit = True
        elif event is FarmEvent.AD_LOCKOUT_AREA:
            self.state = FarmState.LOCKOUT
        return FarmResult(False, event)

    @staticmethod
    def _classify(ahead: int, half: int) -> FarmEvent:
        if ahead == 0:
            return FarmEvent.AD_ACCEPTED
        if ahead <= half - 1:
            return FarmEvent.AD_POSITIVE_WINDOW
        if ahead >= MODULUS - half:
            return FarmEvent.AD_NEGATIVE_WINDOW
        return FarmEvent.AD_LOCKOUT_AREA

    def _full(self) -> bool:
        return self.capacity is not None and self.held >= self.capacity

    def _bc(self, data: bytes) -> FarmResult:
        try:
            command, value = decode_control_command(data)
        except ProtocolError:
            return FarmResult(False, FarmEvent.INVALID)
        self.farm_b_counter += 1
        if command is ControlCommand.UNLOCK:
            self.retransmit = False
            self.state = FarmState.OPEN
            return FarmResult(True, FarmEvent.UNLOCK)
        if self.state is not FarmState.LOCKOUT:
            assert value is not None
            self.retransmit = False
            self.state = FarmState.OPEN
            self.vr = value
        return FarmResult(True, FarmEvent.SET_VR)


class FopState(IntEnum):
    ACTIVE = 1
    RETRANSMIT = 2
    ALERTED = 3  # lockout seen, transmission limit reached, or invalid N(R)


@dataclass
class _Outstanding:
    frame: TcFrame
    sent_at: float
    transmissions: int


@dataclass
class Fop1:
    """A compact FOP-1 for one virtual channel. Times are seconds from any monotonic clock."""

    scid: int
    vcid: int
    window: int = DEFAULT_WINDOW  # K: AD frames outstanding at most
    timeout: float = 2.0  # T1
    transmission_limit: int = 3
    vs: int = 0
    state: FopState = FopState.ACTIVE
    alert: str = ""
    sent: deque[_Outstanding] = field(default_factory=deque)
    waiting: deque[bytes] = field(default_factory=deque)
    max_waiting: int = 1024
    #: When the current alert began (the clock of the call that raised it), None without one.
    alert_since: float | None = None
    #: What the latest CLCW said of FARM-1: locked out, and out of step with V(S).
    farm_lockout: bool = False
    out_of_step: int = 0
    #: When the last CLCW for this VC arrived (None: never since start).
    clcw_at: float | None = None

    def send_ad(self, data: bytes, now: float) -> list[TcFrame]:
        """Queue a sequence-controlled frame data field; return frames to transmit now."""
        if len(self.waiting) >= self.max_waiting:
            raise ProtocolError("FOP-1 wait queue full")
        self.waiting.append(data)
        return self._pump(now)

    def send_bd(self, data: bytes) -> TcFrame:
        """An expedited (bypass) frame: no sequence control, no retransmission."""
        return TcFrame(self.scid, self.vcid, data, 0, Bypass.TYPE_B, 0)

    def unlock(self) -> TcFrame:
        """BC Unlock; the FOP resumes once a CLCW without lockout arrives."""
        return unlock_frame(self.scid, self.vcid)

    def set_vr(self, vr: int) -> TcFrame:
        """BC Set V(R); V(S) follows and outstanding frames are dropped (initialise)."""
        self.vs = vr % MODULUS
        self.sent.clear()
        self.state, self.alert, self.alert_since = FopState.ACTIVE, "", None
        self.out_of_step = 0
        return set_vr_frame(self.scid, self.vcid, self.vs)

    def reinitiate(self, now: float) -> list[TcFrame]:
        """Initiate AD service again; return the frames to transmit, in order.

        After a lockout: BC Unlock. After a lockout or an N(R) out of step: BC Set V(R) to
        the first unacknowledged frame's N(S) (V(S) when nothing is outstanding), so FARM-1
        expects what comes next. When the downlink is dark (:meth:`dark`: FARM-1's state
        is unknown), Set V(R) too, blind. Then every outstanding frame again, with a fresh
        transmission count, and whatever waits for the window.
        """
        frames: list[TcFrame] = []
        blind = self.dark(now)
        if self.farm_lockout:
            frames.append(unlock_frame(self.scid, self.vcid))
        if self.farm_lockout or self.out_of_step or blind:
            start = self.sent[0].frame.seq if self.sent else self.vs
            frames.append(set_vr_frame(self.scid, self.vcid, start))
        self.state, self.alert, self.alert_since = FopState.ACTIVE, "", None
        self.farm_lockout, self.out_of_step = False, 0
        for item in self.sent:
            item.transmissions, item.sent_at = 1, now
            frames.append(item.frame)
        return frames + self._pump(now)

    def dark(self, now: float) -> bool:
        """No CLCW for this VC since start, or for ``DARK_AFTER_T1`` x T1 (at least
        ``DARK_AFTER_MIN`` s): FARM-1's state is unknown."""
        quiet = max(DARK_AFTER_MIN, DARK_AFTER_T1 * self.timeout)
        return self.clcw_at is None or now - self.clcw_at > quiet

    def on_clcw(self, clcw: Clcw, now: float) -> list[TcFrame]:
        """Process a CLCW for this VC: acknowledge, retransmit, raise alerts."""
        if clcw.vcid != self.vcid or clcw.cop != 1:
            return []
        self.clcw_at = now
        if not self._farm_in_step(clcw, now):
            return []
        self._acknowledge(clcw.report)
        if self.state is FopState.ALERTED:
            if self.alert in (LOCKOUT_ALERT, OUT_OF_STEP_ALERT):
                self.state, self.alert, self.alert_since = FopState.ACTIVE, "", None
            else:
                return []
        if clcw.retransmit and self.sent and not clcw.wait:
            return self._retransmit(now)
        self.state = FopState.RETRANSMIT if clcw.wait and self.sent else FopState.ACTIVE
        return self._pump(now)

    def on_timer(self, now: float) -> list[TcFrame]:
        """Call periodically: retransmits everything outstanding when T1 expired."""
        if self.state is FopState.ALERTED or not self.sent:
            return []
        if now - self.sent[0].sent_at < self.timeout:
            return []
        return self._retransmit(now)

    def _farm_in_step(self, clcw: Clcw, now: float) -> bool:
        """Note what the CLCW says of FARM-1; False (alerting when it is time) when FARM-1
        is locked out or its N(R) acknowledges nothing sent."""
        self.farm_lockout = bool(clcw.lockout)
        if clcw.lockout:
            self._alert(LOCKOUT_ALERT, now)
            return False
        if not self._in_step(clcw.report):
            self.out_of_step += 1
            if self.out_of_step >= OUT_OF_STEP_REPORTS:
                self._alert(OUT_OF_STEP_ALERT, now)
            return False
        self.out_of_step = 0
        return True

    def _in_step(self, nr: int) -> bool:
        """Does N(R) lie between the first unacknowledged frame and V(S)?"""
        if not self.sent:
            return nr == self.vs
        return (nr - self.sent[0].frame.seq) % MODULUS <= len(self.sent)

    def _acknowledge(self, nr: int) -> None:
        """N(R) acknowledges every outstanding frame numbered before it."""
        if not self.sent:
            return
        count = (nr - self.sent[0].frame.seq) % MODULUS
        if count > len(self.sent):
            return  # N(R) outside the sent window: ignore (stale or forged CLCW)
        for _ in range(count):
            self.sent.popleft()

    def _retransmit(self, now: float) -> list[TcFrame]:
        if any(item.transmissions >= self.transmission_limit for item in self.sent):
            return self._alert(LIMIT_ALERT, now)
        self.state = FopState.RETRANSMIT
        for item in self.sent:
            item.transmissions += 1
            item.sent_at = now
        return [item.frame for item in self.sent]

    def _pump(self, now: float) -> list[TcFrame]:
        if self.state is FopState.ALERTED:
            return []
        out: list[TcFrame] = []
        while self.waiting and len(self.sent) < self.window:
            frame = TcFrame(self.scid, self.vcid, self.waiting.popleft(), self.vs, Bypass.TYPE_A)
            self.vs = (self.vs + 1) % MODULUS
            self.sent.append(_Outstanding(frame, now, 1))
            out.append(frame)
        return out

    def _alert(self, reason: str, now: float) -> list[TcFrame]:
        if self.alert != reason or self.alert_since is None:
            self.alert_since = now
        self.state, self.alert = FopState.ALERTED, reason
        return []
