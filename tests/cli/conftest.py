"""The CLI tests: the CLI in-process, its environment injected (tests/cli/cli_env.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib puts no test directory on sys.path; the helpers live here.
sys.path.insert(0, str(Path(__file__).parent))
