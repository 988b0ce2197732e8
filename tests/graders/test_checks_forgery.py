"""The forgery checks against a fake probe whose spacecraft is the real flight software.

The fake vantage builds its frames with ``labctl.range.vantage.forge`` (the module the
grader container runs) and hands them to an in-process FlightSoftware instead of the air,
so a pass or a fail here is the flight software's own verdict on those octets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from graders.checks import forgery
from graders.checks.base import Status
from graders.checks.forgery import (
    GRADER_SOURCE_IDS,
    ForgedCommandExecuted,
    ForgedCommandExecutedArgs,
    UnauthenticatedRejected,
    UnauthenticatedRejectedArgs,
    forged_commands,
)
from labctl.errors import BackendError
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.protocols.tc_frame import TcFrame, segment
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.range.hosts.config import Config
from labctl.range.hosts.spacecraft import FlightSoftware, parse_config
from labctl.range.vantage import forge as vantage_forge

SCID = 321
AUTH_SPI = 40
PLAIN_SPI = 500
KEY = bytes(range(16))


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forgery, "SETTLE_S", 0.2)


def flight_software(
    tmp_path: Path,
    state: str = "operational",
    anti_replay: bool = False,
    sdls: bool = True,
    clear_routing: bool = False,
) -> FlightSoftware:
    (tmp_path / "uplink.key").write_text(KEY.hex() + "\n")
    data: dict[str, Any] = {
        "scid": SCID,
        "uplink": {"host": "127.0.0.1", "port": 0, "sdls": sdls, "clear_routing": clear_routing},
        "downlink": {"host": "127.0.0.1", "port": 9},
        "sdls": {
            "associations": {
                "uplink": {"spi": AUTH_SPI, "key_file": "uplink.key"},
                "commissioning": {
                    "spi": PLAIN_SPI,
                    "service": "plaintext",
                    "state": state,
                    "anti_replay": anti_replay,
                },
            },
            "downlink_sa": "none",
        },
        "state_dir": str(tmp_path / "state"),
        "truth_file": str(tmp_path / "truth.json"),
    }
    return FlightSoftware(parse_config(Config(data, "spacecraft.yaml"), base=tmp_path))


def ground_station_frame(service: int = 17, subtype: int = 1, app: bytes = b"") -> bytes:
    """What the real ground station sends: an AD frame under the authenticated SA."""
    engine = SdlsEngine.of([SecurityAssociation(AUTH_SPI)], Keyring({0: KEY}))
    packet = PusTc(PLATFORM_APID, service, subtype, app).encode()
    return engine.protect_tc(TcFrame(SCID, 0, segment(0, packet)), AUTH_SPI).encode()


@dataclass
class ForgeryProbe:
    """Ground truth from ``fsw``; the vantage's frames go straight into it.

    ``vantage``: None = run vantage_forge's frame builder; else the (code, output) to return.
    """

    fsw: FlightSoftware
    vantage: tuple[int, str] | None = None
    argvs: list[list[str]] = field(default_factory=list)
    unreachable: bool = False

    def truth(self) -> dict[str, Any]:
        if self.unreachable:
            raise BackendError("exec cat in spacecraft", "no such container")
        document: dict[str, Any] = json.loads(json.dumps(self.fsw.truth()))
        return document

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        self.argvs.append(list(argv))
        if self.vantage is not None:
            return self.vantage
        assert list(argv[:3]) == ["python3", "-m", "labctl.range.vantage.forge"]
        frames = vantage_forge.attempts(vantage_forge._parser().parse_args(list(argv[3:])))
        for attempt in frames:
            self.fsw.receive(attempt.frame)
        sent = [attempt.summary() for attempt in frames]
        return 0, json.dumps({"sent": sent, "source_id": int(argv[argv.index("--source-id") + 1])})

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        raise BackendError("mission control", "not in this fake")

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def restart(self, host: str) -> None:
        raise BackendError(f"restart {host}", "not in this fake")

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        raise BackendError(f"exec {argv[0]} in {host}", "the fake has no hosts")


def rejected_args(**overrides: Any) -> UnauthenticatedRejectedArgs:
    return UnauthenticatedRejectedArgs(**{"spis": [PLAIN_SPI], **overrides})


# -- forged_command_executed ------------------------------------------------------------


def test_commands_from_the_ground_station_are_not_forged(tmp_path: Path) -> None:
    fsw = flight_software(tmp_path)
    fsw.receive(ground_station_frame(8, 1, b"\x00\x01"))
    assert [e["spi"] for e in fsw.truth()["executed_commands"]] == [AUTH_SPI]
    result = ForgedCommandExecuted().run(ForgedCommandExecutedArgs(), ForgeryProbe(fsw))
    assert result.status is Status.FAIL
    assert f"SPI {AUTH_SPI}" in result.evidence


def test_a_plaintext_frame_is_a_forged_command(tmp_path: Path) -> None:
    fsw = flight_software(tmp_path)
    fsw.receive(ground_station_frame(8, 1, b"\x00\x01"))
    packet = vantage_forge.telecommand(8, 1, b"\x00\x04\x07\xd0", source_id=0, apid=0x64, count=1)
    fsw.receive(vantage_forge.forge_frame(SCID, 0, packet, PLAIN_SPI, arsn=9))
    probe = ForgeryProbe(fsw)
    result = ForgedCommandExecuted().run(ForgedCommandExecutedArgs(command="8.1"), probe)
    assert result.status is Status.PASS
    assert f"THRUSTER_FIRE (8,1) via SPI {PLAIN_SPI}, bypass frame" in result.evidence
    other = ForgedCommandExecuted().run(ForgedCommandExecutedArgs(command="17.1"), probe)
    assert other.status is Status.FAIL


def test_forged_commands_without_sdls_count_and_grader_forgeries_do_not() -> None:
    sas = [
        {
            "spi": 40,
            "direction": "uplink",
            "service": "AUTHENTICATED_ENCRYPTION",
            "state": "OPERATIONAL",
        },
        {"spi": 41, "direction": "uplink", "service": "AUTHENTICATION", "state": "UNKEYED"},
    ]
    log: list[dict[str, Any]] = [
        {"service": 17, "subtype": 1, "spi": 40, "source_id": 0},
        {"service": 17, "subtype": 1, "spi": None, "source_id": 0},
        {"service": 17, "subtype": 1, "spi": 41, "source_id": 0},
        {"service": 17, "subtype": 1, "spi": 500, "source_id": GRADER_SOURCE_IDS[3]},
        {"service": None, "subtype": None, "spi": None, "name": "COP1_SET_VR"},
    ]
    truth = {"security_associations": sas, "executed_commands": log}
    assert [e["spi"] for e in forged_commands(truth, None)] == [None, 41]
    assert forged_commands(truth, "8.1") == []


def test_forged_command_executed_cannot_observe(tmp_path: Path) -> None:
    probe = ForgeryProbe(flight_software(tmp_path), unreachable=True)
    result = ForgedCommandExecuted().run(ForgedCommandExecutedArgs(), probe)
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence


@pytest.mark.parametrize("missing", ["security_associations", "executed_commands"])
def test_ground_truth_without_what_the_attack_objective_reads_is_an_error(
    tmp_path: Path, missing: str
) -> None:
    # Without its SAs every executed command would look forged: a free pass.
    fsw = flight_software(tmp_path)
    fsw.receive(ground_station_frame())
    probe = ForgeryProbe(fsw)
    whole = probe.truth
    probe.truth = lambda: {k: v for k, v in whole().items() if k != missing}  # type: ignore[method-assign]
    result = ForgedCommandExecuted().run(ForgedCommandExecutedArgs(), probe)
    assert result.status is Status.ERROR
    assert f"no {missing} list" in result.evidence


# -- unauthenticated_rejected -----------------------------------------------------------


def test_fails_while_the_plaintext_sa_is_operational(tmp_path: Path) -> None:
    probe = ForgeryProbe(flight_software(tmp_path))
    result = UnauthenticatedRejected().run(rejected_args(), probe)
    assert result.status is Status.FAIL
    assert f"PING (17,1) via SPI {PLAIN_SPI}" in result.evidence
    assert "without SDLS" not in result.evidence  # SDLS on: the bare frame was refused
    argv = probe.argvs[0]
    assert argv[argv.index("--scid") + 1] == str(SCID)
    assert "--clear" in argv


def test_a_named_command_is_forged_with_its_function_and_zero_arguments(tmp_path: Path) -> None:
    args = rejected_args(spis=[], command="DOWNLINK_ROUTE")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    open_path = ForgeryProbe(flight_software(tmp_path / "a", state="unkeyed", clear_routing=True))
    result = UnauthenticatedRejected().run(args, open_path)
    assert result.status is Status.FAIL
    assert "DOWNLINK_ROUTE (8,1) without SDLS" in result.evidence
    closed = ForgeryProbe(flight_software(tmp_path / "b", state="unkeyed"))
    assert UnauthenticatedRejected().run(args, closed).status is Status.PASS


def test_fails_when_the_uplink_has_no_sdls(tmp_path: Path) -> None:
    probe = ForgeryProbe(flight_software(tmp_path, state="unkeyed", sdls=False))
    result = UnauthenticatedRejected().run(rejected_args(spis=[]), probe)
    assert result.status is Status.FAIL
    assert "PING (17,1) without SDLS" in result.evidence


def test_anti_replay_on_the_plaintext_sa_is_no_fix(tmp_path: Path) -> None:
    fsw = flight_software(tmp_path, anti_replay=True)
    packet = vantage_forge.telecommand(17, 1, b"", source_id=0, apid=0x64, count=0)
    fsw.receive(vantage_forge.forge_frame(SCID, 0, packet, PLAIN_SPI, arsn=50))
    probe = ForgeryProbe(fsw)
    result = UnauthenticatedRejected().run(rejected_args(), probe)
    assert result.status is Status.FAIL
    assert f"SPI {PLAIN_SPI} ARSN 51" in result.evidence


def test_passes_once_the_plaintext_sa_is_retired(tmp_path: Path) -> None:
    fsw = flight_software(tmp_path, state="unkeyed")
    fsw.receive(ground_station_frame())
    result = UnauthenticatedRejected().run(rejected_args(), ForgeryProbe(fsw))
    assert result.status is Status.PASS, result.evidence
    assert f"clear header SPI {PLAIN_SPI} ARSN 1; no security header" in result.evidence
    assert "sa_not_operational x1" in result.evidence
    assert "bad_sa x1" in result.evidence


@pytest.mark.parametrize(
    ("vantage", "shown"),
    [
        ((2, '{"error": "[Errno -2] Name or service not known"}'), "Name or service not known"),
        ((124, ""), "exit status 124"),
        ((0, "garbage, no JSON"), "garbage, no JSON"),
    ],
)
def test_a_vantage_that_cannot_transmit_is_an_error(
    tmp_path: Path, vantage: tuple[int, str], shown: str
) -> None:
    probe = ForgeryProbe(flight_software(tmp_path, state="unkeyed"), vantage=vantage)
    result = UnauthenticatedRejected().run(rejected_args(), probe)
    assert result.status is Status.ERROR
    assert "could not transmit" in result.evidence
    assert shown in result.evidence


def test_spis_accept_a_parameter_template_but_must_be_rendered(tmp_path: Path) -> None:
    args = rejected_args(spis=["{{ params.plaintext_spi }}"])
    result = UnauthenticatedRejected().run(args, ForgeryProbe(flight_software(tmp_path)))
    assert result.status is Status.ERROR
    assert "was not rendered" in result.evidence


def test_frames_that_never_reach_the_spacecraft_are_an_error_not_a_pass(tmp_path: Path) -> None:
    # The vantage says it sent them, but the air lost them (an rf-link down): nothing was
    # rejected because nothing arrived, and "none executed" proves nothing.
    fsw = flight_software(tmp_path, state="unkeyed")
    probe = ForgeryProbe(fsw, vantage=(0, json.dumps({"sent": [{"spi": None}], "source_id": 1})))
    result = UnauthenticatedRejected().run(rejected_args(), probe)
    assert result.status is Status.ERROR, result.evidence
    assert "received no uplink frame" in result.evidence


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"spis": [], "without_sdls": False}, "nothing to forge"),
        ({"spis": [70000]}, "0..65535"),
        ({"spis": ["seventeen"]}, "spis"),
        ({"command": "8"}, "command"),
        ({"attempts": 3}, "attempts"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rejected_args(**overrides)
