"""Arguments and options shared by several commands, each bounded at the edge: integers to
what the core can hold, names and ids never empty (the core says what to give)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from labctl.errors import InputError
from labctl.instances.ids import non_blank
from labctl.instances.leases import parse_duration
from labctl.instances.lifecycle import SEED_MAX
from labctl.sessions.roster import MAX_STUDENTS

#: Lines `labctl logs` asks for at most (a host's log is rotated at a few MiB anyway).
MAX_TAIL: Final = 100_000
#: Instances started or graded at once by a class command.
MAX_PARALLEL: Final = 16
#: ``session grade --parallel``: grading is mostly waiting, so a whole class at once.
MAX_GRADE_PARALLEL: Final = 64
#: A roster slot: 0 .. one less than the most students a roster may hold.
MAX_SLOT: Final = MAX_STUDENTS - 1
__all__ = ["MAX_GRADE_PARALLEL", "MAX_PARALLEL", "MAX_SLOT", "MAX_STUDENTS", "MAX_TAIL", "SEED_MAX"]


def given(what: str, give: str) -> Callable[[str | None], str | None]:
    """A callback refusing an empty or blank value of ``what`` (None: not given)."""

    def check(value: str | None) -> str | None:
        return None if value is None else non_blank(value, what, give)

    return check


def given_all(what: str, give: str) -> Callable[[list[str] | None], list[str] | None]:
    """:func:`given` for a repeatable option."""

    def check(values: list[str] | None) -> list[str] | None:
        for value in values or ():
            non_blank(value, what, give)
        return values

    return check


def path_parser(what: str, *, folder: bool | None = None) -> Callable[[str], Path]:
    """A parser refusing an empty path (which would silently mean the current folder) and,
    when ``folder`` is True or False, an existing path of the wrong kind."""

    def parse(text: str) -> Path:
        path = Path(non_blank(text, what, "a path"))
        if folder is True and path.exists() and not path.is_dir():
            raise InputError(f"{what} {text!r} is a file; give a folder")
        if folder is False and path.is_dir():
            raise InputError(f"{what} {text!r} is a folder; give a file")
        return path

    return parse


def argument(metavar: str, help: str, give: str) -> Any:
    """A positional argument that refuses a blank value, saying what to ``give``."""
    return typer.Argument(metavar=metavar, help=help, callback=given(metavar, give))


def path_option(*names: str, help: str, folder: bool | None = None) -> Any:
    """A path option refusing an empty path and, with ``folder``, one of the wrong kind."""
    return typer.Option(*names, help=help, parser=path_parser(names[0], folder=folder))


def path_argument(metavar: str, help: str, folder: bool | None = None) -> Any:
    """:func:`path_option` for a positional argument."""
    return typer.Argument(metavar=metavar, help=help, parser=path_parser(metavar, folder=folder))


LabArg = Annotated[
    str,
    argument("LAB", "Lab id, e.g. tc-replay.", give="a lab id (see labctl labs list)"),
]
InstanceArg = Annotated[
    str,
    argument("INSTANCE", "Instance id.", give="an instance id (see labctl status)"),
]
HostArg = Annotated[
    str,
    argument("HOST", "Host name.", give="a host name such as attacker (see labctl status)"),
]
SessionArg = Annotated[
    str,
    argument("SESSION", "Session name.", give="a session name (see labctl session list)"),
]
StudentArg = Annotated[
    str,
    argument(
        "STUDENT",
        "Student id (roster).",
        give="a student id of the roster (see labctl session status)",
    ),
]


def duration_option(*names: str, help: str) -> Any:
    """A duration option ("4h", "90m", "1h30m", "2d", "0" for none) parsed to seconds."""
    return typer.Option(
        *names, help=help, metavar="DURATION", parser=lambda text: parse_duration(text, names[0])
    )


LifetimeOption = Annotated[
    int | None,
    duration_option(
        "--lifetime",
        help="How long the instance may run before `labctl gc` removes it (home kept),"
        " e.g. 4h; renewable; 0 for no end.",
    ),
]
IdleOption = Annotated[
    int | None,
    duration_option(
        "--idle-stop",
        help="Stop the instance (home kept) after this long without its student's activity"
        " in the portal, e.g. 1h; 0 for never.",
    ),
]
