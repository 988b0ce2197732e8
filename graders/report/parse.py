"""Read a report file: bytes in, a :class:`~graders.report.model.Report` out, never an exception.

A report is Markdown with YAML front matter::

    ---
    lab: tc-replay
    findings:
      - component: spacecraft
        ...
    ---
    # Executive summary
    ...

Hostile input is expected: the first :data:`MAX_REPORT_BYTES` are read, bytes
that are not UTF-8 are replaced (and said so), control characters are dropped
(they could drive the instructor's terminal), the YAML goes through labctl's
bounded safe reader (no tags, no alias bombs, no deep nesting), and every scan
over the body is linear in its size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from graders.report.model import Finding, Report, Section, read_finding, show, words
from labctl.errors import LabctlError, NotFoundError
from labctl.spec.yamlsource import YamlDocument, format_path, parse_yaml_text

MAX_REPORT_BYTES: Final = 1 << 20
MAX_FINDINGS: Final = 50
FRONT_MATTER_KEYS: Final = ("lab", "student", "findings")

#: C0 and C1 controls but tab and newline, and bidirectional overrides (they disguise text).
_CONTROL_RE: Final = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_HEADING_RE: Final = re.compile(r" {0,3}(#{1,6})(?:[ \t](.*))?")
_FENCE_RE: Final = re.compile(r"^ {0,3}(```|~~~)")
_NUMBERING_RE: Final = re.compile(r"^[\d.\s]+|[*_`:]+")


@dataclass
class _Reading:
    """What one parse has gathered so far."""

    problems: list[str] = field(default_factory=list)
    lab: str | None = None
    student: str | None = None
    findings: list[Finding] = field(default_factory=list)


def read_report_file(path: Path) -> bytes:
    """The first ``MAX_REPORT_BYTES + 1`` bytes of ``path`` (enough to tell that it is too big)."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise NotFoundError("report file", str(path)) from None
    except OSError as exc:
        raise LabctlError(f"cannot read report {path}: {exc.strerror or exc}") from None


def parse_report(data: bytes | str) -> Report:
    """Parse a whole report. Problems become feedback lines in ``Report.problems``."""
    reading = _Reading()
    text = _sanitise(_decode(data, reading), reading)
    front, offset, body = _split_front_matter(text, reading)
    if front is not None:
        _read_front_matter(front, offset, reading)
    return Report(
        lab=reading.lab,
        student=reading.student,
        findings=tuple(reading.findings),
        sections=tuple(read_sections(body, first_line=offset + _count_lines(front))),
        text=text,
        problems=tuple(reading.problems),
    )


# --- bytes -> text ----------------------------------------------------------------------------


def _decode(data: bytes | str, reading: _Reading) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", errors="replace")
    if len(data) > MAX_REPORT_BYTES:
        reading.problems.append(
            f"the report is larger than {MAX_REPORT_BYTES // 1024} KiB;"
            " only the first part was read"
        )
        data = _cut_at_character(data[:MAX_REPORT_BYTES])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reading.problems.append(
            f"line {line}: the report is not valid UTF-8; undecodable bytes were replaced by �"
        )
        return data.decode("utf-8", errors="replace")


def _cut_at_character(data: bytes) -> bytes:
    """Drop a UTF-8 sequence cut in half at the end of ``data``."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # a lead byte: keep it only if its sequence is complete
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if needed <= back else data[:-back]
    return data


def _sanitise(text: str, reading: _Reading) -> str:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cleaned, count = _CONTROL_RE.subn("", text)
    if count:
        reading.problems.append(f"{count} control character(s) were removed from the report")
    return cleaned


# --- front matter -----------------------------------------------------------------------------


def _split_front_matter(text: str, reading: _Reading) -> tuple[str | None, int, str]:
    """(front matter, line number of its opening ``---``, body)."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or lines[start].rstrip() != "---":
        reading.problems.append(
            "no YAML front matter: the report must start with a line '---', then the findings,"
            " then another '---' (use 'labctl report template'); no findings were read"
        )
        return None, 0, text
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].rstrip() in ("---", "...")), None
    )
    if end is None:
        reading.problems.append(
            f"line {start + 1}: the front matter is not closed by a line '---';"
            " no findings were read"
        )
        return None, 0, text
    front = "\n".join(lines[start + 1 : end])
    return front, start + 1, "\n".join(lines[end + 1 :])


def _count_lines(front: str | None) -> int:
    return 0 if front is None else front.count("\n") + 2


