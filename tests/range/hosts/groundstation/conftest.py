"""Fixtures of the ground-station tests. Everything listens on 127.0.0.1.

The suite runs with --import-mode=importlib, so the helpers next to this file
(gs_peers.py) are put on sys.path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gs_peers import Env, base_config


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path, base_config(tmp_path))
