"""Where things are: the labs folder, the state database, the backend. Resolved once.

An edge builds :class:`Settings` from what the user said (``--labs-dir``) and the
environment (``LABCTL_LABS_DIR``, ``LABCTL_BACKEND``, ``LABCTL_HOME``); the core reads
nothing else from the environment for these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import labctl

DEFAULT_BACKEND = "docker"


@dataclass(frozen=True)
class Settings:
    labs_dir: Path
    backend: str = DEFAULT_BACKEND
    #: The state database; None: ``$LABCTL_HOME/labctl.db`` as the instance store decides.
    state_file: Path | None = None

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
        )


def _labs_dir(env: Mapping[str, str]) -> Path:
    if env.get("LABCTL_LABS_DIR"):
        return Path(env["LABCTL_LABS_DIR"])
    here = Path.cwd() / "labs"
    if here.is_dir():
        return here
    return Path(labctl.__file__).resolve().parent.parent / "labs"
