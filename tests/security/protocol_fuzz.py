"""The campaign's protocol fuzzer: seeded hostile inputs through every decoder of
labctl.protocols, counted per decoder as decoded, rejected or crashed.

Shared by ``bench/fuzz.py`` (a million inputs, rates) and
``tests/security/test_protocol_fuzz.py`` (a smaller run in the normal suite).

* **decoded**: the decoder returned a value (for SDLS and FARM-1: the frame was
  accepted; for stream readers: at least one unit came out).
* **rejected**: :class:`~labctl.errors.ProtocolError`, an SDLS verdict or FARM-1 result
  that refuses the frame, or a stream reader that reported only garbage.
* **crashed**: any other exception, or a stream reader holding more octets than its
  bound. Every crash is a bug.

Inputs (seeded, so a run is reproducible from its seed): mutation chains over genuine
packets and frames (bit flips, overwrites, truncations, extensions, splices, duplicated
runs: ``fuzz_corpus.mutate``), valid-looking headers with hostile length fields (Space
Packet data length, TC frame length, TM first header pointer and the length of the
packet it points to, SDLS SPI and pad length; the FECF recomputed half the time so the
length handling is reached), and random octets of random length up to 2,100.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "protocols"))

from fuzz_corpus import engines, mutate, seeds

from labctl.errors import ProtocolError
from labctl.protocols.cop1 import Farm1, Fop1
from labctl.protocols.crc import CRC16_SIZE, append_crc16
from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.sdls import SdlsEngine, Verdict, parse_security_header
from labctl.protocols.spacepacket import SpacePacket, packet_length_at
from labctl.protocols.stream import (
    ASM,
    Scanner,
    packet_stream,
    packets_in,
    space_packet_at,
    split_datagram,
    tc_frame_at,
    tc_frame_stream,
    tm_frame_at,
    tm_frame_stream,
)
from labctl.protocols.tc_frame import TcFrame, decode_control_command, unsegment
from labctl.protocols.tm_frame import Clcw, Fsr, TmFrame, decode_ocf

#: One decoder: True when the input was decoded (accepted), False when refused.
Target = Callable[[bytes], bool]
MAX_RANDOM = 2100
TM_LENGTH = 64  # the fixed TM frame length of the stream targets


@dataclass
class Tally:
    """One decoder's counts, and the first crashing input (to reproduce it)."""

    decoded: int = 0
    rejected: int = 0
    crashed: int = 0
    seconds: float = 0.0
    first_crash: tuple[bytes, str] | None = None

    @property
    def total(self) -> int:
        return self.decoded + self.rejected + self.crashed


class BoundExceeded(AssertionError):
    """A stream reader holds more octets than its documented bound."""


def _frame_from_header(data: bytes) -> TcFrame:
    """Whatever the octets say, as a TC frame (FARM-1 must cope with any header)."""
    padded = data + bytes(5)
    return TcFrame(
        scid=((padded[0] & 0x03) << 8) | padded[1],
        vcid=padded[2] >> 2,
        data=data[5:] or b"\x00",
        seq=padded[4],
        bypass=(padded[0] >> 5) & 1,
        ctrl_cmd=(padded[0] >> 4) & 1,
    )


def _verdict(verdict: Verdict) -> bool:
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verify returned {type(verdict).__name__}")
    return verdict.accepted


class Streams:
    """Long-lived stream readers fed every input as the next chunk: their buffers must
    stay within one maximum unit plus the chunk, whatever came before."""

    def __init__(self) -> None:
        self.packets = packet_stream(check_pec=True, pus=True)
        self.tc_frames = tc_frame_stream()
        self.tm_frames = tm_frame_stream(TM_LENGTH, asm=True)

    def feed(self, scanner: Scanner[Any], data: bytes) -> bool:
        units, _garbage = scanner.feed(data)
        held = len(scanner._buf)  # the bound is the point of the test
        if held > scanner.max_unit + len(data):
            raise BoundExceeded(f"scanner holds {held} octets (bound {scanner.max_unit})")
        return bool(units)


