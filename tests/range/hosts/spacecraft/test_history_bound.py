"""The executed-command history on the spacecraft's volume stays bounded under a flood.

Anyone with the uplink key (or on a plaintext SA) can make the spacecraft execute
commands as fast as frames arrive; each one is a line in state_dir/command-history.jsonl.
The file is compacted at twice ``command_history`` lines, and a line has a bounded size.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sc_scaffold import Ground

from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.spacecraft import FlightSoftware, SpacecraftConfig, load_config
from labctl.range.hosts.spacecraft.core import HISTORY_FILE
from labctl.range.hosts.spacecraft.state import COMMAND_LOG_SIZE, MAX_HISTORY_LINE

MakeConfig = Callable[..., SpacecraftConfig]
EXAMPLE = Path(__file__).parents[4] / "containers" / "spacecraft" / "spacecraft.yaml"


def test_50k_executed_commands_keep_the_history_file_under_its_bound(
    make_config: MakeConfig,
) -> None:
    # Not persisting the SN saves an fsync per frame (the test's time, not the file's size).
    config = make_config({"sdls": {"associations": {"uplink": {"persist_sequence": False}}}})
    assert config.command_history == COMMAND_LOG_SIZE
    fsw, ground = FlightSoftware(config), Ground()
    for i in range(100 * COMMAND_LOG_SIZE):
        ground.tc_count %= 0x3FFF  # the PUS sequence count is 14 bits
        frame = ground.command("THRUSTER_FIRE", 65535, seq=0, bypass=True)
        assert fsw.receive(frame).reason == ""
        if i % 256 == 0:
            fsw.pending_frames()  # the downlink queue is bounded anyway; keep it moving
    path = config.state_dir / HISTORY_FILE
    lines = path.read_text().splitlines()
    assert len(lines) <= 2 * COMMAND_LOG_SIZE
    assert max(len(line) for line in lines) <= MAX_HISTORY_LINE
    assert path.stat().st_size <= 2 * COMMAND_LOG_SIZE * (MAX_HISTORY_LINE + 1)
    assert sorted(p.name for p in config.state_dir.iterdir() if "history" in p.name) == [
        HISTORY_FILE
    ]
    assert json.loads(lines[-1])["name"] == "THRUSTER_FIRE"
    assert len(fsw.truth()["executed_commands"]) == COMMAND_LOG_SIZE


def test_the_commented_example_states_the_default(tmp_path: Path, key_dir: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "spacecraft.yaml")
    assert load_config(tmp_path / "spacecraft.yaml").command_history == COMMAND_LOG_SIZE


def test_the_history_size_is_configurable(make_config: MakeConfig) -> None:
    config = make_config({"command_history": 100})
    fsw, ground = FlightSoftware(config), Ground()
    for _ in range(1000):
        fsw.receive(ground.command("PING", seq=0, bypass=True))
    lines = (config.state_dir / HISTORY_FILE).read_text().splitlines()
    assert len(lines) <= 200
    assert len(FlightSoftware(config).truth()["executed_commands"]) == 100


@pytest.mark.parametrize("value", [99, 10_001, "many"])
def test_a_history_size_out_of_range_names_the_key(make_config: MakeConfig, value: object) -> None:
    with pytest.raises(HostConfigError) as error:
        make_config({"command_history": value})
    assert "command_history" in str(error.value)
