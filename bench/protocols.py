"""Protocol stack benchmarks: ours (struct codec, scapy layers) against spacepackets.

    python bench/protocols.py [--seconds 0.5] [--fuzz 2000000]

Prints, in one run: Space Packet + PUS TC pack/unpack rates side by side, TC frame + SDLS
AES-GCM build/verify rates, a flood test (5,000 hostile frames/s through FECF check, SDLS
verify and FARM-1 while nominal commands keep being accepted), import memory, and a long
fuzz run over every codec decoder.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "protocols"))

from labctl.errors import ProtocolError  # noqa: E402
from labctl.protocols.cop1 import Farm1  # noqa: E402
from labctl.protocols.pus import PusTc  # noqa: E402
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation  # noqa: E402
from labctl.protocols.tc_frame import TcFrame, segment  # noqa: E402

APP_DATA = bytes(range(16))


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over roughly ``seconds``."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        count += 200
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def pus_rates(seconds: float) -> dict[str, tuple[float, float]]:
    from spacepackets.ecss.tc import PusTc as TheirTc

    from labctl.protocols.layers import PusTc as ScapyPusTc
    from labctl.protocols.layers import SpacePacket as ScapySpacePacket

    ours = PusTc(0x10, 8, 1, APP_DATA, seq_count=5)
    raw = ours.encode()
    theirs = TheirTc(service=8, message_subtype=1, apid=0x10, app_data=APP_DATA, seq_count=5)
    assert bytes(theirs.pack()) == raw

    def scapy_pack() -> bytes:
        return bytes(
            ScapySpacePacket(apid=0x10, seq_count=5) / ScapyPusTc(service=8, subtype=1) / APP_DATA
        )

    assert scapy_pack() == raw
    return {
        "ours (struct codec)": (
            rate(ours.encode, seconds),
            rate(lambda: PusTc.decode(raw), seconds),
        ),
        "ours (scapy layers)": (
            rate(scapy_pack, seconds),
            rate(lambda: ScapySpacePacket(raw), seconds),
        ),
        "spacepackets": (rate(theirs.pack, seconds), rate(lambda: TheirTc.unpack(raw), seconds)),
    }


def engines() -> tuple[SdlsEngine, SdlsEngine]:
    keys = Keyring({0: bytes(range(32))})
    return SdlsEngine.of([SecurityAssociation(1)], keys), SdlsEngine.of(
        [SecurityAssociation(1)], keys
    )


def sdls_rates(seconds: float) -> tuple[float, float, float]:
    tx, rx = engines()
    rx.associations[1].window = 0  # verify the same frame repeatedly (anti-replay off)
    clear = TcFrame(0x42, 1, segment(0, PusTc(0x10, 8, 1, APP_DATA).encode()))
    raw = tx.protect_tc(clear, 1).encode()

    def build() -> bytes:
        return tx.protect_tc(
            TcFrame(0x42, 1, segment(0, PusTc(0x10, 8, 1, APP_DATA).encode())), 1
        ).encode()

    def verify() -> bool:
        return rx.verify_tc(TcFrame.decode(raw)).accepted

    from labctl.protocols.layers import TCFrame

    return rate(build, seconds), rate(verify, seconds), rate(lambda: TCFrame(raw), seconds)


def flood(hostile_per_second: int = 5000, nominal_per_second: int = 10) -> tuple[float, int, int]:
    """One second of link traffic: hostile frames (replays, forgeries, junk) interleaved with
    nominal sequence-controlled commands. Returns processing time and nominal accepted."""
    tx, rx = engines()
    farm = Farm1(vcid=1)
    rng = random.Random(5)
    nominal = [
        tx.protect_tc(
            TcFrame(0x42, 1, segment(0, PusTc(0x10, 17, 1, seq_count=n).encode()), n), 1
        ).encode()
        for n in range(nominal_per_second)
    ]
    replay = nominal[0]
    hostile = []
    for i in range(hostile_per_second):
        kind = i % 3
        if kind == 0:
            hostile.append(replay)
        elif kind == 1:
            forged = bytearray(replay)
            forged[rng.randrange(5, len(forged) - 2)] ^= 0x10
            hostile.append(TcFrame.decode(bytes(forged[:-2]) + b"\0\0", has_fecf=False).encode())
        else:
            hostile.append(rng.randbytes(rng.randint(5, 80)))
    stream = []
    step = hostile_per_second // nominal_per_second
    for n, frame in enumerate(nominal):
        stream += [*hostile[n * step : (n + 1) * step], frame]
    accepted = 0
    start = time.perf_counter()
    for raw in stream:
        try:
            frame = TcFrame.decode(raw)
        except ProtocolError:
            continue
        verdict = rx.verify_tc(frame)
        if (
            verdict.accepted
            and farm.receive(TcFrame(frame.scid, frame.vcid, verdict.data, frame.seq)).accepted
        ):
            accepted += 1
    return time.perf_counter() - start, accepted, len(stream)


def resident_mib(code: str) -> float:
    """Peak resident memory (VmHWM) of a fresh interpreter running ``code``.

    ru_maxrss is not used: after fork+exec it still holds the parent's high-water mark.
    """
    script = f"{code}\nprint(open('/proc/self/status').read())"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def fuzz(count: int) -> tuple[int, float]:
    from fuzz_corpus import engines as fuzz_engines
    from fuzz_corpus import inputs, seeds
    from test_fuzz import codec_decoders, field_decoders

    tx, rx = fuzz_engines()
    pool = seeds(tx)
    decoders = codec_decoders() + field_decoders()
    rng = random.Random(int(time.time()))
    start, done = time.perf_counter(), 0
    while done < count:
        batch = inputs(rng, min(50_000, count - done), pool)
        for data in batch:
            for decode in decoders:
                with contextlib.suppress(ProtocolError):
                    decode(data)
            rx.verify(1, data[:5], data[5:])
        done += len(batch)
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    parser.add_argument("--fuzz", type=int, default=1_000_000, help="fuzz inputs (0 to skip)")
    args = parser.parse_args()

    print("Space Packet + PUS TC (16 octets of application data), operations per second")
    rows = pus_rates(args.seconds)
    base_pack, base_unpack = rows["spacepackets"]
    print(f"{'implementation':<22}{'pack/s':>12}{'unpack/s':>12}{'pack x':>9}{'unpack x':>10}")
    for name, (pack, unpack) in rows.items():
        ratios = f"{pack / base_pack:>9.2f}{unpack / base_unpack:>10.2f}"
        print(f"{name:<22}{pack:>12,.0f}{unpack:>12,.0f}{ratios}")
    print("(x = ratio to spacepackets; higher is faster)")

    build, verify, dissect = sdls_rates(args.seconds)
    print("\nTC frame + SDLS AES-GCM (PUS TC inside, segment header, FECF)")
    print(f"  build + protect + encode : {build:>10,.0f} frames/s")
    print(f"  decode + FECF + verify   : {verify:>10,.0f} frames/s")
    print(f"  scapy TCFrame(raw) dissect: {dissect:>9,.0f} frames/s")

    elapsed, accepted, total = flood()
    print("\nFlood: 5,000 hostile frames (replays, forgeries, junk) + 10 nominal commands")
    print(
        f"  processed {total} frames in {elapsed * 1000:.0f} ms of CPU per second of traffic "
        f"({elapsed * 100:.0f}% of one core); nominal commands accepted: {accepted}/10"
    )

    bare = resident_mib("pass")
    codec = resident_mib(
        "import labctl.protocols.sdls, labctl.protocols.cop1, labctl.protocols.stream"
    )
    layers = resident_mib("import labctl.protocols.layers")
    print("\nPeak resident memory after import (VmHWM, fresh interpreter)")
    print(f"  bare interpreter          : {bare:6.1f} MiB")
    print(f"  struct codecs + SDLS      : {codec:6.1f} MiB")
    print(f"  scapy layers              : {layers:6.1f} MiB")

    if args.fuzz:
        done, seconds = fuzz(args.fuzz)
        print(
            f"\nFuzz: {done:,} mutated inputs through every codec decoder and SDLS verify"
            f" in {seconds:.1f} s: no exception other than ProtocolError"
        )


if __name__ == "__main__":
    main()
