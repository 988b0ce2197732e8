"""Per-student secrets in report evidence: proof of one's own work, or a sign of copying.

Every student's instance carries its own secret values (flags, keys, passwords,
derived by :func:`labctl.spec.params.derive`). A finding whose evidence holds
one of the student's own values shows the student really did the work; a
report holding *another* student's value is flagged for the instructor.

Matching is case-insensitive. Hex values (keys) also match when written with
spaces, colons, dashes or ``0x`` between the bytes. Short values are ignored
(``MIN_OWN_LENGTH``, ``MIN_PEER_LENGTH``) and so are passwords drawn from a
word list when looking for copying: ``password`` in a report proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from graders.report.model import Finding, Report
from labctl.spec.models import Lab, PasswordParam

MIN_OWN_LENGTH: Final = 6
MIN_PEER_LENGTH: Final = 8
_HEX_RE: Final = re.compile(r"[0-9a-f]{16,}")
_HEX_NOISE_RE: Final = re.compile(r"0x|[\s:,\-]")


@dataclass(frozen=True)
class CheatingFlag:
    """Another student's secret value found in this report."""

    other_student: str
    secret: str  # the parameter's name, never its value
    where: str  # "finding 2" or "report"


class SearchText:
    """Text prepared once for many secret look-ups."""

    def __init__(self, text: str) -> None:
        self.lowered = text.lower()
        self.compact = _HEX_NOISE_RE.sub("", self.lowered)

    def holds(self, value: str) -> bool:
        wanted = value.lower()
        if wanted in self.lowered:
            return True
        return bool(_HEX_RE.fullmatch(wanted)) and wanted in self.compact


def own_secret_names(finding: Finding, own_secrets: Mapping[str, str]) -> list[str]:
    """Names of the student's own secrets that the finding's evidence holds."""
    if not finding.evidence:
        return []
    search = SearchText(finding.evidence)
    return [
        name
        for name, value in own_secrets.items()
        if len(value) >= MIN_OWN_LENGTH and search.holds(value)
    ]


def cheating_flags(
    lab: Lab,
    report: Report,
    own_secrets: Mapping[str, str],
    other_students_secrets: Mapping[str, Mapping[str, str]],
) -> list[CheatingFlag]:
    """Every (other student, secret) whose value appears anywhere in the report."""
    whole = SearchText(report.text)
    own_values = {v.lower() for v in own_secrets.values()}
    flags = []
    for student, secrets in other_students_secrets.items():
        for name, value in _distinctive(lab, secrets):
            if value.lower() not in own_values and whole.holds(value):
                flags.append(CheatingFlag(student, name, _where(report.findings, value)))
    return flags


def _distinctive(lab: Lab, secrets: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    for name, value in secrets.items():
        param = lab.parameters.get(name)
        from_wordlist = isinstance(param, PasswordParam) and param.wordlist is not None
        if len(value) >= MIN_PEER_LENGTH and not from_wordlist:
            yield name, value


def _where(findings: Iterable[Finding], value: str) -> str:
    for finding in findings:
        text = "\n".join(
            (finding.title, finding.description, finding.evidence, finding.recommendation)
        )
        if SearchText(text).holds(value):
            return f"finding {finding.number}"
    return "report"
