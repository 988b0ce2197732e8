"""Fixtures for the protocol tests: the scapy layers' dissection config is global state."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib, which puts no test directory on sys.path;
# the shared hypothesis strategies (protocol_strategies.py) live next to this file.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def layer_config() -> Iterator[object]:
    """The scapy layers' channel/SA registry, reset before and after the test."""
    from labctl.protocols.layers import CONFIG

    CONFIG.reset()
    yield CONFIG
    CONFIG.reset()
