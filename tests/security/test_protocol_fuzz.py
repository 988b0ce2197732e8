"""The campaign's protocol fuzzing, at suite size: 20,000 seeded hostile inputs through
every decoder of labctl.protocols (bench/fuzz.py runs a million). No engine needed.

A crash (an exception other than ProtocolError, or a stream reader over its bound) fails
the test with the decoder's name and the input in hex, to be turned into a regression
test in tests/protocols."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from protocol_fuzz import Tally, run, scapy_targets

from labctl.protocols.layers import CONFIG

pytestmark = pytest.mark.fuzz

CASES = 20_000
SEED = 20261204
DEEP = (
    "SpacePacket.decode",
    "PusTc.decode",
    "PusTm.decode",
    "TcFrame.decode",
    "TmFrame.decode",
    "COP-1 FARM-1 receive",
    "stream: split space packets",
)


@pytest.fixture(scope="module")
def tallies() -> Iterator[dict[str, Tally]]:
    try:
        yield run(CASES, SEED, scapy_every=40)
    finally:
        CONFIG.reset()


def test_no_decoder_crashes(tallies: dict[str, Tally]) -> None:
    crashes = {
        name: f"{tally.first_crash[1]} on {tally.first_crash[0].hex()}"
        for name, tally in tallies.items()
        if tally.first_crash is not None
    }
    assert not crashes


def test_every_decoder_saw_every_input(tallies: dict[str, Tally]) -> None:
    scapy = set(scapy_targets())
    CONFIG.reset()
    for name, tally in tallies.items():
        assert tally.total == (CASES // 40 if name in scapy else CASES), name


def test_inputs_reach_past_the_first_checks(tallies: dict[str, Tally]) -> None:
    """A fuzzer whose inputs all fail the first length check proves little: enough of
    them must decode, or be refused only by SDLS and FARM-1's deeper checks."""
    for name in DEEP:
        assert tallies[name].decoded >= 50, name
    assert tallies["SDLS verify_tc"].rejected > CASES // 2


def test_same_seed_same_counts() -> None:
    first = run(500, 7)
    again = run(500, 7)
    assert {n: (t.decoded, t.rejected) for n, t in first.items()} == {
        n: (t.decoded, t.rejected) for n, t in again.items()
    }