def _read_front_matter(front: str, offset: int, reading: _Reading) -> None:
    if not front.strip():
        reading.problems.append(f"line {offset}: the front matter is empty; no findings were read")
        return
    doc, problems = parse_yaml_text(front, "front matter")
    for problem in problems:
        where = f"line {offset + problem.line}"
        what = f"{problem.field_path}: {problem.message}" if problem.field_path else problem.message
        reading.problems.append(f"{where}: {what}")
    if doc.data is None:
        reading.problems.append("the front matter could not be read; no findings were read")
        return
    if not isinstance(doc.data, Mapping):
        reading.problems.append(
            f"line {offset + 1}: the front matter should be a mapping"
            " (lab, student, findings); no findings were read"
        )
        return
    _read_top_level(doc, offset, reading)


def _read_top_level(doc: YamlDocument, offset: int, reading: _Reading) -> None:
    data: Mapping[str, Any] = doc.data
    for key in data:
        if key not in FRONT_MATTER_KEYS:
            line = offset + doc.position((key,), at_key=True).line
            reading.problems.append(f"line {line}: unknown front-matter key {show(key)} ignored")
    reading.lab = _short_text(data.get("lab"))
    reading.student = _short_text(data.get("student"))
    findings = data.get("findings")
    if findings is None:
        reading.problems.append("the front matter has no 'findings' list")
    elif not isinstance(findings, list):
        line = offset + doc.position(("findings",)).line
        reading.problems.append(f"line {line}: 'findings' should be a list of findings")
    else:
        reading.findings = list(_findings(doc, findings, offset, reading))


def _short_text(value: Any) -> str | None:
    return value.strip()[:100] if isinstance(value, str) and value.strip() else None


def _findings(
    doc: YamlDocument, entries: list[Any], offset: int, reading: _Reading
) -> Iterator[Finding]:
    if len(entries) > MAX_FINDINGS:
        reading.problems.append(
            f"the report lists {len(entries)} findings; only the first {MAX_FINDINGS} were read"
        )
    number = 0
    for index, entry in enumerate(entries[:MAX_FINDINGS]):
        line = offset + doc.position(("findings", index)).line
        if not isinstance(entry, Mapping):
            where = format_path(("findings", index))
            reading.problems.append(f"line {line}: {where} is not a mapping of fields; skipped")
            continue
        number += 1
        yield read_finding(number, line, entry)


# --- body -------------------------------------------------------------------------------------


def strip_html_comments(text: str) -> str:
    """Remove ``<!-- … -->`` (an unclosed one runs to the end). Linear in ``len(text)``."""
    parts: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) != -1:
        parts.append(text[position:start])
        end = text.find("-->", start + 4)
        if end == -1:
            return "".join(parts)
        # keep the line count so section line numbers stay true
        parts.append("\n" * text.count("\n", start, end))
        position = end + 3
    parts.append(text[position:])
    return "".join(parts)


def normalise_heading(title: str) -> str:
    """``"2. **Executive Summary:**"`` → ``"executive summary"``."""
    return " ".join(_NUMBERING_RE.sub(" ", title).lower().split())


def read_sections(body: str, first_line: int = 0) -> list[Section]:
    """ATX headings of ``body`` (outside code fences), each with the words under it.

    A section runs to the next heading of the same or a higher level, so its
    subsections count towards it. Text in HTML comments does not count.
    """
    lines = strip_html_comments(body).split("\n")
    headings = list(_headings(lines))
    prose_lines = list(lines)
    for index, _, _ in headings:  # heading text is not prose
        prose_lines[index] = ""
    sections = []
    for i, (index, level, title) in enumerate(headings):
        end = next((h[0] for h in headings[i + 1 :] if h[1] <= level), len(lines))
        prose = words("\n".join(prose_lines[index + 1 : end]))
        sections.append(
            Section(
                title=title[:200],
                line=first_line + index + 1,
                words=len(prose),
                distinct_words=len(set(prose)),
            )
        )
    return sections


def _headings(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    fenced = False
    for index, line in enumerate(lines):
        if _FENCE_RE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING_RE.fullmatch(line)
        if match:
            yield index, len(match[1]), _heading_text(match[2] or "")


def _heading_text(raw: str) -> str:
    """Heading text without its optional closing ``#`` sequence (plain string work: no regex
    backtracking on hostile lines)."""
    text = raw.strip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        text = bare.rstrip()
    return text
