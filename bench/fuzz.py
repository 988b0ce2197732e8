"""Fuzz every decoder of labctl.protocols with seeded hostile inputs.

    python bench/fuzz.py [--count 1000000] [--seed 20261204] [--scapy-every 100]

Mutated packets and frames (bit flips, truncations, extensions, splices), valid-looking
headers with hostile length fields, and random octets of random length go through every
struct codec, COP-1 (FARM-1, FOP-1), SDLS processing and the stream readers (and a
sample through the scapy dissectors); per decoder it prints how many inputs were decoded,
rejected with ProtocolError (or refused by SDLS / FARM-1) and crashed (any other
exception, or a stream reader over its buffer bound), and the decoder's rate. The same
seed gives the same inputs. The harness is tests/security/protocol_fuzz.py, which the
test suite runs at a smaller count. Exits 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "security"))

from protocol_fuzz import run  # noqa: E402

from labctl.protocols.layers import CONFIG  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="hostile inputs")
    parser.add_argument("--seed", type=int, default=20261204, help="random seed")
    parser.add_argument(
        "--scapy-every", type=int, default=100, help="every N-th input also through scapy (0: none)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        tallies = run(args.count, args.seed, timed=True, scapy_every=args.scapy_every)
    finally:
        CONFIG.reset()
    wall = time.perf_counter() - started
    print(
        f"{args.count:,} hostile inputs, seed {args.seed}, in {wall:.1f} s "
        f"({args.count / wall:,.0f} inputs/s through all decoders)"
    )
    print(f"{'decoder':<32}{'decoded':>10}{'rejected':>11}{'crashed':>9}{'inputs/s':>12}")
    crashes = 0
    for name, tally in tallies.items():
        rate = tally.total / tally.seconds if tally.seconds else 0.0
        print(
            f"{name:<32}{tally.decoded:>10,}{tally.rejected:>11,}{tally.crashed:>9,}{rate:>12,.0f}"
        )
        crashes += tally.crashed
    print(f"crashed in all: {crashes}")
    for name, tally in tallies.items():
        if tally.first_crash is not None:
            data, error = tally.first_crash
            print(f"first crash of {name}: {error}\n  input: {data.hex()}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
