"""The SA reader the spacecraft and the ground station share."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.protocols.sdls import DEFAULT_LENGTHS, SaState, ServiceType
from labctl.range.hosts import sdls_config
from labctl.range.hosts.config import Config, HostConfigError


def _section(data: dict[str, object]) -> Config:
    return Config({"sa": data}, "test.yaml").section("sa")


@pytest.mark.parametrize("service", list(sdls_config.SERVICES))
def test_defaults_follow_the_service(service: str) -> None:
    sa = sdls_config.association(_section({"spi": 7, "service": service}))
    assert (sa.iv_len, sa.sn_len, sa.mac_len) == DEFAULT_LENGTHS[sdls_config.SERVICES[service]]
    assert sa.state is SaState.OPERATIONAL


def test_anti_replay_off_is_window_zero() -> None:
    sa = sdls_config.association(_section({"spi": 1, "anti_replay": False, "window": 5}))
    assert sa.window == 0


def test_window_zero_with_anti_replay_on_is_an_error() -> None:
    with pytest.raises(HostConfigError, match=r"sa\.window: must be >= 1"):
        sdls_config.association(_section({"spi": 1, "window": 0}))


def test_unknown_service_names_the_key() -> None:
    with pytest.raises(HostConfigError, match=r"test.yaml: sa.service: one of"):
        sdls_config.association(_section({"spi": 1, "service": "rot13"}))


def test_key_is_required_unless_plaintext(tmp_path: Path) -> None:
    section = _section({"spi": 1})
    sa = sdls_config.association(section)
    with pytest.raises(HostConfigError, match=r"sa.key_file: missing"):
        sdls_config.key(section, sa, tmp_path)
    plain = _section({"spi": 1, "service": "plaintext"})
    assert sdls_config.key(plain, sdls_config.association(plain), tmp_path) is None


def test_key_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "up.key").write_text("00" * 16 + "\n", encoding="ascii")
    section = _section({"spi": 1, "key_file": "up.key"})
    sa = sdls_config.association(section)
    assert sdls_config.key(section, sa, tmp_path) == bytes(16)
    assert sa.service is ServiceType.AUTHENTICATED_ENCRYPTION


def test_vcids_are_checked() -> None:
    with pytest.raises(HostConfigError, match=r"sa.vcids"):
        sdls_config.association(_section({"spi": 1, "vcids": [1, "two"]}))


def test_config_only_names_the_unknown_key() -> None:
    cfg = Config({"uplink": {"prot": 1}}, "f.yaml")
    with pytest.raises(
        HostConfigError, match=r"f.yaml: uplink.prot: unknown key \(allowed: port\)"
    ):
        cfg.only({"port"}, "uplink")
