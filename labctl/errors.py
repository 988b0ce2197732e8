"""The one exception tree of labctl.

Every error a user can cause or meet derives from :class:`LabctlError` and
carries the data needed to explain it in one line and say what to do next.
Only :mod:`labctl.cli` turns these into messages and exit statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LabctlError(Exception):
    """Root of every error labctl raises on purpose."""

    #: Process exit status the CLI uses for this kind of error.
    exit_code: int = 1

    def one_line(self) -> str:
        """The message the CLI prints (without traceback)."""
        return str(self)


@dataclass(frozen=True)
class SpecProblem:
    """One problem in one lab file: where it is, which field, what is wrong."""

    file: str
    line: int
    column: int
    field_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        if self.field_path:
            return f"{where}: {self.field_path}: {self.message}"
        return f"{where}: {self.message}"


class SpecError(LabctlError):
    """A lab specification is invalid. Holds every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        if not problems:
            raise ValueError("SpecError needs at least one problem")
        self.problems: tuple[SpecProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def file(self) -> str:
        return self.problems[0].file

    @property
    def line(self) -> int:
        return self.problems[0].line

    @property
    def column(self) -> int:
        return self.problems[0].column

    @property
    def field_path(self) -> str:
        return self.problems[0].field_path

    @property
    def message(self) -> str:
        return self.problems[0].message


class InputError(LabctlError):
    """A value given to labctl (an option, an argument, a name) that it cannot use: the
    message names the value and says what to give instead."""

    exit_code = 2


class NotFoundError(LabctlError):
    """A named thing (lab, instance, host, image) does not exist."""

    exit_code = 3

    def __init__(self, kind: str, name: str, hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.hint = hint
        text = f"no {kind} named {name!r}"
        super().__init__(f"{text}; {hint}" if hint else text)


class BackendError(LabctlError):
    """The container engine refused or failed an operation."""

    exit_code = 4

    def __init__(self, operation: str, detail: str, hint: str = "") -> None:
        self.operation = operation
        self.detail = detail
        self.hint = hint
        text = f"{operation} failed: {detail}"
        super().__init__(f"{text} ({hint})" if hint else text)


class CheckError(LabctlError):
    """A grader check could not run (as opposed to running and failing)."""

    exit_code = 5

    def __init__(self, check: str, detail: str) -> None:
        self.check = check
        self.detail = detail
        super().__init__(f"check {check!r}: {detail}")


class ProtocolError(LabctlError, ValueError):
    """Bytes that do not decode as the protocol says. Raised for hostile input.

    Decoders raise only this (never IndexError, struct.error, ...), so a
    service reading from the network can catch one type and carry on.
    """

    exit_code = 6