def targets() -> dict[str, Target]:
    """Every decoder of labctl.protocols, by name; stateful ones keep bounded state."""
    _, rx = engines()
    farm = Farm1(vcid=1)
    fop = Fop1(scid=0x42, vcid=1)
    fop.send_ad(b"\xc0pending", now=0.0)
    streams = Streams()
    clock = iter(range(10**12))
    gcm = rx.associations[1]

    def space_packet_prefix(data: bytes) -> bool:
        SpacePacket.decode_prefix(data, 0)
        return True

    def pus_tm_time(data: bytes) -> bool:
        tm = PusTm.decode(data)
        return isinstance(tm.cds_time.to_datetime(), dt.datetime)

    def cds_time(data: bytes) -> bool:
        return isinstance(CdsShortTime.decode(data[:7]).to_datetime(), dt.datetime)

    def fop_on_clcw(data: bytes) -> bool:
        frames = fop.on_clcw(Clcw.decode((data + bytes(4))[:4]), float(next(clock)))
        if not fop.sent and not fop.waiting:
            fop.send_ad(b"\xc0pending", now=0.0)  # keep something outstanding
        return bool(frames)

    def farm_receive(data: bytes) -> bool:
        try:
            frame = TcFrame.decode(data)
        except ProtocolError:
            frame = _frame_from_header(data)
        accepted = farm.receive(frame).accepted
        farm.release()
        return accepted

    def split(decoder: Any) -> Target:
        return lambda data: bool(split_datagram(decoder, data)[0])

    def sdls_tm(data: bytes) -> bool:
        return _verdict(rx.verify_tm(TmFrame.decode(data)))

    return {
        "SpacePacket.decode": lambda d: bool(SpacePacket.decode(d)),
        "SpacePacket.decode_prefix": space_packet_prefix,
        "packet_length_at": lambda d: packet_length_at(d) is not None,
        "PusTc.decode": lambda d: bool(PusTc.decode(d)),
        "PusTm.decode": lambda d: bool(PusTm.decode(d)),
        "PusTm time (CDS to datetime)": pus_tm_time,
        "CdsShortTime.decode": cds_time,
        "TcFrame.decode": lambda d: bool(TcFrame.decode(d)),
        "TcFrame.decode (no FECF)": lambda d: bool(TcFrame.decode(d, has_fecf=False)),
        "unsegment": lambda d: bool(unsegment(d)),
        "decode_control_command": lambda d: bool(decode_control_command(d)),
        "TmFrame.decode": lambda d: bool(TmFrame.decode(d)),
        "TmFrame.decode (no FECF)": lambda d: bool(TmFrame.decode(d, has_fecf=False)),
        "decode_ocf (CLCW/FSR)": lambda d: bool(decode_ocf(d[:4])),
        "Clcw.decode": lambda d: bool(Clcw.decode(d[-4:])),
        "Fsr.decode": lambda d: bool(Fsr.decode(d[:4])),
        "COP-1 FARM-1 receive": farm_receive,
        "COP-1 FOP-1 on_clcw": fop_on_clcw,
        "SDLS verify (raw field)": lambda d: _verdict(rx.verify(1, d[:5], d[5:])),
        "SDLS verify_tc": lambda d: _verdict(rx.verify_tc(TcFrame.decode(d))),
        "SDLS verify_tm": sdls_tm,
        "SDLS parse_security_header": lambda d: bool(parse_security_header(d, gcm)),
        "stream: packets_in": lambda d: bool(packets_in(d)[0]),
        "stream: split space packets": split(space_packet_at(check_pec=True, pus=True)),
        "stream: split TC frames": split(tc_frame_at()),
        "stream: split TM frames": split(tm_frame_at(TM_LENGTH)),
        "stream: packet scanner": lambda d: streams.feed(streams.packets, d),
        "stream: TC frame scanner": lambda d: streams.feed(streams.tc_frames, d),
        "stream: TM frame scanner (ASM)": lambda d: streams.feed(streams.tm_frames, d),
    }


# -- inputs ----------------------------------------------------------------------------------


def pool() -> list[bytes]:
    """Genuine packets and frames (clear and SDLS-protected) to mutate."""
    tx, _ = engines()
    out = seeds(tx)
    tm = PusTm(0x64, 3, 25, bytes(range(30)), time=CdsShortTime(24000, 1234).encode()).encode()
    out.append(TmFrame(0x42, 0, tm + tm[:7], 0, 3, 0, Clcw(1, 2).encode()).encode())
    out.append(ASM + TmFrame(0x42, 0, bytes(TM_LENGTH - 12), ocf=Clcw(1, 0).encode()).encode())
    out.append(_protected_tm(tx))
    return out


def _protected_tm(tx: SdlsEngine) -> bytes:
    frame = TmFrame(0x42, 1, b"\x00" * 40, ocf=Fsr().encode())
    try:
        return tx.protect_tm(frame, 1).encode()
    except ProtocolError:
        return frame.encode()


def _refecf(buf: bytearray) -> bytes:
    return append_crc16(bytes(buf[:-CRC16_SIZE])) if len(buf) > CRC16_SIZE else bytes(buf)


