"""spacecraft.yaml: the commented example loads; mistakes are one line naming the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sc_scaffold import BASELINE, merge

from labctl.protocols.sdls import SaState, ServiceType
from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.spacecraft import load_config, parse_config
from labctl.range.hosts.spacecraft.__main__ import main

EXAMPLE = Path(__file__).parents[4] / "containers" / "spacecraft" / "spacecraft.yaml"


def test_commented_example_loads(tmp_path: Path, key_dir: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "spacecraft.yaml")
    config = load_config(tmp_path / "spacecraft.yaml")
    assert config.scid == 0x42
    assert (config.uplink.port, config.downlink.host, config.downlink.port) == (
        5101,
        "rf-link",
        5102,
    )
    uplink = config.associations_for("uplink")[0]
    assert (uplink.sa.spi, uplink.sa.service, uplink.sa.state) == (
        1,
        ServiceType.AUTHENTICATED_ENCRYPTION,
        SaState.OPERATIONAL,
    )
    assert uplink.sa.window == 64
    assert config.downlink_sa == "downlink"


def test_dotted_inject_paths_take_effect(tmp_path: Path, key_dir: Path) -> None:
    data = merge(BASELINE, {"sdls": {"associations": {"uplink": {"anti_replay": False}}}})
    config = parse_config(Config(data, "spacecraft.yaml"), base=tmp_path)
    assert config.associations_for("uplink")[0].sa.window == 0


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"uplink": {"farm_windw": 4}}, "uplink.farm_windw"),
        ({"uplink": {"farm_window": 5}}, "uplink.farm_window"),
        ({"scid": 5000}, "scid"),
        ({"sdls": {"associations": {"uplink": {"anti_replay": "no"}}}}, "anti_replay"),
        ({"sdls": {"associations": {"uplink": {"service": "rot13"}}}}, "service"),
        ({"sdls": {"associations": {"uplink": {"key_file": ""}}}}, "key_file"),
        ({"sdls": {"associations": {"plain": {"spi": 1, "direction": "uplink"}}}}, "spi"),
        ({"sdls": {"downlink_sa": "uplink"}}, "sdls.downlink_sa"),
        ({"sdls": {"downlink_sa": "nope"}}, "sdls.downlink_sa"),
        ({"housekeeping": {"period": 0}}, "housekeeping.period"),
        ({"downlink": {"frame_length": 64}}, "downlink.frame_length"),
    ],
)
def test_mistakes_name_the_key(
    tmp_path: Path, key_dir: Path, overrides: dict[str, object], key: str
) -> None:
    with pytest.raises(HostConfigError) as caught:
        parse_config(Config(merge(BASELINE, overrides), "spacecraft.yaml"), base=tmp_path)
    assert caught.value.key.endswith(key)
    assert "\n" not in str(caught.value)


def test_missing_key_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(HostConfigError) as caught:
        parse_config(Config(BASELINE, "spacecraft.yaml"), base=tmp_path)
    assert "uplink.key" in str(caught.value)


def test_main_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "spacecraft.yaml"
    bad.write_text("uplink:\n  vcid: 99\n")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "uplink.vcid" in err


def test_host_programs_import_neither_scapy_nor_pydantic() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, labctl.range.hosts.spacecraft.__main__, labctl.range.hosts.rflink.__main__;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'scapy', 'pydantic'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
