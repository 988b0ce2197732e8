"""SDLS: known-answer vectors, rejection reasons, anti-replay, FSR and persistence."""

from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls import (
    Keyring,
    MacAlgorithm,
    RejectReason,
    SaState,
    SdlsEngine,
    SecurityAssociation,
    ServiceType,
    compute_mac,
    load_sequence_numbers,
)
from labctl.protocols.tc_frame import TcFrame, segment
from labctl.protocols.tm_frame import TmFrame

TEST_KEY = bytes(range(32))  # "00 01 02 ...": the classic lab test key
PING = PusTc(0x10, 17, 1).encode()


def gcm_sa(spi: int = 1, **kw: object) -> SecurityAssociation:
    return SecurityAssociation(spi, **kw)  # type: ignore[arg-type]


def auth_sa(
    spi: int = 2, algorithm: MacAlgorithm = MacAlgorithm.AES_CMAC, **kw: object
) -> SecurityAssociation:
    params: dict[str, object] = {"iv_len": 0, "sn_len": 4, "mac_algorithm": algorithm, **kw}
    return SecurityAssociation(spi, ServiceType.AUTHENTICATION, **params)  # type: ignore[arg-type]


def pair(*sas: SecurityAssociation, key: bytes = TEST_KEY) -> tuple[SdlsEngine, SdlsEngine]:
    """A sender and a receiver engine sharing SA parameters and the keyring."""
    keys = Keyring({0: key, 1: key[:16]})
    copy = [
        SecurityAssociation(**{f: getattr(sa, f) for f in sa.__dataclass_fields__}) for sa in sas
    ]
    return SdlsEngine.of(sas, keys), SdlsEngine.of(copy, keys)


def clear_frame(seq: int = 0) -> TcFrame:
    return TcFrame(0x42, 1, segment(0, PING), seq)


# -- known answers -------------------------------------------------------------------


def test_gcm_tc_known_answer_vector() -> None:
    tx, _ = pair(gcm_sa())
    raw = tx.protect_tc(clear_frame(), 1).encode()
    expected = bytes.fromhex(
        "0042043200c000010000000000000000000000010dc67ffc44f21f0f0f2e51d422447b27"
        "67e09cd5223292b8baa0d72807ed4e"
    )
    assert raw == expected
    # independent computation with cryptography's AES-GCM
    header = bytes.fromhex("0042043200")  # TC primary header, length covers SDLS + FECF
    seg = bytes.fromhex("c0")
    iv = (1).to_bytes(12, "big")
    sec_header = bytes.fromhex("0001") + iv
    sealed = AESGCM(TEST_KEY).encrypt(iv, PING, header + seg + sec_header)
    assert raw[:-2] == header + seg + sec_header + sealed
    ciphertext, tag = sealed[:-16], sealed[-16:]
    assert ciphertext.hex() == "0dc67ffc44f21f0f0f2e51d422"
    assert tag.hex() == "447b2767e09cd5223292b8baa0d72807"


def test_cmac_tc_known_answer_vector() -> None:
    tx, _ = pair(auth_sa(key_id=1))
    raw = tx.protect_tc(clear_frame(), 2).encode()
    assert raw.hex() == (
        "0042042a00c00002000000011810c00000062f11010000edcea28cfb5eea4268f25f780e7f3668ff294b0e"
    )
    mac = CMAC(algorithms.AES(TEST_KEY[:16]))
    mac.update(raw[:12] + PING)  # headers + security header (SPI, SN) + plaintext
    assert raw[-18:-2] == mac.finalize()


def test_mac_primitives_against_rfc_vectors() -> None:
    rfc4493_key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert compute_mac(MacAlgorithm.AES_CMAC, rfc4493_key, b"", 16).hex() == (
        "bb1d6929e95937287fa37d129b756746"
    )
    rfc4231 = compute_mac(MacAlgorithm.HMAC_SHA256, b"\x0b" * 20, b"Hi There", 32)
    assert rfc4231.hex() == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"


# -- apply / process round trips ---------------------------------------------------------


@pytest.mark.parametrize(
    "sa",
    [
        gcm_sa(),
        auth_sa(algorithm=MacAlgorithm.AES_CMAC),
        auth_sa(algorithm=MacAlgorithm.HMAC_SHA256, mac_len=32),
        SecurityAssociation(4, ServiceType.PLAINTEXT, iv_len=0, sn_len=2, mac_len=0),
        SecurityAssociation(5, ServiceType.AUTHENTICATED_ENCRYPTION, sn_len=4, pl_len=1),
    ],
    ids=["gcm", "cmac", "hmac", "plaintext", "gcm-sn-pad"],
)
def test_tc_protect_then_verify(sa: SecurityAssociation) -> None:
    tx, rx = pair(sa)
    for seq in range(3):
        raw = tx.protect_tc(clear_frame(seq), sa.spi).encode()
        verdict = rx.verify_tc(TcFrame.decode(raw))
        assert verdict.accepted, verdict
        assert verdict.data == segment(0, PING)
        assert verdict.sequence_number == seq + 1
        assert len(raw) == len(clear_frame().encode()) + sa.overhead


