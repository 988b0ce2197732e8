"""A third-party check package, installed for real: pip builds tests/plugins/demo_check
into a target folder, which goes on the import path (sys.path in-process, PYTHONPATH for
a subprocess), so labctl finds it through its ``labctl.checks`` entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from labctl.spec.vocabulary import default_vocabulary

HERE: Final = Path(__file__).resolve().parent
DEMO_SOURCE: Final = HERE / "demo_check"
REPO: Final = HERE.parents[1]
DEMO_OBJECTIVE: Final = """
  - id: demo-truth-has
    kind: availability
    title: The spacecraft keeps its ground truth (a check from another package)
    points: 5
    check:
      name: demo_truth_has
      args: {key: executed_commands}
"""


def install_demo(target: Path, source: Path = DEMO_SOURCE) -> Path:
    """``pip install --target`` of the demo package (not its dependencies: labctl is here)."""
    build = target.parent / f"{target.name}-src"
    shutil.copytree(source, build)
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    argv += ["--no-deps", "--target", str(target)]
    subprocess.run([*argv, str(build)], check=True, capture_output=True, timeout=300)
    return target


def lab_with_demo(parent: Path, lab: str = "tc-replay") -> Path:
    """A copy of a real lab (in ``parent``, under its own id) with one more objective,
    graded by the demo check."""
    dest = parent / lab
    shutil.copytree(REPO / "labs" / lab, dest)
    lab_file = dest / "lab.yaml"
    text = lab_file.read_text(encoding="utf-8")
    head, tail = text.split("\nreport:", 1)
    lab_file.write_text(head.rstrip("\n") + "\n" + DEMO_OBJECTIVE + "\nreport:" + tail)
    return dest


@contextmanager
def on_path(folder: Path) -> Iterator[None]:
    """``folder`` on sys.path, with the vocabulary rebuilt on entry and on exit."""
    sys.path.insert(0, str(folder))
    default_vocabulary.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for module in [m for m in sys.modules if m.startswith("labctl_demo")]:
            del sys.modules[module]
        default_vocabulary.cache_clear()
