"""The package as a user meets it: import side effects, the console script."""

from __future__ import annotations

import subprocess
import sys

from labctl import __version__


def test_importing_labctl_has_no_heavy_side_effects() -> None:
    code = (
        "import sys, labctl, labctl.errors, labctl.spec;"
        "print(','.join(m for m in ('docker', 'typer', 'rich', 'scapy', 'logging.handlers')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "labctl", "--version"], check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == f"labctl {__version__}"