def test_tm_protect_then_verify_leaves_ocf_and_fecf_out_of_the_mac() -> None:
    tx, rx = pair(gcm_sa())
    frame = TmFrame(0x42, 1, PING + bytes(20), ocf=bytes(4), secondary_header=b"\x01\x02")
    protected = tx.protect_tm(frame, 1)
    raw = protected.encode()
    assert rx.verify_tm(TmFrame.decode(raw)).data == frame.data
    # the OCF is filled in after security was applied (a fresh CLCW): the MAC still holds
    relabelled = replace(TmFrame.decode(raw), ocf=b"\x01\x02\x03\x04")
    _, fresh_rx = pair(gcm_sa())
    assert fresh_rx.verify_tm(TmFrame.decode(relabelled.encode())).accepted


# -- rejection reasons -----------------------------------------------------------------


def test_unknown_spi_is_bad_sa() -> None:
    tx, _ = pair(gcm_sa(7))
    _, rx = pair(gcm_sa(1))
    verdict = rx.verify_tc(TcFrame.decode(tx.protect_tc(clear_frame(), 7).encode()))
    assert (verdict.accepted, verdict.reason, verdict.spi) == (False, RejectReason.BAD_SA, 7)


def test_sa_bound_to_other_vc_is_bad_sa() -> None:
    tx, rx = pair(gcm_sa(1, vcids=frozenset({2})))
    frame = TcFrame(0x42, 2, segment(0, PING))
    raw = tx.protect_tc(frame, 1).encode()
    moved = TcFrame.decode(raw)
    moved = TcFrame(moved.scid, 1, moved.data, moved.seq)
    assert rx.verify_tc(moved).reason is RejectReason.BAD_SA


@pytest.mark.parametrize("state", [SaState.UNKEYED, SaState.KEYED])
def test_sa_not_operational(state: SaState) -> None:
    tx, rx = pair(gcm_sa())
    raw = tx.protect_tc(clear_frame(), 1).encode()
    rx.associations[1].state = state
    assert rx.verify_tc(TcFrame.decode(raw)).reason is RejectReason.SA_NOT_OPERATIONAL
    tx.associations[1].state = state
    with pytest.raises(ProtocolError, match="not operational"):
        tx.protect_tc(clear_frame(), 1)


