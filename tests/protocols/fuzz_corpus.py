"""Seed corpus and mutators shared by the fuzz tests and bench/protocols.py."""

from __future__ import annotations

import random
from collections.abc import Callable

from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.sdls import (
    Keyring,
    MacAlgorithm,
    SdlsEngine,
    SecurityAssociation,
    ServiceType,
)
from labctl.protocols.spacepacket import idle_packet
from labctl.protocols.tc_frame import TcFrame, segment, set_vr_frame, unlock_frame
from labctl.protocols.tm_frame import Clcw, Fsr, TmFrame, idle_frame

KEY = bytes(range(32))


def engines() -> tuple[SdlsEngine, SdlsEngine]:
    def sas() -> list[SecurityAssociation]:
        return [
            SecurityAssociation(1),
            SecurityAssociation(
                2,
                ServiceType.AUTHENTICATION,
                iv_len=0,
                sn_len=4,
                mac_algorithm=MacAlgorithm.AES_CMAC,
            ),
            SecurityAssociation(3, ServiceType.PLAINTEXT, iv_len=0, sn_len=2, mac_len=0),
        ]

    keys = Keyring({0: KEY})
    return SdlsEngine.of(sas(), keys), SdlsEngine.of(sas(), keys)


def seeds(tx: SdlsEngine) -> list[bytes]:
    tc = PusTc(0x10, 8, 1, b"\x00\x01\x02\x03", seq_count=9).encode()
    tm = PusTm(0x20, 3, 25, bytes(range(40)), time=CdsShortTime(24000, 1234).encode()).encode()
    clear = TcFrame(0x42, 1, segment(0, tc), 7)
    out = [
        tc,
        tm,
        idle_packet(30),
        clear.encode(),
        unlock_frame(0x42, 1).encode(),
        set_vr_frame(0x42, 1, 9).encode(),
        TmFrame(0x42, 1, tm + tm[:10], ocf=Clcw(1, 5).encode()).encode(),
        TmFrame(0x42, 2, tm, 1, 2, 0, Fsr(1, 1).encode(), b"sh").encode(),
        idle_frame(0x42, 64),
        Clcw(1, 3).encode(),
        CdsShortTime(1, 2).encode(),
    ]
    out += [tx.protect_tc(clear, spi).encode() for spi in (1, 2, 3)]
    return out


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """One random mutation: flips, overwrites, truncation, extension, splicing, length hacks."""
    buf = bytearray(data)
    kind = rng.randrange(8)
    if kind == 0 and buf:
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif kind == 1 and buf:
        buf[rng.randrange(len(buf))] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    elif kind == 2:
        del buf[rng.randrange(len(buf) + 1) :]
    elif kind == 3:
        buf += rng.randbytes(rng.randint(1, 64))
    elif kind == 4:
        other = rng.choice(pool)
        cut = rng.randrange(len(buf) + 1)
        buf = buf[:cut] + other[rng.randrange(len(other) + 1) :]
    elif kind == 5 and len(buf) >= 6:
        at = rng.choice((2, 3, 4, 5))  # length fields of TC frames and space packets
        buf[at] = rng.randrange(256)
    elif kind == 6:
        buf = bytearray(rng.randbytes(rng.randint(0, 80)))
    else:
        start = rng.randrange(len(buf) + 1)
        buf[start:start] = buf[start : start + rng.randint(1, 16)]
    return bytes(buf)


def inputs(rng: random.Random, count: int, pool: list[bytes]) -> list[bytes]:
    out = []
    for _ in range(count):
        data = rng.choice(pool)
        for _ in range(rng.randint(1, 3)):
            data = mutate(rng, data, pool)
        out.append(data)
    return out


Decoder = Callable[[bytes], object]
