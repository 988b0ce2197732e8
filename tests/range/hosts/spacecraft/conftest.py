"""Spacecraft test fixtures: key files, configurations and a ground-station stand-in."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# --import-mode=importlib puts no test directory on sys.path; the scaffold lives here.
sys.path.insert(0, str(Path(__file__).parent))

from sc_scaffold import DOWNLINK_KEY, UPLINK_KEY, build_config

from labctl.range.hosts.spacecraft import SpacecraftConfig


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "uplink.key").write_text(UPLINK_KEY.hex() + "\n")
    (keys / "downlink.key").write_text(DOWNLINK_KEY.hex() + "\n")
    return keys


@pytest.fixture
def make_config(tmp_path: Path, key_dir: Path) -> Callable[..., SpacecraftConfig]:
    """``make_config({"uplink": {"farm_window": 4}})``: the test baseline, deep-merged."""

    def make(overrides: dict[str, Any] | None = None) -> SpacecraftConfig:
        return build_config(tmp_path, overrides or {})

    return make
