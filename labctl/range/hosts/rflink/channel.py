"""The channel model of the radio link: contact windows, loss, bit errors, jamming.

Pure and deterministic given its random generator and clock, so tests can seed it and
move time by hand. Delay is applied by the relay (a bounded delay line), not here.

* Contact windows: from an orbit (``schedule``: the spacecraft's TLE, the ground
  station's coordinates and a time compression, :class:`labctl.range.orbit.PassSchedule`),
  or a pass of ``pass_duration`` seconds every ``pass_period`` seconds, phase-shifted by
  ``pass_offset`` from the clock's epoch. Both follow the wall clock, so every host agrees
  when the next pass is. Neither means always in contact.
* Loss: each frame is dropped with probability ``loss``.
* Bit errors: each bit flips independently with probability ``bit_error_rate``; the
  positions are drawn with geometric gaps, so a clean frame costs one random draw.
* Jamming: a jammed direction carries nothing. A direction is jammed by configuration, or
  - the uplink only - by noise heard on it: when more than ``noise_threshold`` datagrams
  that are not frames (their FECF, CRC-16 over the whole datagram, does not check) arrive
  within one second, the uplink carries nothing for the rest of that second and the next
  one, as a receiver drowned by a transmitter on its frequency. Noise itself is still
  relayed (a radio relays what it hears); 0 turns noise jamming off.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from labctl.protocols.crc import crc16_ok
from labctl.range.orbit import Contact, PassSchedule

UPLINK: Final = "uplink"
DOWNLINK: Final = "downlink"
#: The shortest transfer frame: a 5-octet TC header, one data octet, the 2-octet FECF.
MIN_FRAME: Final = 8


@dataclass(frozen=True)
class ChannelSettings:
    pass_period: float = 0.0
    pass_duration: float = 0.0
    pass_offset: float = 0.0
    delay: float = 0.0  # seconds
    loss: float = 0.0
    bit_error_rate: float = 0.0
    jam_uplink: bool = False
    jam_downlink: bool = False
    #: Non-frame datagrams per second on the uplink above which it is jammed; 0 = never.
    noise_threshold: int = 0
    #: Passes from an orbit (instead of the fixed period).
    schedule: PassSchedule | None = None

    @property
    def always_in_contact(self) -> bool:
        if self.schedule is not None:
            return False
        return self.pass_period <= 0 or self.pass_duration >= self.pass_period


def flip_bits(data: bytes, ber: float, rng: random.Random) -> tuple[bytes, int]:
    """``data`` with each bit flipped with probability ``ber``; returns (octets, flips)."""
    bits = len(data) * 8
    if ber <= 0 or not bits:
        return data, 0
    if ber >= 1:
        return bytes(b ^ 0xFF for b in data), bits
    out = bytearray(data)
    scale = 1.0 / math.log1p(-ber)
    position, flips = -1, 0
    while True:
        position += 1 + int(math.log(1.0 - rng.random()) * scale)
        if position >= bits:
            return bytes(out), flips
        out[position >> 3] ^= 0x80 >> (position & 7)
        flips += 1


@dataclass
class NoiseMeter:
    """Noise datagrams counted per whole second of the clock: this second and the last."""

    second: int = 0
    current: int = 0
    previous: int = 0

    def add(self, now: float) -> None:
        self._roll(now)
        self.current += 1

    def loud(self, now: float, threshold: int) -> bool:
        self._roll(now)
        return self.current > threshold or self.previous > threshold

    def _roll(self, now: float) -> None:
        second = math.floor(now)
        if second != self.second:
            self.previous = self.current if second == self.second + 1 else 0
            self.current, self.second = 0, second


def is_noise(datagram: bytes) -> bool:
    """Not a transfer frame: too short for a header and FECF, or the FECF does not check."""
    return len(datagram) < MIN_FRAME or not crc16_ok(datagram)


class ChannelModel:
    """Decides the fate of every frame and counts why frames did not get through."""

    def __init__(
        self,
        settings: ChannelSettings,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rng = rng or random.Random()
        self.clock = clock
        self.dropped: Counter[str] = Counter()
        self.bits_flipped = 0
        self.frames_corrupted = 0
        self.noise: Counter[str] = Counter()
        #: Frames (not noise) lost to jamming, by direction, and when the last one was.
        self.frames_jammed: Counter[str] = Counter()
        self.last_frame_jammed: dict[str, float] = {}
        self._uplink_noise = NoiseMeter()

    def in_contact(self, now: float | None = None) -> bool:
        s = self.settings
        if s.always_in_contact:
            return True
        moment = self.clock() if now is None else now
        if s.schedule is not None:
            return s.schedule.in_contact(moment)
        return (moment - s.pass_offset) % s.pass_period < s.pass_duration

    def next_pass(self, now: float | None = None) -> float | None:
        """Start time of the next pass (None when always in contact, or an orbit that
        never rises above the station's mask)."""
        s = self.settings
        if s.always_in_contact:
            return None
        moment = self.clock() if now is None else now
        if s.schedule is not None:
            return next((c.aos for c in s.schedule.upcoming(moment, 2) if c.aos > moment), None)
        phase = (moment - s.pass_offset) % s.pass_period
        return moment - phase + s.pass_period

    def upcoming(self, count: int = 3, now: float | None = None) -> list[Contact]:
        """The pass under way and the next ones (none when always in contact)."""
        s = self.settings
        if s.always_in_contact:
            return []
        moment = self.clock() if now is None else now
        if s.schedule is not None:
            return s.schedule.upcoming(moment, count)
        start = moment - (moment - s.pass_offset) % s.pass_period
        if moment >= start + s.pass_duration:
            start += s.pass_period
        return [
            Contact(start + i * s.pass_period, start + i * s.pass_period + s.pass_duration, 90.0)
            for i in range(count)
        ]

    def jammed(self, direction: str) -> bool:
        s = self.settings
        if direction == DOWNLINK:
            return s.jam_downlink
        return s.jam_uplink or self.noise_jammed()

    def noise_jammed(self) -> bool:
        """Whether noise on the uplink is above the threshold (this second or the last)."""
        threshold = self.settings.noise_threshold
        return threshold > 0 and self._uplink_noise.loud(self.clock(), threshold)

    def transmit(self, direction: str, frame: bytes) -> bytes | None:
        """The frame as received at the far end, or None (and counted) if it is lost."""
        if direction == UPLINK and self.settings.noise_threshold > 0 and is_noise(frame):
            self.noise[direction] += 1
            self._uplink_noise.add(self.clock())
        reason = self._drop_reason(direction)
        if reason:
            self.dropped[f"{direction}_{reason}"] += 1
            if reason == "jammed" and not is_noise(frame):
                # a station's frame lost to the jam (the noise itself is counted above)
                self.frames_jammed[direction] += 1
                self.last_frame_jammed[direction] = self.clock()
            return None
        received, flips = flip_bits(frame, self.settings.bit_error_rate, self.rng)
        if flips:
            self.bits_flipped += flips
            self.frames_corrupted += 1
        return received

    def _drop_reason(self, direction: str) -> str:
        if self.jammed(direction):
            return "jammed"
        if not self.in_contact():
            return "no_pass"
        if self.settings.loss > 0 and self.rng.random() < self.settings.loss:
            return "lost"
        return ""
