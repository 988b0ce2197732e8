"""The grade of one report, and the two ways of looking at it.

The instructor view is the record: which finding matched which injected
weakness, the reference severities, what was missed, and any cheating flags.
The student view keeps the ground truth back: matches carry the student's own
finding number and the reasons, missed weaknesses are only counted, reference
severities and cheating flags are left out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from graders.report.evidence import CheatingFlag


@dataclass(frozen=True)
class PartScore:
    """One rubric part: its weight, the fraction earned (None: not assessable here), points."""

    name: str
    weight: int
    score: float | None
    points: float


@dataclass(frozen=True)
class MatchedFinding:
    """A finding that matched an injected weakness, and what it earned there."""

    finding: int
    weakness: str
    match_score: float
    credit: float
    reasons: tuple[str, ...]
    severity_student: float | None
    severity_reference: float | None
    severity_credit: float | None
    recommendation_credit: float
    countermeasures_named: tuple[str, ...]
    evidence_credit: float
    #: How the finding is substantiated: "evidence", "description"; empty when it is not
    #: (then it earns a quarter of its credit and no severity or recommendation credit).
    substantiated_by: tuple[str, ...] = ()
    #: The weakness's technical terms the finding names (countermeasures, keywords).
    technical_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvidenceHit:
    """The student's own secret (by name, never by value) found in a finding's evidence."""

    finding: int
    secret: str


@dataclass(frozen=True)
class SectionScore:
    """A required prose section: the heading that supplied it, its words and its credit."""

    required: str
    heading: str | None
    words: int
    credit: float


@dataclass(frozen=True)
class ReportGrade:
    """Everything the report grader concluded about one report."""

    lab: str
    objective: str | None
    points: float
    points_possible: int
    parts: tuple[PartScore, ...]
    findings: int
    matched: tuple[MatchedFinding, ...]
    missed: tuple[str, ...]
    false_findings: tuple[int, ...]
    evidence_hits: tuple[EvidenceHit, ...]
    cheating: tuple[CheatingFlag, ...]
    sections: tuple[SectionScore, ...]
    feedback: tuple[str, ...]

    def part(self, name: str) -> PartScore:
        return next(p for p in self.parts if p.name == name)

    def instructor_view(self) -> dict[str, Any]:
        """Everything, ground truth included: for the instructor and the score record."""
        return dataclasses.asdict(self)

    def student_view(self) -> dict[str, Any]:
        """What the student may see: no weakness ids, reference scores or cheating flags."""
        return {
            "lab": self.lab,
            "points": self.points,
            "points_possible": self.points_possible,
            "parts": [dataclasses.asdict(p) for p in self.parts],
            "findings": self.findings,
            "matched": [_student_match(m) for m in self.matched],
            "missed_count": len(self.missed),
            "false_findings": list(self.false_findings),
            "evidence_hits": [dataclasses.asdict(h) for h in self.evidence_hits],
            "sections": [dataclasses.asdict(s) for s in self.sections],
            "feedback": list(self.feedback),
        }


def _student_match(match: MatchedFinding) -> dict[str, Any]:
    return {
        "finding": match.finding,
        "credit": match.credit,
        "reasons": list(match.reasons),
        "severity_credit": match.severity_credit,
        "recommendation_credit": match.recommendation_credit,
        "evidence_credit": match.evidence_credit,
        "substantiated_by": list(match.substantiated_by),
    }
