"""Roster parsing: strict, one-line errors naming file and line, hostile files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.errors import LabctlError
from labctl.sessions.roster import (
    MAX_BYTES,
    MAX_STUDENTS,
    RosterError,
    parse_roster,
    read_roster,
    units,
)

GOOD = b"id,name,email\nana.lima,Ana Lima,ana@example.edu\nbo,Bo Chen,bo@example.edu\n"


def error(data: bytes) -> str:
    with pytest.raises(RosterError) as caught:
        parse_roster(data, "class.csv")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_good_roster() -> None:
    roster = parse_roster(GOOD, "class.csv")
    assert [(s.id, s.name, s.email, s.team, s.line) for s in roster.students] == [
        ("ana.lima", "Ana Lima", "ana@example.edu", "", 2),
        ("bo", "Bo Chen", "bo@example.edu", "", 3),
    ]
    assert roster.students[0].key == "ana-lima"
    assert not roster.has_teams


def test_columns_in_any_order_a_bom_blank_rows_and_crlf() -> None:
    data = "\ufeffEmail,ID,Name,team\r\n\r\nana@example.edu,ana,Ána Lima,red\r\n".encode()
    (student,) = parse_roster(data).students
    assert (student.id, student.name, student.team, student.line) == ("ana", "Ána Lima", "red", 3)


def test_the_example_roster_reads(tmp_path: Path) -> None:
    roster = read_roster(Path(__file__).resolve().parents[2] / "docs/examples/roster.csv")
    assert len(roster.students) == 5
    assert not roster.has_teams


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"id,name\nana,Ana\n", "class.csv:1: missing column(s) email"),
        (b"id,name,email,phone\n", "class.csv:1: unknown column(s) 'phone'"),
        (b"id,name,email,id\n", "class.csv:1: column(s) id named twice"),
        (b"", "class.csv:1: empty"),
        (b"id,name,email\n\n", "class.csv:1: no student below the header"),
        (GOOD + b"Ana.Lima,Ana Again,a2@example.edu\n", "class.csv:4: duplicate student id"),
        (GOOD + b"cy,Cy\n", "class.csv:4: 2 field(s), but the header has 3"),
        (GOOD + b"cy,,cy@example.edu\n", "class.csv:4: name is empty"),
        (GOOD + b"cy,Cy,not-an-address\n", "class.csv:4: email 'not-an-address'"),
        (GOOD + b"../etc,Cy,cy@example.edu\n", "class.csv:4: id '../etc' may hold only"),
        (GOOD + b"c y,Cy,cy@example.edu\n", "class.csv:4: id 'c y' may hold only"),
        (GOOD + b'cy,"Cy\nEvil",cy@example.edu\n', "class.csv:4: a quoted field spans lines"),
        (GOOD + b"cy,Cy\x1b[31m,cy@example.edu\n", "class.csv:4: name has a control character"),
        (GOOD + b"cy,Cy\x00,cy@example.edu\n", "class.csv:4:"),
        (GOOD + b"cy," + b"C" * 300 + b",cy@example.edu\n", "class.csv:4: name is longer"),
        (GOOD + b"c" * 40 + b",Cy,cy@example.edu\n", "class.csv:4: id 'ccc"),
        (GOOD + b'cy,"Cy"x",cy@example.edu\n', "class.csv:4: not valid CSV"),
        (GOOD + b"cy,Caf\xe9,cy@example.edu\n", "class.csv:4: not UTF-8 (byte 0xe9)"),
    ],
)
def test_bad_rosters_name_file_and_line(data: bytes, expected: str) -> None:
    assert error(data).startswith(expected), error(data)


def test_too_many_students_and_too_large_files(tmp_path: Path) -> None:
    rows = b"".join(b"s%d,S,s%d@example.edu\n" % (i, i) for i in range(MAX_STUDENTS + 1))
    assert "more than" in error(b"id,name,email\n" + rows)
    big = tmp_path / "big.csv"
    big.write_bytes(b"id,name,email\n" + b"#" * MAX_BYTES)
    with pytest.raises(RosterError, match=r"big.csv:0: larger than"):
        read_roster(big)
    with pytest.raises(RosterError, match=r"missing.csv:0: cannot be read"):
        read_roster(tmp_path / "missing.csv")


def test_formula_like_names_stay_text() -> None:
    data = b'id,name,email\ncy,"=HYPERLINK(""x"")",cy@example.edu\n'
    assert parse_roster(data).students[0].name == '=HYPERLINK("x")'


FIVE = b"id,name,email\n" + b"".join(b"s%d,S %d,s%d@example.edu\n" % (i, i, i) for i in range(5))


def test_units_one_per_student_with_slots_in_roster_order() -> None:
    grouped = units(parse_roster(FIVE))
    assert [(u.key, u.slot, [s.id for s in u.students]) for u in grouped] == [
        (f"s{i}", i, [f"s{i}"]) for i in range(5)
    ]


def test_units_dealt_into_teams() -> None:
    grouped = units(parse_roster(FIVE), teams=2)
    assert [(u.key, u.slot, [s.id for s in u.students]) for u in grouped] == [
        ("team-1", 0, ["s0", "s2", "s4"]),
        ("team-2", 1, ["s1", "s3"]),
    ]
    with pytest.raises(LabctlError, match="between 1 and 5"):
        units(parse_roster(FIVE), teams=6)


def test_units_from_the_team_column() -> None:
    data = b"id,name,email,team\na,A,a@x.org,Red\nb,B,b@x.org,blue\nc,C,c@x.org,Red\n"
    grouped = units(parse_roster(data))
    assert [(u.key, [s.id for s in u.students]) for u in grouped] == [
        ("red", ["a", "c"]),
        ("blue", ["b"]),
    ]
    with pytest.raises(RosterError, match="drop --teams or the column"):
        units(parse_roster(data), teams=2)
    partial = b"id,name,email,team\na,A,a@x.org,red\nb,B,b@x.org,\n"
    with pytest.raises(RosterError, match=r"roster.csv:3: team is empty"):
        units(parse_roster(partial))
