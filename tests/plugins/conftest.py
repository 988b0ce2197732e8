"""Plugin tests: the helpers next to this file and the graders' fake probe go on sys.path.

The suite runs with --import-mode=importlib, which puts no test directory on sys.path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "graders"))
