"""rf-link.yaml: the commented example loads; mistakes are one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.rflink import load_config, parse_config
from labctl.range.hosts.rflink.__main__ import main

EXAMPLE = Path(__file__).parents[4] / "containers" / "rf-link" / "rf-link.yaml"


def test_commented_example_loads_with_the_documented_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config == parse_config(Config({}, str(EXAMPLE)))
    assert (config.uplink.port, config.uplink.air_port) == (5100, 5101)
    assert (config.downlink.port, config.downlink.air_port) == (5102, 5103)
    assert config.uplink.air == ("broadcast",)
    assert config.channel.noise_threshold == 500


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"channel": {"los": 0.1}}, "channel.los"),
        ({"channel": {"loss": 1.5}}, "channel.loss"),
        ({"channel": {"jamming": {"uplink": "yes"}}}, "channel.jamming.uplink"),
        ({"channel": {"jamming": {"noise_threshold": -1}}}, "channel.jamming.noise_threshold"),
        ({"channel": {"passes": {"period": 60}}}, "channel.passes.duration"),
        ({"uplink": {"air_port": 5102}}, "uplink.air_port"),
        ({"downlink": {"air": []}}, "downlink.air"),
        ({"pcap": {"max_bytes": 10}}, "pcap.max_bytes"),
    ],
)
def test_mistakes_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(HostConfigError) as caught:
        parse_config(Config(data, "rf-link.yaml"))
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


def test_main_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "rf-link.yaml"
    bad.write_text("channel:\n  delay_ms: -5\n")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "channel.delay_ms" in err
