"""The environment a run of the CLI talks to: its consoles, its settings, the core.

As httpie does, ``main`` builds one :class:`Environment` and hands it to the command
through Click's context object; a command reaches it with :func:`environment`. A test
builds its own (consoles on buffers, a core on an in-memory backend) and passes it as
``CliRunner.invoke(app, args, obj=env)``: nothing patches module globals.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from labctl.core.api import Core
from labctl.core.settings import Settings


def replace_process(argv: list[str]) -> None:
    """Become ``argv`` (an interactive shell gets the user's terminal this way)."""
    os.execvp(argv[0], argv)


def stdout_console() -> Console:
    # emoji=False: ":ab:" in a key fingerprint or a student's name stays text
    return Console(highlight=False, soft_wrap=True, emoji=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


@dataclass
class Environment:
    #: Results: tables, score summaries, what a command was asked for.
    out: Console = field(default_factory=stdout_console)
    #: Progress, warnings and errors.
    err: Console = field(default_factory=stderr_console)
    #: Where ``LABCTL_*`` settings come from (the process environment by default).
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: Builds the core from the settings; a test gives one on fakes.
    core_factory: Callable[[Settings], Core] = Core
    #: Runs an interactive program in place of labctl (``labctl shell``).
    exec_program: Callable[[list[str]], None] = replace_process
    debug: bool = False
    #: ``--labs-dir`` as given (None: the settings decide).
    labs_dir: Path | None = None
    _core: Core | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return Settings.resolve(self.labs_dir, self.environ)

    @property
    def core(self) -> Core:
        """The core, built on first use (after the root options are parsed)."""
        if self._core is None:
            self._core = self.core_factory(self.settings)
        return self._core

    def labs(self) -> Path:
        return self.settings.labs_dir

    def write(self, text: str) -> None:
        """``text`` to standard output as it is (JSON, CSV, Markdown): no markup, no wrapping."""
        self.out.file.write(text)
        self.out.file.flush()


def environment(ctx: typer.Context) -> Environment:
    """The run's environment: the one given to the app (``obj=``), else a default one."""
    root = ctx.find_root()
    if not isinstance(root.obj, Environment):
        root.obj = Environment()
    return root.obj