def hostile_length(rng: random.Random, seeds_: list[bytes]) -> bytes:
    """A genuine unit whose length (or pointer) field says something else."""
    buf = bytearray(rng.choice(seeds_))
    if len(buf) < 6:
        buf += rng.randbytes(6)
    kind = rng.randrange(4)
    if kind == 0:  # Space Packet data length
        real = len(buf) - 7
        value = rng.choice((0, 1, 0xFFFF, 0xFFFE, real - 1, real + 1, rng.randrange(1 << 16)))
        buf[4:6] = (value & 0xFFFF).to_bytes(2, "big")
    elif kind == 1:  # TC frame length (10 bits)
        real = len(buf) - 1
        value = rng.choice((0, 1, 4, 5, 6, 0x3FF, real - 1, real + 1, rng.randrange(1 << 10)))
        buf[2] = (buf[2] & 0xFC) | ((value >> 8) & 0x03)
        buf[3] = value & 0xFF
    elif kind == 2:  # TM first header pointer, then the length of the packet it points at
        fhp = rng.choice((0, 1, 0x7FE, 0x7FF, len(buf), rng.randrange(1 << 11)))
        buf[4] = (buf[4] & 0xF8) | (fhp >> 8)
        buf[5] = fhp & 0xFF
        at = 6 + min(fhp, 0x7FD)
        if at + 6 <= len(buf):
            buf[at + 4 : at + 6] = rng.choice((b"\xff\xff", b"\x00\x00", rng.randbytes(2)))
    else:  # SDLS: the SPI after a TC header and segment header, or a pad length
        at = rng.choice((5, 6, 6 + 2 + 12))
        if at + 2 <= len(buf):
            buf[at : at + 2] = rng.choice((b"\x00\x00", b"\xff\xff", b"\x00\x01", rng.randbytes(2)))
    if rng.random() < 0.3:
        buf = buf[: rng.randrange(len(buf) + 1)] if rng.random() < 0.5 else buf + rng.randbytes(9)
    return _refecf(buf) if rng.random() < 0.5 else bytes(buf)


def cases(rng: random.Random, count: int, seeds_: list[bytes]) -> Iterator[bytes]:
    """``count`` hostile inputs: 60 % mutation chains, 25 % hostile lengths, 15 % random."""
    for _ in range(count):
        roll = rng.random()
        if roll < 0.60:
            data = rng.choice(seeds_)
            for _ in range(rng.randint(1, 3)):
                data = mutate(rng, data, seeds_)
            if rng.random() < 0.25:
                data = _refecf(bytearray(data))
            yield data
        elif roll < 0.85:
            yield hostile_length(rng, seeds_)
        else:
            yield rng.randbytes(rng.choice((rng.randrange(16), rng.randrange(MAX_RANDOM))))


def scapy_targets() -> dict[str, Target]:
    """The scapy layers' strict dissectors (slow: the bench samples inputs for them).
    Configures SDLS on TC VC 1 in the layers' registry: call ``CONFIG.reset()`` after."""
    from labctl.protocols.layers import SpacePacket as ScapySpacePacket
    from labctl.protocols.layers import TCFrame, TMFrame, configure_tc, dissect, register_sa

    tx, _ = engines()
    configure_tc(1, sdls=True)
    for sa in tx.associations.values():
        register_sa(sa)

    def dissector(cls: Any) -> Target:
        def decode(data: bytes) -> bool:
            packet = dissect(cls, data)
            bytes(packet)  # a dissected packet can always be rebuilt
            return True

        return decode

    return {
        "scapy: TCFrame": dissector(TCFrame),
        "scapy: TMFrame": dissector(TMFrame),
        "scapy: SpacePacket": dissector(ScapySpacePacket),
    }


# -- running ---------------------------------------------------------------------------------


def run(count: int, seed: int, timed: bool = False, scapy_every: int = 0) -> dict[str, Tally]:
    """Every case through every target (and every ``scapy_every``-th case through the
    scapy dissectors, 0 = never); returns the tallies by target name."""
    rng = random.Random(seed)
    decoders = targets()
    sampled = scapy_targets() if scapy_every else {}
    tallies = {name: Tally() for name in [*decoders, *sampled]}
    clock = time.perf_counter
    for index, data in enumerate(cases(rng, count, pool())):
        chosen = decoders
        if sampled and index % scapy_every == 0:
            chosen = {**decoders, **sampled}
        for name, decode in chosen.items():
            tally = tallies[name]
            start = clock() if timed else 0.0
            try:
                ok = decode(data)
            except ProtocolError:
                tally.rejected += 1
            except Exception as exc:
                tally.crashed += 1
                if tally.first_crash is None:
                    tally.first_crash = (data, f"{type(exc).__name__}: {exc}")
            else:
                if ok:
                    tally.decoded += 1
                else:
                    tally.rejected += 1
            if timed:
                tally.seconds += clock() - start
    return tallies
