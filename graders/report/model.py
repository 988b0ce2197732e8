"""A parsed audit report: findings from the YAML front matter, prose sections from the body.

Parsing is lenient on purpose. A student's report is graded even when parts of
it are wrong: a field that cannot be read is left empty and explained in one
feedback line, and the rest of the finding still counts. A finding with a bad
CVSS vector is still a finding; it only earns no severity credit.

Every string kept here is student input. Nothing in this module renders it;
whoever shows it escapes it (Rich markup, HTML).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, get_args

from cvss import CVSS3  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict

from labctl.spec.models import SPARTA_TACTICS

Level = Literal["low", "medium", "high"]
Treatment = Literal["mitigate", "accept", "transfer", "avoid"]
LEVELS: Final[tuple[str, ...]] = get_args(Level)
TREATMENTS: Final[tuple[str, ...]] = get_args(Treatment)

#: Longest text kept per field; longer text is cut (and said so).
FIELD_LIMITS: Final = {
    "component": 100,
    "title": 300,
    "description": 20_000,
    "evidence": 20_000,
    "recommendation": 20_000,
}
MAX_COUNTERMEASURES: Final = 20
MAX_CVSS_LENGTH: Final = 200

_TECHNIQUE_RE: Final = re.compile(r"^(?P<tactic>[A-Z]{2,3})-\d{4}(?:\.\d{2})?$")
_CWE_RE: Final = re.compile(r"^(?:CWE)?[- ]?(\d{1,5})$", re.IGNORECASE)
_CM_RE: Final = re.compile(r"^CM\d{4}$")
_HTML_RE: Final = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
#: A word of prose: two or more letters (numbers, hex and punctuation do not count).
WORD_RE: Final = re.compile(r"[^\W\d_]{2,}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Risk(_Frozen):
    """A CISM-style risk entry: how likely, how bad, and what the organisation does about it."""

    likelihood: Level | None = None
    impact: Level | None = None
    treatment: Treatment | None = None


class Finding(_Frozen):
    """One finding as the student wrote it, with the problems met while reading it."""

    number: int  # from 1, in the order written
    line: int  # where the finding starts in the report
    component: str = ""
    title: str = ""
    #: What is wrong, how it works and what it allows, in the student's words (optional).
    description: str = ""
    sparta: str | None = None
    cwe: str | None = None
    cvss: str | None = None
    cvss_score: float | None = None
    evidence: str = ""
    recommendation: str = ""
    countermeasures: tuple[str, ...] = ()
    risk: Risk = Risk()
    problems: tuple[str, ...] = ()


class Section(_Frozen):
    """A Markdown section of the body: its heading and how much real text it holds."""

    title: str
    line: int
    words: int
    distinct_words: int


class Report(_Frozen):
    """Everything read from one report file."""

    lab: str | None = None
    student: str | None = None
    findings: tuple[Finding, ...] = ()
    sections: tuple[Section, ...] = ()
    text: str = ""  # the decoded, sanitised report (searched for other students' secrets)
    problems: tuple[str, ...] = ()  # report-level feedback: encoding, size, YAML, structure


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased."""
    return WORD_RE.findall(text.lower())


def show(value: object, limit: int = 60) -> str:
    """A short, quoted, control-character-free rendering of student input for feedback."""
    if isinstance(value, str):
        return repr(value[:limit] + ("…" if len(value) > limit else ""))
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


# --- field readers: raw YAML value -> (fields to set, problem or None) ---------------------

Fields = dict[str, Any]
Reader = Callable[[Any], tuple[Fields, str | None]]


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "\n".join(str(v) for v in value)
    return None


def _text_reader(name: str, *, lower: bool = False) -> Reader:
    limit = FIELD_LIMITS[name]

    def read(value: Any) -> tuple[Fields, str | None]:
        text = _as_text(value)
        if text is None:
            return {}, f"should be text, got {type(value).__name__}"
        text = text.strip().lower() if lower else text.strip()
        if len(text) > limit:
            return {name: text[:limit]}, f"longer than {limit} characters; the rest was ignored"
        return {name: text}, None

    return read


def _read_sparta(value: Any) -> tuple[Fields, str | None]:
    text = (_as_text(value) or "").strip().upper()
    match = _TECHNIQUE_RE.match(text)
    if not match or match["tactic"] not in SPARTA_TACTICS:
        return {}, f"{show(value)} is not a SPARTA technique id (like EX-0001 or EX-0001.01)"
    return {"sparta": text}, None


def _read_cwe(value: Any) -> tuple[Fields, str | None]:
    scalar = isinstance(value, str | int) and not isinstance(value, bool)
    match = _CWE_RE.match(str(value).strip()) if scalar else None
    if not match:
        return {}, f"{show(value)} is not a CWE id (like CWE-79)"
    return {"cwe": f"CWE-{int(match[1])}"}, None


