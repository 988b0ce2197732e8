"""The built wheel carries every file the programs read at run time (templates, static, data)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_non_python_package_file(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("labctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        str(p.relative_to(REPO))
        for p in (REPO / "labctl").rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    }
    assert wanted, "no data files found: the test would prove nothing"
    assert wanted - names == set()


def test_every_third_party_import_of_the_programs_is_a_runtime_dependency() -> None:
    """`labctl` must start with the runtime dependencies alone (the demo installs no extras)."""
    import ast
    import importlib.metadata
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    # Imported directly, but their versions are pinned by the distribution that brings them.
    brought_by = {"pydantic_core": "pydantic", "starlette": "fastapi", "requests": "docker"}
    missing: dict[str, str] = {}
    for package in ("labctl", "graders"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in {"labctl", "graders"}:
                        continue
                    dists = {d.lower() for d in distributions.get(top, [top])}
                    dists.add(brought_by.get(top, top))
                    if not dists & declared:
                        missing[top] = str(path.relative_to(REPO))
    assert missing == {}, f"imported but not in [project] dependencies: {missing}"
