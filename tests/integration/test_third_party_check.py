"""``labctl grade`` on the real engine grades a check from another package: the demo
check, installed with pip into a folder on PYTHONPATH, scores its objective on a live
instance of a copy of tc-replay that names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from labctl.backends.docker import DockerBackend
from labctl.instances import Instances, InstanceStore
from labctl.spec import load_lab

# The third-party package helpers live with the in-process plugin tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
from third_party import install_demo, lab_with_demo, on_path

pytestmark = pytest.mark.docker


def test_labctl_grade_scores_a_third_party_check_on_a_live_instance(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    site = install_demo(tmp_path / "site")
    labs = tmp_path / "labs"
    lab_dir = lab_with_demo(labs)
    home = tmp_path / "home"
    home.mkdir()
    manager = Instances(lab_backend, InstanceStore(home / "labctl.db"))
    with on_path(site):
        loaded = load_lab(lab_dir)
        record = manager.up(loaded, f"plugin{uuid.uuid4().hex[:8]}")
    try:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
            "LABCTL_HOME": str(home),
            "LABCTL_LABS_DIR": str(labs),
            "COLUMNS": "200",
        }
        scores = tmp_path / "scores"
        argv = [sys.executable, "-c", "from labctl.cli.app import main; main()"]
        argv += ["grade", record.id, "--output", str(scores)]
        done = subprocess.run(
            argv, check=False, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads((scores / "score.json").read_text(encoding="utf-8"))
        demo = next(o for o in report["objectives"] if o["id"] == "demo-truth-has")
        assert demo["verdict"] == "pass", demo
        assert demo["points"] == 5
        assert "demo-truth-has: pass" in done.stderr  # the progress line
    finally:
        manager.down(record.id)
