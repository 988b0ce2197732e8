"""The wheelhouse images install labctl from: built on the host, used with ``--no-index``.

pip inside ``docker build`` cannot reach a package index (and an air-gapped training room
has none), so the wheels are fetched here, on the host, into a cache directory:

- ``deps/``: every runtime dependency, as binary wheels for the images' interpreter
  (CPython 3.11 on Debian bookworm, glibc 2.36), whatever Python runs labctl itself;
  fetched again only when the dependency list in pyproject.toml changes. Wheels for
  another CPU architecture than this machine's (``labctl images build --arch``) go to
  ``deps-<machine>/`` (``deps-aarch64``), fetched by pip for that platform;
- ``project/``: the labctl wheel, rebuilt when the package's sources change.

pip runs as a subprocess with an argument list (never a shell string).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labctl.errors import BackendError

#: The interpreter in the images (Debian bookworm's python3).
IMAGE_PYTHON: Final = "3.11"
IMAGE_GLIBC_MINOR: Final = 36
PIP_TIMEOUT_S: Final = 900
_SKIP_PARTS: Final = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


@dataclass(frozen=True)
class Wheelhouse:
    root: Path
    deps: tuple[Path, ...]
    project: Path

    @property
    def dep_names(self) -> tuple[str, ...]:
        """Wheel file names: they carry every dependency's exact version."""
        return tuple(sorted(p.name for p in self.deps))


def cache_dir() -> Path:
    """$LABCTL_CACHE, else $XDG_CACHE_HOME/labctl, else ~/.cache/labctl."""
    if os.environ.get("LABCTL_CACHE"):
        return Path(os.environ["LABCTL_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "labctl"


def tree_digest(root: Path, paths: Iterable[Path]) -> str:
    """sha256 over (relative path, content) of every file below ``paths``, in sorted order."""
    files: set[Path] = set()
    for path in paths:
        candidates = [path] if path.is_file() else path.rglob("*")
        files |= {p for p in candidates if p.is_file() and not _skipped(p.relative_to(root))}
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _skipped(relative: Path) -> bool:
    return bool(_SKIP_PARTS & set(relative.parts)) or relative.suffix in {".pyc", ".pyo"}


def project_sources(root: Path) -> list[Path]:
    """What goes into the labctl wheel (and so into the images)."""
    return [root / "pyproject.toml", root / "labctl"]


def dependencies(root: Path) -> list[str]:
    with (root / "pyproject.toml").open("rb") as file:
        data = tomllib.load(file)
    return [str(d) for d in data.get("project", {}).get("dependencies", [])]


def host_machine() -> str:
    """This machine's architecture as Linux names it (x86_64, aarch64): macOS says
    arm64 and Windows AMD64 for the same machines."""
    machine = platform.machine() or "x86_64"
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(machine.lower(), machine)


def _deps_dir(root: Path, machine: str | None) -> Path:
    machine = machine or host_machine()
    return root / ("deps" if machine == host_machine() else f"deps-{machine}")


def existing_wheelhouse(cache: Path, machine: str | None = None) -> Wheelhouse | None:
    """The wheelhouse in ``cache`` for ``machine`` (default: this machine's) as it is
    now, or None when it is incomplete."""
    root = cache / "wheelhouse"
    deps = tuple(sorted(_deps_dir(root, machine).glob("*.whl")))
    project = sorted((root / "project").glob("labctl-*.whl"))
    if not deps or not project:
        return None
    return Wheelhouse(root, deps, project[-1])


def build_wheelhouse(
    project_root: Path,
    cache: Path,
    progress: Callable[[str], None],
    machine: str | None = None,
) -> Wheelhouse:
    """Bring ``cache``/wheelhouse up to date with the project, the dependencies as wheels
    for ``machine`` (default: this machine's); return it."""
    root = cache / "wheelhouse"
    machine = machine or host_machine()
    deps = _deps_dir(root, machine)
    requirements = dependencies(project_root)
    deps_key = hashlib.sha256(
        "\n".join([IMAGE_PYTHON, machine, *requirements]).encode()
    ).hexdigest()
    if _stamp(deps) != deps_key:
        progress(
            f"fetching {len(requirements)} dependencies as wheels for CPython {IMAGE_PYTHON}"
            f" on {machine}"
        )
        _refill(deps, _download_argv(requirements, machine), deps_key)
    project_key = tree_digest(project_root, project_sources(project_root))
    if _stamp(root / "project") != project_key:
        progress("building the labctl wheel")
        _refill(root / "project", _wheel_argv(project_root), project_key)
    found = existing_wheelhouse(cache, machine)
    if found is None:
        raise BackendError("build the wheelhouse", f"pip left no wheels in {root}")
    return found


def _stamp(directory: Path) -> str:
    try:
        return (directory / ".stamp").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _refill(directory: Path, argv: list[str], key: str) -> None:
    """Run pip into a fresh ``directory``, stamping it only when pip succeeded."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    _pip([*argv, "--dest" if argv[3] == "download" else "--wheel-dir", str(directory)])
    (directory / ".stamp").write_text(key + "\n", encoding="utf-8")


def _download_argv(requirements: list[str], machine: str) -> list[str]:
    argv = [sys.executable, "-m", "pip", "download", "--only-binary=:all:"]
    argv += ["--python-version", IMAGE_PYTHON, "--implementation", "cp", "--abi", "cp311"]
    argv += ["--abi", "abi3", "--abi", "none"]
    for platform_tag in _platform_tags(machine):
        argv += ["--platform", platform_tag]
    return [*argv, *requirements]


def _platform_tags(machine: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(IMAGE_GLIBC_MINOR, 16, -1)]
    return [*tags, f"manylinux2014_{machine}", "any"]


def _wheel_argv(project_root: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "wheel", "--no-deps", str(project_root)]


def _pip(argv: list[str]) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError("build the wheelhouse", f"pip could not run: {exc}") from exc
    if result.returncode != 0:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise BackendError(
            "build the wheelhouse",
            f"pip {argv[3]} exited with status {result.returncode}: {tail}",
            hint="the host needs the package index (or a pip mirror) once; "
            "air-gapped rooms load saved images instead: labctl images load",
        )
