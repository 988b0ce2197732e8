"""Fuzz every decoder: hostile octets give ProtocolError (or a rejection), nothing else.

200,000+ random and mutated inputs run through the struct codecs and SDLS verify with a
fixed seed (fast), a smaller share through the scapy dissectors, and hypothesis drives
structured inputs. bench/protocols.py runs the same harness for much longer.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fuzz_corpus import engines, inputs, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.errors import ProtocolError
from labctl.protocols.cop1 import Farm1
from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.sdls import Verdict
from labctl.protocols.spacepacket import SpacePacket
from labctl.protocols.stream import space_packet_at, split_datagram, tc_frame_at, tm_frame_at
from labctl.protocols.tc_frame import TcFrame, decode_control_command, unsegment
from labctl.protocols.tm_frame import TmFrame, decode_ocf

CODEC_INPUTS = 200_000
FIELD_INPUTS = 30_000
SDLS_INPUTS = 30_000
SCAPY_INPUTS = 1_500


def codec_decoders() -> list[Callable[[bytes], object]]:
    """The frame and packet decoders: every input of the 200k run goes through each."""
    return [
        SpacePacket.decode,
        PusTc.decode,
        PusTm.decode,
        TcFrame.decode,
        TmFrame.decode,
    ]


def field_decoders() -> list[Callable[[bytes], object]]:
    """Frames without FECF and small fixed-size decoders (OCF, control, segment, time)."""
    return [
        lambda b: TcFrame.decode(b, has_fecf=False),
        lambda b: TmFrame.decode(b, has_fecf=False),
        decode_ocf,
        decode_control_command,
        unsegment,
        CdsShortTime.decode,
    ]


def run_all(decoders: list[Callable[[bytes], object]], data: bytes) -> int:
    ok = 0
    for decode in decoders:
        try:
            decode(data)
            ok += 1
        except ProtocolError:
            pass
    return ok


def test_codecs_survive_200k_mutated_inputs() -> None:
    rng = random.Random(20240517)
    tx, _ = engines()
    pool = seeds(tx)
    decoders = codec_decoders()
    decoded = 0
    for data in inputs(rng, CODEC_INPUTS, pool):
        decoded += run_all(decoders, data)  # anything but ProtocolError fails the test
    assert decoded > 1000  # the mutations still reach the decoders' deep paths


def test_field_decoders_survive_mutated_inputs() -> None:
    rng = random.Random(4493)
    tx, _ = engines()
    pool = seeds(tx)
    short = [p[:4] for p in pool] + [p[-4:] for p in pool] + [p[:7] for p in pool]
    decoders = field_decoders()
    for data in inputs(rng, FIELD_INPUTS, pool + short):
        run_all(decoders, data if rng.random() < 0.5 else data[: rng.choice((1, 3, 4, 7, 8))])


def test_sdls_verify_and_farm_survive_mutated_protected_frames() -> None:
    rng = random.Random(355)
    tx, rx = engines()
    farm = Farm1(vcid=1)
    originals = []
    for spi in (1, 2):
        for seq in range(5):
            frame = tx.protect_tc(TcFrame(0x42, 1, b"\xc0" + PusTc(1, 17, 1).encode(), seq), spi)
            assert rx.verify_tc(frame).accepted  # receiver has seen the genuine ones
            originals.append(frame.encode())
    accepted_spis = set()
    for data in inputs(rng, SDLS_INPUTS, originals):
        try:
            frame = TcFrame.decode(data)
        except ProtocolError:
            body = data[:-2] if len(data) > 7 else data + b"\x00" * 8
            frame = TcFrame(0x42, 1, body[5:] or b"\x00")  # push it past the FECF anyway
        verdict = rx.verify_tc(frame)
        assert isinstance(verdict, Verdict)
        if verdict.accepted:
            accepted_spis.add(verdict.spi)
            farm.receive(frame)
    # MAC-protected SAs (1 GCM, 2 CMAC) never accept a mutated or replayed frame; only the
    # plaintext SA 3 (a deliberate lab weakness) can be hit by a lucky mutation
    assert accepted_spis <= {3}


def test_plaintext_sa_accepts_forgeries_lab_weakness() -> None:
    tx, rx = engines()
    frame = tx.protect_tc(TcFrame(0x42, 1, b"\xc0" + PusTc(1, 17, 1).encode()), 3)
    forged = bytearray(frame.data)
    forged[3:5] = (5).to_bytes(2, "big")  # next sequence number in window, no MAC to stop it
    assert rx.verify_tc(TcFrame(0x42, 1, bytes(forged))).accepted


def test_stream_scanners_survive_mutated_streams() -> None:
    rng = random.Random(11)
    tx, _ = engines()
    pool = seeds(tx)
    blob = b"".join(inputs(rng, 3000, pool))
    for decoder in (space_packet_at(check_pec=True), tc_frame_at(), tm_frame_at(64)):
        _units, garbage = split_datagram(decoder, blob)  # type: ignore[arg-type]
        assert sum(g.length for g in garbage) <= len(blob)


def test_scapy_dissectors_survive_mutated_inputs(layer_config: object) -> None:
    from labctl.protocols.layers import SpacePacket as ScapySpacePacket
    from labctl.protocols.layers import TCFrame, TMFrame, configure_tc, dissect, register_sa

    configure_tc(1, sdls=True)
    tx, _ = engines()
    for sa in tx.associations.values():
        register_sa(sa)
    rng = random.Random(99)
    pool = seeds(tx)
    for data in inputs(rng, SCAPY_INPUTS, pool):
        for cls in (TCFrame, TMFrame, ScapySpacePacket):
            try:
                pkt = dissect(cls, data)
            except ProtocolError:
                continue
            bytes(pkt)  # a dissected packet can always be rebuilt


@settings(max_examples=300)
@given(st.binary(max_size=1100))
def test_structured_random_bytes_only_raise_protocol_error(data: bytes) -> None:
    run_all(codec_decoders() + field_decoders(), data)
    _, rx = engines()
    assert isinstance(rx.verify(1, b"\x00" * 5, data), Verdict)


def test_engine_verify_is_total_on_tiny_fields() -> None:
    _, rx = engines()
    for size in range(40):
        for fill in (0x00, 0x01, 0x02, 0x03, 0xFF):
            assert not rx.verify(1, b"", bytes([0, fill]) + bytes(size)).accepted
