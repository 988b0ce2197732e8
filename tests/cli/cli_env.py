"""The CLI in-process with an injected environment: consoles on buffers, a core on fakes."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from typer.testing import CliRunner, Result

from labctl.cli.app import app
from labctl.cli.context import Environment
from labctl.core.api import Core
from labctl.core.settings import Settings


@dataclass
class Run:
    """One invocation: the exit status and what each console received."""

    result: Result
    out: str
    err: str

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    @property
    def output(self) -> str:
        """Both consoles, standard output first."""
        return self.out + self.err


def environment(core_factory: Callable[[Settings], Core] | None = None, **env: Any) -> Environment:
    """An environment whose consoles write to buffers (wide, no colour)."""
    consoles = {
        name: Console(file=io.StringIO(), width=200, no_color=True, soft_wrap=True)
        for name in ("out", "err")
    }
    if core_factory is not None:
        env["core_factory"] = core_factory
    return Environment(out=consoles["out"], err=consoles["err"], **env)


def invoke(env: Environment, *args: str) -> Run:
    """Run ``labctl ARGS`` with ``env``; a fresh pair of buffers each time."""
    for console in (env.out, env.err):
        console.file = io.StringIO()
    result = CliRunner().invoke(app, list(args), obj=env)
    return Run(result, _text(env.out), _text(env.err))


def _text(console: Console) -> str:
    file = console.file
    return file.getvalue() if isinstance(file, io.StringIO) else ""
