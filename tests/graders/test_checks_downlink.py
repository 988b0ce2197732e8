"""The downlink checks against a fake probe, and the vantage's reading of hostile datagrams."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graders.checks.base import Status
from graders.checks.downlink import (
    DownlinkArgs,
    DownlinkConfidential,
    DownlinkSecretExposed,
    downlink_sa,
)
from labctl.errors import BackendError, CheckError
from labctl.protocols.sdls import (
    Keyring,
    MacAlgorithm,
    SaState,
    SdlsEngine,
    SecurityAssociation,
    ServiceType,
)
from labctl.range.hosts.catalog import Housekeeping, Mode
from labctl.range.hosts.spacecraft.downlink import DownlinkFramer, TmPacketFactory
from labctl.range.vantage import downlink as vantage_downlink
from labctl.range.vantage.downlink import Tally, clear_packets, tm_frame

SECRET = "TLM{0123456789abcdef}"
SCID = 0x123
KEY = bytes(range(16))


def engine(service: ServiceType = ServiceType.AUTHENTICATED_ENCRYPTION) -> SdlsEngine:
    if service is ServiceType.AUTHENTICATION:
        sa = SecurityAssociation(
            2, service, 2, SaState.OPERATIONAL, 0, 4, 0, 16, mac_algorithm=MacAlgorithm.AES_CMAC
        )
    else:
        sa = SecurityAssociation(spi=2, service=service, state=SaState.OPERATIONAL, key_id=2)
    return SdlsEngine.of([sa], Keyring({2: KEY}))


def frames(sdls: SdlsEngine | None = None, scid: int = SCID, message: str = SECRET) -> list[bytes]:
    """A housekeeping frame, an idle-data frame and an OID frame, as the spacecraft sends."""
    factory = TmPacketFactory(100, time.time)
    framer = DownlinkFramer(scid, 0, 256, queue_size=8, engine=sdls, spi=2 if sdls else None)
    report = Housekeeping(Mode.NOMINAL, 80, False, 3, 0, 0, message).encode()
    framer.enqueue(factory.packet(3, 25, report))
    first = framer.next_frame(bytes(4))
    assert first is not None
    return [first, framer.clcw_frame(bytes(4)), framer.fsr_frame(bytes([0x80, 0, 2, 0]))]


def heard(datagrams: Sequence[bytes], secret: str = SECRET, scid: int | None = SCID) -> Any:
    tally = Tally(secret=secret.encode(), scid=scid)
    for datagram in datagrams:
        tally.add(datagram)
    return tally.as_dict(12)


# --- the vantage's reading ------------------------------------------------------------


def test_clear_frames_show_the_secret_and_the_housekeeping() -> None:
    result = heard(frames())
    assert result["frames"] == 3
    assert result["idle_frames"] == 1
    assert result["clear_frames"] == result["data_frames"] == 2
    assert result["housekeeping_reports"] == 1
    assert result["secret_frames"] == 1
    assert result["secret_found"]
    assert SECRET not in json.dumps(result)


def test_encrypted_frames_hide_the_secret_and_name_their_spi() -> None:
    result = heard(frames(engine()))
    assert result["clear_frames"] == 0
    assert result["protected_frames"] == {"2": 2}
    assert result["secret_frames"] == 0
    assert not result["secret_found"]


def test_authentication_only_protects_but_leaves_the_secret_readable() -> None:
    result = heard(frames(engine(ServiceType.AUTHENTICATION)))
    assert result["protected_frames"] == {"2": 2}
    assert result["secret_found"]


def test_frames_of_another_spacecraft_are_not_counted() -> None:
    result = heard(frames(scid=0x42))
    assert result["foreign_frames"] == 3
    assert result["frames"] == 0
    assert not result["secret_found"]


def test_the_secret_in_garbage_is_not_a_frame() -> None:
    result = heard([SECRET.encode() * 3, b"", b"\x00"])
    assert result["garbage"] == 3
    assert result["frames"] == 0
    assert not result["secret_found"]


def test_truncated_and_corrupted_frames_are_garbage() -> None:
    good = frames()[0]
    flipped = bytearray(good)
    flipped[40] ^= 0x01  # FECF no longer matches
    wrong_version = bytes([good[0] | 0x40]) + good[1:]
    result = heard([good[:100], good[:5], bytes(flipped), wrong_version])
    assert result["garbage"] == 4
    assert result["frames"] == 0


def test_a_data_field_of_random_octets_is_not_clear() -> None:
    assert clear_packets(bytes(range(200))) is None
    assert clear_packets(b"") is None
    assert clear_packets(b"\xff" * 6) is None


@given(st.binary(max_size=2100))
def test_any_datagram_is_counted_and_never_raises(datagram: bytes) -> None:
    tally = Tally(secret=b"x", scid=None)
    tally.add(datagram)
    result = tally.as_dict(1)
    assert result["datagrams"] == 1
    assert result["frames"] + result["garbage"] == 1


@given(st.integers(min_value=0, max_value=255), st.integers(min_value=1, max_value=255))
def test_any_cut_or_flipped_frame_never_raises(cut: int, mask: int) -> None:
    good = frames()[0]
    damaged = bytearray(good[: len(good) - cut])
    if damaged:
        damaged[cut % len(damaged)] ^= mask
    tally = Tally(secret=SECRET.encode(), scid=SCID)
    tally.add(bytes(damaged))
    assert tally.as_dict(1)["datagrams"] == 1
    assert tm_frame(bytes(damaged)) is None or len(damaged) == len(good)


def test_main_listens_and_prints_one_json_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_listen(port: int, seconds: float, tally: Tally) -> Tally:
        for datagram in frames():
            tally.add(datagram)
        return tally

    monkeypatch.setattr(vantage_downlink, "listen", fake_listen)
    argv = ["listen", "--seconds", "1", "--secret", SECRET, "--scid", str(SCID)]
    assert vantage_downlink.main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["secret_frames"] == 1


def test_main_reports_a_port_it_cannot_bind(capsys: pytest.CaptureFixture[str]) -> None:
    assert vantage_downlink.main(["listen", "--seconds", "0.1", "--port", "70000"]) == 2
    assert "cannot listen" in capsys.readouterr().out


# --- the checks, against a fake probe -------------------------------------------------


def truth(sa: str | None = "downlink", service: str = "AUTHENTICATED_ENCRYPTION") -> Any:
    return {
        "scid": SCID,
        "downlink": {"sa": sa},
        "security_associations": [
            {"name": "uplink", "spi": 1, "direction": "uplink", "service": service},
            {
                "name": "downlink",
                "spi": 2,
                "direction": "downlink",
                "service": service,
                "state": "OPERATIONAL",
            },
        ],
    }


@dataclass
class DownlinkProbe:
    """The vantage hears ``datagrams`` (read by the real Tally) or prints ``output``."""

    datagrams: list[bytes] = field(default_factory=list)
    output: str | None = None
    code: int = 0
    document: dict[str, Any] = field(default_factory=truth)
    unreachable: bool = False
    argv: list[str] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        if self.unreachable:
            raise BackendError("exec cat in spacecraft", "no such container")
        return self.document

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        self.argv = list(argv)
        if self.output is not None:
            return self.code, self.output
        secret = argv[argv.index("--secret") + 1]
        scid = int(argv[argv.index("--scid") + 1]) if "--scid" in argv else None
        return 0, "listening\n" + json.dumps(heard(self.datagrams, secret, scid))

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        raise AssertionError("the downlink checks do not use mission control")

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def restart(self, host: str) -> None:
        raise AssertionError("the downlink checks restart nothing")

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        raise BackendError(f"exec {argv[0]} in {host}", "the fake has no hosts")


ARGS = DownlinkArgs(secret=SECRET, listen=5)


def test_exposed_passes_on_clear_telemetry_and_fails_once_encrypted() -> None:
    probe = DownlinkProbe(frames())
    result = DownlinkSecretExposed().run(ARGS, probe)
    assert result.status is Status.PASS, result.evidence
    assert "readable in 1" in result.evidence
    assert SECRET not in result.evidence
    assert probe.argv[probe.argv.index("--scid") + 1] == str(SCID)
    result = DownlinkSecretExposed().run(ARGS, DownlinkProbe(frames(engine())))
    assert result.status is Status.FAIL
    assert "appears in none" in result.evidence


def test_confidential_passes_on_encrypted_telemetry() -> None:
    result = DownlinkConfidential().run(ARGS, DownlinkProbe(frames(engine())))
    assert result.status is Status.PASS, result.evidence
    assert "SPI 2: 2" in result.evidence
    assert "AUTHENTICATED_ENCRYPTION" in result.evidence


def test_confidential_fails_on_clear_telemetry() -> None:
    result = DownlinkConfidential().run(ARGS, DownlinkProbe(frames(), document=truth(sa=None)))
    assert result.status is Status.FAIL
    assert "secret is readable" in result.evidence


def test_confidential_fails_when_nothing_is_heard() -> None:
    # It judges that telemetry still flows: silence is a verdict here, not a blind spot.
    only_idle = [frames()[2]]
    for probe in (DownlinkProbe([]), DownlinkProbe(only_idle)):
        result = DownlinkConfidential().run(ARGS, probe)
        assert result.status is Status.FAIL
        assert "nothing heard" in result.evidence
        assert "earns nothing" in result.hint


def test_exposed_is_an_error_when_no_telemetry_is_heard() -> None:
    # No telemetry on the air: nothing says whether the secret would be readable in it.
    only_idle = [frames()[2]]
    for probe in (DownlinkProbe([]), DownlinkProbe(only_idle)):
        result = DownlinkSecretExposed().run(ARGS, probe)
        assert result.status is Status.ERROR, result.evidence
        assert "no telemetry on the air" in result.evidence


def test_confidential_fails_on_authentication_only() -> None:
    probe = DownlinkProbe(
        frames(engine(ServiceType.AUTHENTICATION)), document=truth(service="AUTHENTICATION")
    )
    result = DownlinkConfidential().run(ARGS, probe)
    assert result.status is Status.FAIL
    assert "secret is readable" in result.evidence


def test_confidential_fails_when_ground_truth_does_not_encrypt() -> None:
    other = "a different text"
    probe = DownlinkProbe(frames(engine(), message=other), document=truth(service="AUTHENTICATION"))
    result = DownlinkConfidential().run(ARGS, probe)
    assert result.status is Status.FAIL
    assert "does not encrypt" in result.evidence


def test_confidential_fails_when_frames_name_another_spi() -> None:
    document = truth()
    document["security_associations"][1]["spi"] = 9
    result = DownlinkConfidential().run(ARGS, DownlinkProbe(frames(engine()), document=document))
    assert result.status is Status.FAIL
    assert "SPI [2]" in result.evidence


@pytest.mark.parametrize(
    ("code", "output"),
    [
        (0, ""),
        (0, "listening\n{not json"),
        (0, '{"frames": "many", "data_frames": 1, "clear_frames": 0, "secret_frames": 0}'),
        (
            0,
            '{"frames": 3, "data_frames": 1, "clear_frames": 0, "secret_frames": -1,'
            ' "protected_frames": {}}',
        ),
        (
            0,
            '{"frames": 3, "data_frames": 1, "clear_frames": 0, "secret_frames": 0,'
            ' "protected_frames": {"two": 1}}',
        ),
        (0, "[1, 2, 3]"),
        (2, '{"error": "cannot listen on UDP 5103: address in use"}'),
        (137, "Killed"),
    ],
)
def test_garbage_from_the_vantage_is_an_error(code: int, output: str) -> None:
    for check in (DownlinkSecretExposed(), DownlinkConfidential()):
        result = check.run(ARGS, DownlinkProbe(output=output, code=code))
        assert result.status is Status.ERROR
        assert "heard nothing usable" in result.evidence


@pytest.mark.parametrize("check", [DownlinkSecretExposed(), DownlinkConfidential()])
def test_unreachable_instance_is_an_error(check: Any) -> None:
    result = check.run(ARGS, DownlinkProbe(unreachable=True))
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence


def test_ground_truth_without_its_downlink_or_associations_is_an_error() -> None:
    for missing in ("downlink", "security_associations"):
        document = truth()
        del document[missing]
        result = DownlinkConfidential().run(
            ARGS, DownlinkProbe(frames(engine()), document=document)
        )
        assert result.status is Status.ERROR, result.evidence
        assert missing in result.evidence


def test_downlink_sa_reads_ground_truth_defensively() -> None:
    assert downlink_sa(truth())["spi"] == 2  # type: ignore[index]
    assert downlink_sa(truth(sa=None)) is None
    with pytest.raises(CheckError, match="no downlink section"):
        downlink_sa({"downlink": "x"})
    assert (
        downlink_sa(
            {
                "downlink": {"sa": "uplink"},
                "security_associations": truth()["security_associations"],
            }
        )
        is None
    )


def test_args_need_a_secret_and_a_sane_listening_time() -> None:
    with pytest.raises(ValueError, match="at least 1 character"):
        DownlinkArgs(secret="")
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        DownlinkArgs(secret="x", listen=1)