def _read_cvss(value: Any) -> tuple[Fields, str | None]:
    text = value.strip() if isinstance(value, str) else ""
    if not text.upper().startswith("CVSS:3.") or len(text) > MAX_CVSS_LENGTH:
        return {}, f"{show(value)} is not a CVSS v3.1 vector (CVSS:3.1/AV:…/AC:…/…)"
    try:
        score = float(CVSS3(text).base_score)
    except (CVSSError, ValueError) as exc:  # the library raises CVSSError; be safe
        return {}, f"{show(text)} is not a valid CVSS v3.1 vector: {show(str(exc), 120)}"
    return {"cvss": text, "cvss_score": score}, None


def _read_countermeasures(value: Any) -> tuple[Fields, str | None]:
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list):
        return {}, "should be a list of SPARTA countermeasure ids, like [CM0031]"
    ids = [str(i).strip().upper() for i in items if str(i).strip()]
    good = tuple(dict.fromkeys(i for i in ids if _CM_RE.match(i)))[:MAX_COUNTERMEASURES]
    bad = [i for i in ids if not _CM_RE.match(i)]
    problem = f"not countermeasure ids (CM + 4 digits): {show(bad)}" if bad else None
    return {"countermeasures": good}, problem


def _read_risk(value: Any) -> tuple[Fields, str | None]:
    if not isinstance(value, Mapping):
        return {}, "should be a mapping with likelihood, impact and treatment"
    allowed = {"likelihood": LEVELS, "impact": LEVELS, "treatment": TREATMENTS}
    fields: Fields = {}
    problems: list[str] = []
    for key, raw in value.items():
        choices = allowed.get(str(key).lower())
        text = str(raw).strip().lower() if isinstance(raw, str) else None
        if choices is None:
            problems.append(f"unknown key {show(key)}")
        elif text not in choices:
            problems.append(f"{key} should be one of {'|'.join(choices)}, got {show(raw)}")
        else:
            fields[str(key).lower()] = text
    return {"risk": Risk(**fields)}, "; ".join(problems) or None


READERS: Final[dict[str, Reader]] = {
    "component": _text_reader("component", lower=True),
    "title": _text_reader("title"),
    "description": _text_reader("description"),
    "sparta": _read_sparta,
    "cwe": _read_cwe,
    "cvss": _read_cvss,
    "evidence": _text_reader("evidence"),
    "recommendation": _text_reader("recommendation"),
    "countermeasures": _read_countermeasures,
    "risk": _read_risk,
}
#: Other spellings students use for the same fields.
ALIASES: Final = {
    "host": "component",
    "technique": "sparta",
    "sparta_id": "sparta",
    "sparta_technique": "sparta",
    "cvss_vector": "cvss",
    "recommendations": "recommendation",
    "details": "description",
}
#: Missing fields worth a feedback line, and why they matter.
EXPECTED: Final = {
    "component": "the host is needed to match the finding",
    "title": "say what the weakness is",
    "sparta": "the technique id helps match the finding",
    "cwe": "the CWE id helps match the finding",
    "cvss": "no severity credit without a vector",
    "evidence": "no evidence credit without evidence",
    "recommendation": "no recommendation credit without one",
}


def read_finding(number: int, line: int, data: Mapping[Any, Any]) -> Finding:
    """Build a finding from one front-matter entry; bad fields become problems, not errors."""
    fields, given, problems = _read_fields(data)
    problems += [
        f"no {key}: {why}"
        for key, why in EXPECTED.items()
        if key not in given and not fields.get(key)
    ]
    problems += _html_warnings(fields)
    prefix = f"finding {number} (line {line})"
    return Finding(
        number=number, line=line, problems=tuple(f"{prefix}: {p}" for p in problems), **fields
    )


def _read_fields(data: Mapping[Any, Any]) -> tuple[Fields, set[str], list[str]]:
    """(fields read, names of the fields given, problems); a bad field is given but not read."""
    fields: Fields = {}
    given: set[str] = set()
    problems: list[str] = []
    for raw_key, value in data.items():
        key = str(raw_key).strip().lower()
        key = ALIASES.get(key, key)
        reader = READERS.get(key)
        if reader is None:
            problems.append(f"unknown field {show(raw_key)} ignored")
            continue
        got, problem = reader(value)
        fields.update(got)
        if problem:
            given.add(key)
            problems.append(f"{key}: {problem}")
    return fields, given, problems


def _html_warnings(fields: Fields) -> list[str]:
    marked = [
        k
        for k in ("component", "title", "description", "evidence", "recommendation")
        if k in fields
    ]
    html = [k for k in marked if _HTML_RE.search(fields[k])]
    if not html:
        return []
    return [f"HTML markup in {', '.join(html)} is kept as plain text and shown escaped"]
