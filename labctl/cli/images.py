"""``labctl images``: build, list, save and load the lab images (Docker engine)."""

from __future__ import annotations

import threading
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from labctl.backends.base import ImageInfo
from labctl.cli.context import environment
from labctl.cli.params import path_argument
from labctl.core.events import Event, Kind

app = typer.Typer(help="Build, list, save and load the lab images.", no_args_is_help=True)


class ImageArch(StrEnum):
    """The CPU architectures labctl builds images for (labctl.backends.docker.arch)."""

    amd64 = "amd64"
    arm64 = "arm64"


BUILD_DONE = ("built ", "up to date", "base image ")


#: Progress messages that begin so are printed as lines of their own (labctl.backends).
WARNING = "warning:"


class SubjectProgress:
    """One line per subject (image, host) showing its latest message; done on a final word.

    Fed by the ``(subject, message)`` callbacks of the lower layers. Thread-safe: images
    build and hosts start in worker threads.
    """

    def __init__(self, console: Console, done: Collection[str], steps: int | None = None) -> None:
        columns = [SpinnerColumn(), TextColumn("[bold]{task.fields[subject]:<16}")]
        if steps is not None:
            columns.append(BarColumn(bar_width=12))
        columns += [TimeElapsedColumn(), TextColumn("{task.description}")]
        self.progress = Progress(*columns, console=console)
        self.done = tuple(done)
        self.steps = steps
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> SubjectProgress:
        self.progress.start()
        return self

    def __exit__(self, *failure: object) -> None:
        self.progress.stop()

    def event(self, event: Event) -> None:
        """A core event: a note as a line of its own, a step on its subject's line."""
        if event.kind is Kind.NOTE:
            self.progress.console.print(escape(event.message))
        elif event.kind is Kind.STEP:
            self(event.subject, event.message)

    def __call__(self, subject: str, message: str) -> None:
        line = escape(" ".join(message.split())[:90])
        if message.startswith(WARNING):
            # A line of its own that stays on screen, not a step of the subject's bar.
            self.progress.console.print(f"[yellow]{escape(subject)}: {line}[/]")
            return
        with self._lock:
            task = self._tasks.get(subject)
            if task is None:
                task = self.progress.add_task(line, subject=subject, total=self.steps)
                self._tasks[subject] = task
            self.progress.update(task, description=line, advance=1 if self.steps else 0)
            if message.startswith(self.done):
                self.progress.update(task, total=self.steps or 1, completed=self.steps or 1)


@app.command()
def build(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even the images that are up to date.")
    ] = False,
    arch: Annotated[
        ImageArch | None,
        typer.Option(
            "--arch",
            help="CPU architecture to build for (default: the engine's own). Another one"
            " needs qemu-user-static on this machine and replaces the images of"
            " LABCTL_IMAGE_TAG: give it its own tag.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the base, runtime and host images (only what changed, unless --force)."""
    env = environment(ctx)
    backend = env.core.backend
    with SubjectProgress(env.err, BUILD_DONE) as progress:
        backend.build_images(progress, force=force, arch=arch.value if arch else None)
    _print_images(env.out, backend.list_images())


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the lab images: present, current or stale."""
    env = environment(ctx)
    _print_images(env.out, env.core.backend.list_images())


def _print_images(out: Console, images: list[ImageInfo]) -> None:
    columns = ("role", "tag", "arch", "state", "size")
    table = Table(*columns, title="labctl images", title_justify="left")
    colour = {"current": "green", "stale": "yellow", "missing": "red", "unknown": "yellow"}
    for info in images:
        size = f"{info.size_mb:.0f} MB" if info.size_mb is not None else "-"
        state = f"[{colour.get(info.state, 'white')}]{info.state}[/]"
        table.add_row(info.role, info.tag, info.arch or "-", state, size)
    out.print(table)


#: The images' archive: what `save` writes (a `docker save` tar) and `load` reads.
ArchiveArg = Annotated[
    Path, path_argument("PATH", "The images' archive (a `docker save` tar).", folder=False)
]


@app.command()
def save(ctx: typer.Context, path: ArchiveArg) -> None:
    """Save every labctl image into one archive, for rooms without a network."""
    env = environment(ctx)
    columns = (SpinnerColumn(), TextColumn("saving"), DownloadColumn(), TimeElapsedColumn())
    with Progress(*columns, console=env.err) as progress:
        task = progress.add_task("save", total=None)
        tags = env.core.backend.save_images(
            path, lambda written: progress.update(task, completed=written)
        )
    env.out.print(f"saved {len(tags)} images to {escape(str(path))}: {', '.join(tags)}")


@app.command()
def load(ctx: typer.Context, path: ArchiveArg) -> None:
    """Load images from an archive written by `labctl images save`."""
    env = environment(ctx)
    with SubjectProgress(env.err, ("Loaded",)) as progress:
        loaded = env.core.backend.load_images(path, progress)
    env.out.print(f"loaded {len(loaded)} images: {', '.join(loaded)}")
