"""A class roster: a CSV file naming the students (``id,name,email[,team]``), read strictly.

The first row is the header; its columns may come in any order, ``team`` is optional and
nothing else is accepted. Every student needs an id, a name and an e-mail address. Ids
become part of container and host names, so two ids that fold to the same slug
(``Ana.Lima`` and ``ana-lima``) are duplicates. The file is hostile input: it must be
UTF-8 (a byte-order mark is allowed), at most :data:`MAX_BYTES`, with at most
:data:`MAX_STUDENTS` rows, no field longer than :data:`MAX_FIELD` characters and no
control characters (a quoted field spanning lines is refused). Every problem is one
:class:`RosterError` naming ``file:line``.

:func:`units` groups the students into what gets one instance each: a student, or a team
(the roster's ``team`` column, or ``--teams N`` dealing students round-robin into
``team-1`` … ``team-N``). Each unit has a ``slot`` (0, 1, 2, … in roster order) that
keeps weak passwords unique within the class (see :mod:`labctl.spec.params`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labctl.errors import LabctlError
from labctl.instances.ids import slug

REQUIRED: Final = ("id", "name", "email")
OPTIONAL: Final = ("team",)
MAX_BYTES: Final = 1024 * 1024
MAX_STUDENTS: Final = 500
MAX_FIELD: Final = 200
#: A student id or team as it may appear in a name: letters, digits, . _ - (slugged later).
MAX_ID: Final = 24
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RosterError(LabctlError):
    """A roster file that cannot be used; the message names file and line."""

    exit_code = 2

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    email: str
    team: str = ""
    #: Line of the file the student is on (1 is the header).
    line: int = 0

    @property
    def key(self) -> str:
        """The id as it appears in instance names."""
        return slug(self.id)


@dataclass(frozen=True)
class Roster:
    path: str
    students: tuple[Student, ...]

    @property
    def has_teams(self) -> bool:
        return any(s.team for s in self.students)


@dataclass(frozen=True)
class Unit:
    """What gets one instance: one student, or one team."""

    key: str
    slot: int
    students: tuple[Student, ...]


def read_roster(path: Path) -> Roster:
    """Parse ``path``; RosterError naming file and line for anything wrong."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RosterError(path, 0, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise RosterError(path, 0, f"larger than {MAX_BYTES // 1024} KiB; is it a roster?")
    return parse_roster(data, str(path))


def parse_roster(data: bytes, path: str = "roster.csv") -> Roster:
    """Parse roster bytes (``path`` only names the file in errors)."""
    text = _decode(data, path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = list(_rows(reader, path))
    if not rows:
        raise RosterError(path, 1, f"empty; the first row must be the header {','.join(REQUIRED)}")
    header_line, header = rows[0]
    columns = _header(header, path, header_line)
    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, row in rows[1:]:
        if len(row) != len(columns):
            raise RosterError(path, line, f"{len(row)} field(s), but the header has {len(columns)}")
        fields = dict(zip(columns, row, strict=True))
        student = _student(fields, path, line)
        first = seen.setdefault(student.key, line)
        if first != line:
            raise RosterError(
                path, line, f"duplicate student id {student.id!r} (already on line {first})"
            )
        students.append(student)
        if len(students) > MAX_STUDENTS:
            raise RosterError(path, line, f"more than {MAX_STUDENTS} students")
    if not students:
        raise RosterError(path, header_line, "no student below the header")
    return Roster(path, tuple(students))


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterError(
            path, line, f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8 CSV"
        ) from None


def _rows(reader: Iterator[list[str]], path: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, fields), blank rows skipped."""
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RosterError(path, line, f"not valid CSV: {exc}") from None
        end = getattr(reader, "line_num", line)
        if end != line:
            raise RosterError(path, line, "a quoted field spans lines; put each student on one")
        if any(cell.strip() for cell in row):
            yield line, row
        line = end + 1


def _header(header: list[str], path: str, line: int) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in (*REQUIRED, *OPTIONAL)]
    if unknown:
        raise RosterError(
            path,
            line,
            f"unknown column(s) {', '.join(map(repr, unknown))}; "
            f"the header names {','.join(REQUIRED)} and optionally team",
        )
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RosterError(
            path,
            line,
            f"missing column(s) {', '.join(missing)}; the header must name "
            f"{','.join(REQUIRED)} (and optionally team)",
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise RosterError(path, line, f"column(s) {', '.join(repeated)} named twice")
    return columns


def _student(fields: dict[str, str], path: str, line: int) -> Student:
    for column, value in fields.items():
        if _CONTROL.search(value):
            raise RosterError(path, line, f"{column} has a control character or line break")
        if len(value) > MAX_FIELD:
            raise RosterError(path, line, f"{column} is longer than {MAX_FIELD} characters")
    values = {column: value.strip() for column, value in fields.items()}
    for column in REQUIRED:
        if not values[column]:
            raise RosterError(path, line, f"{column} is empty")
    _check_id(values["id"], "id", path, line)
    if values.get("team"):
        _check_id(values["team"], "team", path, line)
    if not _EMAIL.match(values["email"]):
        raise RosterError(path, line, f"email {values['email']!r} is not an e-mail address")
    return Student(values["id"], values["name"], values["email"], values.get("team", ""), line)


def _check_id(value: str, column: str, path: str, line: int) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        raise RosterError(
            path,
            line,
            f"{column} {value!r} may hold only letters, digits, '.', '_' and '-' "
            "(it becomes part of host names)",
        )
    if len(slug(value)) > MAX_ID:
        raise RosterError(path, line, f"{column} {value!r} is longer than {MAX_ID} characters")


def units(roster: Roster, teams: int | None = None) -> list[Unit]:
    """One unit per student, or per team: the roster's team column, or ``teams`` teams
    dealt round-robin in roster order. Slots follow the order of first appearance."""
    if teams is not None:
        if roster.has_teams:
            raise RosterError(
                roster.path, 1, "the roster has a team column; drop --teams or the column"
            )
        if not 1 <= teams <= len(roster.students):
            raise LabctlError(
                f"--teams {teams}: give between 1 and {len(roster.students)} "
                "(the number of students)"
            )
        grouped: dict[str, list[Student]] = {f"team-{i + 1}": [] for i in range(teams)}
        for i, student in enumerate(roster.students):
            grouped[f"team-{i % teams + 1}"].append(student)
    elif roster.has_teams:
        grouped = {}
        for student in roster.students:
            if not student.team:
                raise RosterError(
                    roster.path, student.line, "team is empty, but other students have one"
                )
            grouped.setdefault(slug(student.team), []).append(student)
    else:
        grouped = {s.key: [s] for s in roster.students}
    return [Unit(key, slot, tuple(members)) for slot, (key, members) in enumerate(grouped.items())]
