"""Options shared by every command, and where to find things."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

import labctl

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    debug: bool = False
    labs_dir: Path | None = None

    def labs(self) -> Path:
        """The labs folder: --labs-dir, $LABCTL_LABS_DIR, ./labs, or the one beside the package."""
        if self.labs_dir is not None:
            return self.labs_dir
        env = os.environ.get("LABCTL_LABS_DIR")
        if env:
            return Path(env)
        here = Path.cwd() / "labs"
        if here.is_dir():
            return here
        return Path(labctl.__file__).resolve().parent.parent / "labs"


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
