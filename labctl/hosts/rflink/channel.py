"""The channel model of the radio link: contact windows, loss, bit errors, jamming.

Pure and deterministic given its random generator and clock, so tests can seed it and
move time by hand. Delay is applied by the relay (a bounded delay line), not here.

* Contact windows: a pass of ``pass_duration`` seconds every ``pass_period`` seconds,
  phase-shifted by ``pass_offset`` from the clock's epoch (the wall clock in a container,
  so every host agrees when the next pass is). Period 0 means always in contact.
* Loss: each frame is dropped with probability ``loss``.
* Bit errors: each bit flips independently with probability ``bit_error_rate``; the
  positions are drawn with geometric gaps, so a clean frame costs one random draw.
* Jamming: a jammed direction carries nothing.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

UPLINK: Final = "uplink"
DOWNLINK: Final = "downlink"


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

    @property
    def always_in_contact(self) -> bool:
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

    def in_contact(self, now: float | None = None) -> bool:
        s = self.settings
        if s.always_in_contact:
            return True
        moment = self.clock() if now is None else now
        return (moment - s.pass_offset) % s.pass_period < s.pass_duration

    def next_pass(self, now: float | None = None) -> float | None:
        """Start time of the next pass (None when always in contact)."""
        s = self.settings
        if s.always_in_contact:
            return None
        moment = self.clock() if now is None else now
        phase = (moment - s.pass_offset) % s.pass_period
        return moment - phase + s.pass_period

    def jammed(self, direction: str) -> bool:
        s = self.settings
        return s.jam_uplink if direction == UPLINK else s.jam_downlink

    def transmit(self, direction: str, frame: bytes) -> bytes | None:
        """The frame as received at the far end, or None (and counted) if it is lost."""
        reason = self._drop_reason(direction)
        if reason:
            self.dropped[f"{direction}_{reason}"] += 1
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
