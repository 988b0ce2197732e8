"""rf-link.yaml: the commented example loads; mistakes are one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.rflink import load_config, parse_config
from labctl.range.hosts.rflink.__main__ import main
from labctl.range.hosts.rflink.channel import UPLINK, ChannelModel

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


ORBIT = {
    "tle": [
        "1 43013U 17073A   26338.50000000  .00000010  00000-0  10000-4 0  9992",
        "2 43013  98.7200 300.0000 0001000  90.0000 270.0000 14.19500000 45000",
    ],
    "station": {"name": "svalbard", "latitude": 78.23, "longitude": 15.41, "min_elevation": 5},
    "time_scale": 6,
}


def test_passes_from_an_orbit_deliver_only_during_a_pass() -> None:
    config = parse_config(Config({"channel": {"passes": {"orbit": ORBIT}}}, "rf-link.yaml"))
    assert config.channel.schedule is not None
    clock = [1_900_000_000.0]
    channel = ChannelModel(config.channel, clock=lambda: clock[0])
    assert not channel.settings.always_in_contact
    first = channel.upcoming(1)[0]
    clock[0] = first.aos + 1
    assert channel.in_contact()
    assert channel.transmit(UPLINK, b"frame") == b"frame"
    clock[0] = first.los + 1
    assert not channel.in_contact()
    assert channel.transmit(UPLINK, b"frame") is None
    assert channel.dropped["uplink_no_pass"] == 1
    assert channel.next_pass() == channel.upcoming(1)[0].aos > clock[0]


def test_fixed_passes_list_the_same_windows_as_they_apply() -> None:
    config = parse_config(
        Config({"channel": {"passes": {"period": 100, "duration": 20}}}, "rf-link.yaml")
    )
    channel = ChannelModel(config.channel, clock=lambda: 1050.0)
    assert [(c.aos, c.los) for c in channel.upcoming(2)] == [(1100.0, 1120.0), (1200.0, 1220.0)]
    channel = ChannelModel(config.channel, clock=lambda: 1110.0)
    assert channel.upcoming(1)[0].aos == 1100.0
    assert channel.in_contact()


@pytest.mark.parametrize(
    ("passes", "key"),
    [
        ({"orbit": ORBIT, "period": 60, "duration": 10}, "channel.passes"),
        ({"orbit": {**ORBIT, "tle": ["1 bad", "2 bad"]}}, "channel.passes.orbit"),
        ({"orbit": {**ORBIT, "time_scale": 0}}, "channel.passes.orbit"),
        (
            {"orbit": {**ORBIT, "station": {"latitude": 1}}},
            "channel.passes.orbit.station.longitude",
        ),
    ],
)
def test_a_bad_orbit_names_its_key(passes: dict[str, object], key: str) -> None:
    with pytest.raises(HostConfigError) as caught:
        parse_config(Config({"channel": {"passes": passes}}, "rf-link.yaml"))
    assert caught.value.key == key
    assert "\n" not in str(caught.value)
