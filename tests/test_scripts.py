"""The set-up scripts: scripts/engine.sh (the engine for the main command and CI) says
what to run where it cannot install one itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_without_an_engine_and_root_the_engine_script_names_the_one_command() -> None:
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "scripts/engine.sh",
        ],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no Docker engine answers here" in result.stdout
    assert "sudo bash scripts/engine.sh" in result.stdout


def test_ci_and_the_main_command_share_the_engine_script() -> None:
    assert ". scripts/engine.sh" in (REPO / ".ci" / "run").read_text()
    demo = (REPO / "scripts" / "demo.sh").read_text()
    assert demo.index("ensure_engine") < demo.index("labctl_venv")
