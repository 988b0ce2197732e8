"""Helpers for the spacecraft tests: configurations and a minimal ground station."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.protocols.pus import PusTc, PusTm
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation, ServiceType
from labctl.protocols.stream import packets_in
from labctl.protocols.tc_frame import TcFrame, segment, set_vr_frame, unlock_frame
from labctl.protocols.tm_frame import TmFrame
from labctl.range.hosts.catalog import BY_NAME, PLATFORM_APID
from labctl.range.hosts.config import Config
from labctl.range.hosts.spacecraft import SpacecraftConfig, parse_config

SCID = 0x42
UPLINK_KEY = bytes(range(32))
DOWNLINK_KEY = bytes(range(32, 64))

BASELINE: dict[str, Any] = {
    "scid": SCID,
    "uplink": {"host": "127.0.0.1", "port": 0},
    "downlink": {"host": "127.0.0.1", "port": 9},
    "housekeeping": {"period": 0.2, "ops_message": "flag{student-7}"},
    "sdls": {
        "associations": {
            "uplink": {"spi": 1, "key_file": "keys/uplink.key"},
            "plain": {"spi": 5, "service": "plaintext", "state": "keyed"},
            "downlink": {"spi": 2, "direction": "downlink", "key_file": "keys/downlink.key"},
        },
        "downlink_sa": "none",
    },
    "truth_interval": 0.05,
}


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def build_config(tmp_path: Path, overrides: dict[str, Any]) -> SpacecraftConfig:
    data = merge(BASELINE, {"state_dir": str(tmp_path / "state")})
    data["truth_file"] = str(tmp_path / "run" / "truth.json")
    return parse_config(Config(merge(data, overrides), "spacecraft.yaml"), base=tmp_path)


@dataclass
class Ground:
    """Builds TC frames as a ground station would (FOP-1 numbering is done by hand)."""

    spi: int = 1
    service: ServiceType = ServiceType.AUTHENTICATED_ENCRYPTION
    key: bytes = UPLINK_KEY
    vcid: int = 0
    scid: int = SCID
    tc_count: int = 0
    engine: SdlsEngine = field(init=False)
    downlink: SdlsEngine = field(init=False)

    def __post_init__(self) -> None:
        lengths = {"iv_len": 0, "sn_len": 4, "mac_len": 0}
        sa = (
            SecurityAssociation(self.spi)
            if self.service is ServiceType.AUTHENTICATED_ENCRYPTION
            else SecurityAssociation(self.spi, self.service, **lengths)
        )
        self.engine = SdlsEngine.of([sa], Keyring({0: self.key}))
        # anti-replay off: the tests decode the same frames more than once
        downlink_sa = SecurityAssociation(2, window=0)
        self.downlink = SdlsEngine.of([downlink_sa], Keyring({0: DOWNLINK_KEY}))

    def packet(self, name: str, *args: int | bytes, ack: int = 0b1001) -> bytes:
        command = BY_NAME[name]
        self.tc_count += 1
        tc = PusTc(
            PLATFORM_APID,
            command.service,
            command.subtype,
            command.app_data(*args),
            seq_count=self.tc_count,
            ack_flags=ack,
        )
        return tc.encode()

    def frame(
        self, packet: bytes, seq: int = 0, bypass: bool = False, secure: bool = True
    ) -> bytes:
        clear = TcFrame(self.scid, self.vcid, segment(0, packet), seq, int(bypass))
        if not secure:
            return clear.encode()
        return self.engine.protect_tc(clear, self.spi).encode()

    def command(self, name: str, *args: int | bytes, seq: int = 0, bypass: bool = False) -> bytes:
        return self.frame(self.packet(name, *args), seq, bypass)

    def unlock(self, secure: bool = False) -> bytes:
        frame = unlock_frame(self.scid, self.vcid)
        if secure:
            frame = self.engine.protect_tc(frame, self.spi, segment_header=False)
        return frame.encode()

    def set_vr(self, vr: int, secure: bool = False) -> bytes:
        frame = set_vr_frame(self.scid, self.vcid, vr)
        if secure:
            frame = self.engine.protect_tc(frame, self.spi, segment_header=False)
        return frame.encode()


def tm_packets(frames: list[bytes], downlink: SdlsEngine | None = None) -> list[PusTm]:
    """Every non-idle PUS TM packet in the frames (VC 0; idle frames skipped)."""
    result: list[PusTm] = []
    for raw in frames:
        frame = TmFrame.decode(raw)
        if frame.vcid != 0:
            continue
        data = frame.data
        if downlink is not None:
            verdict = downlink.verify_tm(frame)
            assert verdict.accepted, verdict
            data = verdict.data
        packets, _ = packets_in(data)
        result.extend(PusTm.decode(p.encode()) for p in packets if not p.is_idle)
    return result


def kinds(packets: list[PusTm]) -> list[tuple[int, int]]:
    return [(p.service, p.subtype) for p in packets]