@pytest.mark.parametrize("sa", [gcm_sa(), auth_sa()], ids=["gcm", "cmac"])
def test_any_flipped_bit_in_authenticated_octets_is_bad_mac(sa: SecurityAssociation) -> None:
    tx, rx = pair(sa)
    raw = tx.protect_tc(clear_frame(), sa.spi).encode()
    body = raw[:-2]
    for index in [0, 1, 4, 5, 7, len(body) // 2, len(body) - 1]:
        if index in (2, 3):
            continue
        tampered = bytearray(body)
        tampered[index] ^= 0x01
        frame = TcFrame.decode(bytes(tampered) + b"\x00\x00", has_fecf=False)
        frame = TcFrame.decode(frame.encode())
        verdict = rx.verify_tc(frame)
        assert verdict.reason in {RejectReason.BAD_MAC, RejectReason.BAD_SA}, index
    assert rx.verify_tc(TcFrame.decode(raw)).accepted


def test_wrong_key_is_bad_mac() -> None:
    tx, _ = pair(gcm_sa())
    _, rx = pair(gcm_sa(), key=bytes(32))
    assert rx.verify_tc(TcFrame.decode(tx.protect_tc(clear_frame(), 1).encode())).reason is (
        RejectReason.BAD_MAC
    )


def test_truncated_security_header_is_malformed() -> None:
    _, rx = pair(gcm_sa())
    assert rx.verify_tc(TcFrame(0x42, 1, b"\xc0\x00\x01\x00")).reason is RejectReason.MALFORMED
    assert rx.verify_tc(TcFrame(0x42, 1, b"\xc0\x00")).reason is RejectReason.MALFORMED


# -- anti-replay -------------------------------------------------------------------------


def _frames(tx: SdlsEngine, count: int, spi: int = 1) -> list[TcFrame]:
    return [TcFrame.decode(tx.protect_tc(clear_frame(i), spi).encode()) for i in range(count)]


def test_replayed_frame_rejected_as_bad_sn() -> None:
    tx, rx = pair(gcm_sa())
    (frame,) = _frames(tx, 1)
    assert rx.verify_tc(frame).accepted
    replay = rx.verify_tc(frame)
    assert (replay.accepted, replay.reason) == (False, RejectReason.BAD_SN)


def test_in_window_gap_accepted_late_frame_rejected() -> None:
    tx, rx = pair(gcm_sa(window=4))
    f1, f2, f3 = _frames(tx, 3)
    assert rx.verify_tc(f1).accepted
    assert rx.verify_tc(f3).accepted  # f2 lost or late: ARSN 3 within (1, 1 + 4]
    assert rx.verify_tc(f2).reason is RejectReason.BAD_SN  # forward window only (355.0-B-2)


def test_out_of_window_rejected() -> None:
    tx, rx = pair(gcm_sa(window=4))
    frames = _frames(tx, 7)
    assert rx.verify_tc(frames[0]).accepted
    assert rx.verify_tc(frames[6]).reason is RejectReason.BAD_SN  # 7 > 1 + 4
    assert rx.verify_tc(frames[5]).reason is RejectReason.BAD_SN  # 6 > 1 + 4
    assert rx.verify_tc(frames[4]).accepted  # 5 = 1 + 4, the window edge


def test_window_zero_disables_anti_replay_lab_weakness() -> None:
    tx, rx = pair(gcm_sa(window=0))
    (frame,) = _frames(tx, 1)
    assert rx.verify_tc(frame).accepted
    assert rx.verify_tc(frame).accepted  # replay goes through: that is the weakness


def test_forged_sequence_number_cannot_desynchronise_receiver() -> None:
    tx, rx = pair(gcm_sa())
    frames = _frames(tx, 2)
    forged = bytearray(frames[1].data)
    forged[3:15] = (10**6).to_bytes(12, "big")
    assert rx.verify_tc(TcFrame(0x42, 1, bytes(forged))).reason is RejectReason.BAD_MAC
    assert rx.verify_tc(frames[0]).accepted
    assert rx.verify_tc(frames[1]).accepted


# -- FSR and persistence -------------------------------------------------------------------


def test_fsr_flags_latch_until_reported() -> None:
    tx, rx = pair(gcm_sa())
    (frame,) = _frames(tx, 1)
    assert rx.fsr().alarm == 0
    rx.verify_tc(frame)
    rx.verify_tc(frame)
    rx.verify_tc(TcFrame(0x42, 1, b"\xc0\x00\x09" + bytes(40)))
    report = rx.fsr()
    assert (report.alarm, report.bad_sn, report.bad_sa, report.bad_mac) == (1, 1, 1, 0)
    assert report.spi == 9
    assert rx.fsr().alarm == 0


def test_sequence_numbers_persist_across_restart(tmp_path: Path) -> None:
    state = tmp_path / "sdls" / "sn.json"
    tx, rx = pair(gcm_sa())
    frames = _frames(tx, 3)
    for frame in frames:
        assert rx.verify_tc(frame).accepted
    rx.save_sequence_numbers(state)
    _, restarted = pair(gcm_sa())
    restarted.load_sequence_numbers(state)
    assert all(restarted.verify_tc(f).reason is RejectReason.BAD_SN for f in frames)


def test_restart_without_persisted_number_accepts_replay_lab_weakness() -> None:
    tx, rx = pair(gcm_sa())
    (frame,) = _frames(tx, 1)
    assert rx.verify_tc(frame).accepted
    _, restarted = pair(gcm_sa())  # sequence number back to 0
    assert restarted.verify_tc(frame).accepted


def test_sequence_file_errors(tmp_path: Path) -> None:
    sas = {1: gcm_sa()}
    load_sequence_numbers(tmp_path / "missing.json", sas)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ProtocolError):
        load_sequence_numbers(bad, sas)
    bad.write_text("{not json")
    with pytest.raises(ProtocolError):
        load_sequence_numbers(bad, sas)
    bad.write_text('{"1": 5, "x": 3, "2": -1}')
    load_sequence_numbers(bad, sas)
    assert sas[1].sequence_number == 5


# -- configuration checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"iv_len": 8},
        {"mac_len": 8},
        {"service": ServiceType.PLAINTEXT},
        {"service": ServiceType.AUTHENTICATION},
        {"window": -1},
        {"sn_len": 9},
    ],
)
def test_invalid_sa_parameters_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="SA 1"):
        SecurityAssociation(1, **kwargs)  # type: ignore[arg-type]


def test_keyring_and_exhaustion() -> None:
    with pytest.raises(ValueError, match="16, 24 or 32"):
        Keyring({0: b"short"})
    assert 0 in Keyring({0: TEST_KEY})
    tx, _ = pair(auth_sa(sn_len=1))
    tx.associations[2].sequence_number = 255
    with pytest.raises(ProtocolError, match="exhausted"):
        tx.protect_tc(clear_frame(), 2)
    with pytest.raises(ProtocolError):
        tx.protect_tc(clear_frame(), 99)
    empty = SdlsEngine.of([gcm_sa()], Keyring())
    with pytest.raises(ProtocolError, match="keyring"):
        empty.protect_tc(clear_frame(), 1)
