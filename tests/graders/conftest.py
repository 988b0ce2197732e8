"""Report grader tests: helpers next to this file (report_samples.py) go on sys.path.

The suite runs with --import-mode=importlib, which puts no test directory on sys.path.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
