"""Configuration: the commented example loads, every mistake is one line naming the key."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from gs_peers import base_config

from labctl.protocols.sdls import MacAlgorithm, ServiceType
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.groundstation.__main__ import main
from labctl.range.hosts.groundstation.settings import (
    FORWARD_ONLY_WINDOW,
    load_settings,
    settings_from_mapping,
)

EXAMPLE = Path(__file__).parents[4] / "containers" / "ground-station" / "ground-station.yaml"


def _set(config: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``dotted`` set, as a lab inject would do it."""
    config = copy.deepcopy(config)
    node = config
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return config


def test_commented_example_is_valid(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    keys = base_config(tmp_path)  # writes the key files
    data = _set(data, "uplink.sa.key_file", keys["uplink"]["sa"]["key_file"])
    data = _set(data, "downlink.sa.key_file", keys["downlink"]["sa"]["key_file"])
    settings = settings_from_mapping(data)
    assert settings.scid == 0x42
    assert settings.packet_service.port == 10025
    assert settings.uplink.rf_link_address == "rf-link"
    assert not settings.uplink.bypass
    assert settings.uplink.sa is not None
    assert settings.uplink.sa.spi == 1
    assert settings.uplink.sa.association.service is ServiceType.AUTHENTICATED_ENCRYPTION
    assert settings.downlink.sa is not None
    assert settings.downlink.sa.association.window == FORWARD_ONLY_WINDOW


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "up.key").write_text("00" * 16)
    path = tmp_path / "gs.yaml"
    path.write_text(
        "scid: 7\nuplink:\n  sa: {spi: 9, service: authentication, key_file: keys/up.key}\n"
    )
    settings = load_settings(path)
    assert settings.packet_service.address == "0.0.0.0"
    assert settings.downlink.port == 5103
    assert settings.downlink.sa is None
    assert settings.status_file is None
    sa = settings.uplink.sa
    assert sa is not None
    assert sa.key == bytes(16)
    assert sa.association.mac_algorithm is MacAlgorithm.AES_CMAC


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("scid", 4096, "scid: 4096 outside 0..1023"),
        ("scid", "0x42", "scid: expected int"),
        ("uplink.bypass", "yes", "uplink.bypass: expected bool"),
        ("uplink.fop.window", 0, "uplink.fop.window: 0 outside 1..127"),
        ("uplink.fop.timeout", -1, "uplink.fop.timeout: -1.0 outside"),
        ("uplink.sa.service", "rot13", "uplink.sa.service: one of plaintext, authentication"),
        ("uplink.sa.spi", 70000, "uplink.sa.spi: 70000 outside 0..65535"),
        ("uplink.sa.key_file", None, "uplink.sa.key_file: missing (the SA needs a key)"),
        ("uplink.sa.mac_len", 8, "uplink.sa: SA 1: authenticated encryption is AES-GCM"),
        ("uplink.sa.key_fiel", "x", "uplink.sa.key_fiel: unknown key"),
        ("downlink.vcid", 7, "downlink.vcid: 7 outside 0..6"),
        ("downlink.sa", [1], "downlink.sa: expected a mapping"),
        ("packet_service.allowed_clients", ["not a host!"], "allowed_clients: "),
        ("packet_service.max_clients", 0, "packet_service.max_clients: 0 outside 1..64"),
        ("status_interval", 0, "status_interval: 0.0 outside 0.1..86400 s"),
        ("uplink.rf_link", "rf-link:5100", "uplink.rf_link: expected a mapping"),
    ],
)
def test_config_mistakes_are_one_line_errors_naming_the_key(
    tmp_path: Path, dotted: str, value: Any, expected: str
) -> None:
    config = _set(base_config(tmp_path), dotted, value)
    with pytest.raises(HostConfigError) as error:
        settings_from_mapping(config)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message
    assert error.value.exit_code == 2


def test_bad_key_file_names_the_file(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    Path(config["uplink"]["sa"]["key_file"]).write_text("not hex at all")
    with pytest.raises(HostConfigError, match=r"uplink\.key: cannot read a hex key"):
        settings_from_mapping(config)
    Path(config["uplink"]["sa"]["key_file"]).write_text("0011")
    with pytest.raises(HostConfigError, match="key of 2 octets"):
        settings_from_mapping(config)


def test_world_readable_key_is_accepted_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = base_config(tmp_path)
    Path(config["uplink"]["sa"]["key_file"]).chmod(0o644)
    with caplog.at_level(logging.WARNING):
        settings_from_mapping(config)
    assert "readable by other users" in caplog.text


def test_sa_none_and_plaintext(tmp_path: Path) -> None:
    config = _set(base_config(tmp_path), "uplink.sa", "none")
    config = _set(config, "downlink.sa", {"spi": 5, "service": "plaintext"})
    settings = settings_from_mapping(config)
    assert settings.uplink.sa is None
    assert settings.downlink.sa is not None
    assert settings.downlink.sa.key is None
    assert settings.downlink.sa.association.mac_len == 0


def test_main_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ground-station.yaml"
    path.write_text("scid: 66\nuplink: {fop: {window: 500}}\n")
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "uplink.fop.window: 500 outside 1..127" in err
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
