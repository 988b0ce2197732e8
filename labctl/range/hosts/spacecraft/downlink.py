"""Downlink: PUS-C telemetry packets into fixed-length TM transfer frames.

* Packets (ECSS-E-ST-70-41C §7.4.3.2) carry a CDS short time, per-APID sequence counts
  and per-message-type counters.
* Frames (CCSDS 132.0-B-3) are ``frame_length`` octets on one virtual channel, with the
  CLCW of FARM-1 in the OCF (232.0-B-4 §4.2) and an FECF. Each frame carries whole
  packets starting at the first octet of its data field (first header pointer 0); the
  unused rest is one idle packet (APID 0x7FF, 133.0-B-2 §4.1.3.3.4.4). A packet never
  spans two frames, so a receiver can take each frame on its own (``stream.packets_in``).
* With a downlink SA, SDLS is applied to the data field (355.0-B-2 §4.2); the OCF and
  FECF stay in the clear, as the standard wants.
* The Frame Security Report goes out in the OCF of an idle frame on VC 7 (OID frame,
  132.0-B-3 §4.1.4.2), so it never displaces the CLCW of the commanded channel.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Callable
from typing import Final

from labctl.protocols.crc import CRC16_SIZE
from labctl.protocols.pus import CdsShortTime, PusTm
from labctl.protocols.sdls import SdlsEngine
from labctl.protocols.spacepacket import PRIMARY_HEADER_SIZE, SEQ_COUNT_MASK, idle_packet
from labctl.protocols.tm_frame import OCF_SIZE, TM_HEADER_SIZE, TmFrame, idle_frame

MIN_PACKET: Final = PRIMARY_HEADER_SIZE + 1
FILL: Final = b"\xff"


class TmPacketFactory:
    """Builds PUS-C TM packets with their counters and the on-board time."""

    def __init__(self, apid: int, wallclock: Callable[[], float]) -> None:
        self.apid = apid
        self._wallclock = wallclock
        self._seq = 0
        self._msg_counters: Counter[tuple[int, int]] = Counter()

    def packet(self, service: int, subtype: int, data: bytes = b"") -> bytes:
        when = dt.datetime.fromtimestamp(self._wallclock(), dt.UTC)
        counter = self._msg_counters[(service, subtype)]
        self._msg_counters[(service, subtype)] = (counter + 1) & 0xFFFF
        packet = PusTm(
            self.apid,
            service,
            subtype,
            data,
            seq_count=self._seq,
            msg_counter=counter,
            time=CdsShortTime.from_datetime(when).encode(),
        )
        self._seq = (self._seq + 1) & SEQ_COUNT_MASK
        return packet.encode()


class DownlinkFramer:
    """A bounded packet queue and the frames that carry it."""

    def __init__(
        self,
        scid: int,
        vcid: int,
        frame_length: int,
        *,
        queue_size: int,
        engine: SdlsEngine | None = None,
        spi: int | None = None,
    ) -> None:
        self.scid, self.vcid, self.frame_length = scid, vcid, frame_length
        self.engine, self.spi = engine, spi
        overhead = 0
        if engine is not None and spi is not None:
            overhead = engine.associations[spi].overhead
        self.capacity = frame_length - TM_HEADER_SIZE - OCF_SIZE - CRC16_SIZE - overhead
        self._queue: deque[bytes] = deque()
        self.queue_size = queue_size
        self.dropped = 0
        self.frames = 0
        self._mc = 0
        self._vc = 0

    def enqueue(self, packet: bytes) -> bool:
        """Queue one packet; False (and counted) when the queue is full or it cannot fit."""
        if len(self._queue) >= self.queue_size or len(packet) > self.capacity:
            self.dropped += 1
            return False
        self._queue.append(packet)
        return True

    def pending(self) -> int:
        return len(self._queue)

    def next_frame(self, clcw: bytes) -> bytes | None:
        """A frame with as many queued packets as fit; None when nothing is queued."""
        if not self._queue:
            return None
        return self._frame(self._take(), clcw)

    def clcw_frame(self, clcw: bytes) -> bytes:
        """A frame of idle data on the commanded VC: reports the CLCW when nothing is queued."""
        return self._frame([], clcw)

    def fsr_frame(self, fsr: bytes) -> bytes:
        """An OID frame on VC 7 whose OCF is the Frame Security Report."""
        frame = idle_frame(self.scid, self.frame_length, self._next_mc(), fsr)
        self.frames += 1
        return frame

    def _take(self) -> list[bytes]:
        taken: list[bytes] = []
        room = self.capacity
        while self._queue and len(self._queue[0]) <= room:
            rest = room - len(self._queue[0])
            if taken and 0 < rest < MIN_PACKET:
                break  # leave room for an idle packet; this one goes in the next frame
            packet = self._queue.popleft()
            taken.append(packet)
            room -= len(packet)
        return taken

    def _frame(self, packets: list[bytes], clcw: bytes) -> bytes:
        data = b"".join(packets)
        room = self.capacity - len(data)
        if room >= MIN_PACKET:
            data += idle_packet(room)
        elif room:
            data += FILL * room  # too short for a packet header; never parsed as one
        frame = TmFrame(self.scid, self.vcid, data, self._next_mc(), self._vc, 0, clcw)
        self._vc = (self._vc + 1) & 0xFF
        if self.engine is not None and self.spi is not None:
            frame = self.engine.protect_tm(frame, self.spi)
        self.frames += 1
        return frame.encode()

    def _next_mc(self) -> int:
        count = self._mc
        self._mc = (self._mc + 1) & 0xFF
        return count
