"""Where things are: the labs folder, the state database, the backend. Resolved once.

An edge builds :class:`Settings` from what the user said (``--labs-dir``) and the
environment (``LABCTL_LABS_DIR``, ``LABCTL_BACKEND``, ``LABCTL_HOME``, and the caps
``LABCTL_MAX_RUNNING`` and ``LABCTL_MAX_PER_STUDENT``); the core reads nothing else from
the environment for these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import labctl
from labctl.errors import InputError

DEFAULT_BACKEND = "docker"


@dataclass(frozen=True)
class Settings:
    labs_dir: Path
    backend: str = DEFAULT_BACKEND
    #: The state database; None: ``$LABCTL_HOME/labctl.db`` as the instance store decides.
    state_file: Path | None = None
    #: Instances running at once on this machine, and per student (0: no cap).
    max_running: int = 0
    max_per_student: int = 0

    @classmethod
    def resolve(
        cls, labs_dir: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """``labs_dir`` if given, else ``$LABCTL_LABS_DIR``, ``./labs``, or the labs beside
        the package (a source checkout); the backend from ``$LABCTL_BACKEND``."""
        env = os.environ if environ is None else environ
        return cls(
            labs_dir=labs_dir if labs_dir is not None else _labs_dir(env),
            backend=env.get("LABCTL_BACKEND") or DEFAULT_BACKEND,
            max_running=_count(env, "LABCTL_MAX_RUNNING"),
            max_per_student=_count(env, "LABCTL_MAX_PER_STUDENT"),
        )


def _count(env: Mapping[str, str], name: str) -> int:
    """A cap from the environment: a whole number, 0 (or unset) for none."""
    text = env.get(name, "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > 10_000:
        raise InputError(f"{name}={text!r}: give a whole number of instances, 0 for no cap")
    return int(text)


def _labs_dir(env: Mapping[str, str]) -> Path:
    if env.get("LABCTL_LABS_DIR"):
        return Path(env["LABCTL_LABS_DIR"])
    here = Path.cwd() / "labs"
    if here.is_dir():
        return here
    return Path(labctl.__file__).resolve().parent.parent / "labs"
