"""Grade an audit report against the lab's ground truth: the weaknesses its scenario injected.

The report objective's points split between five rubric parts, weighted by
``report.weights`` in lab.yaml. Each part earns a fraction from 0 to 1.

A matched finding must be *substantiated* (:mod:`graders.report.substance`): its
evidence earns the evidence credit below, or it describes the weakness technically
(``MIN_DESCRIPTION_WORDS`` different words beyond its title, naming a countermeasure
or a keyword of the weakness). An unsubstantiated match earns
``UNSUBSTANTIATED_CREDIT`` of its findings credit and no severity or recommendation
credit, so copied titles and ids alone earn next to nothing.

findings
    Each injected weakness is worth one; a matched weakness earns the match's
    credit (:mod:`graders.report.matching`), a quarter of it when the finding is
    not substantiated. Every finding that matches nothing costs
    ``FALSE_FINDING_PENALTY`` of a weakness. Divided by the number of
    weaknesses, floored at 0.
severity
    Over the weaknesses that have a reference CVSS vector, for substantiated
    findings: the base score of the student's vector within ``SEVERITY_FULL`` of
    the reference earns 1, within ``SEVERITY_HALF`` earns 0.5.
recommendations
    Per weakness, for substantiated findings: 1 when the matched finding names an
    accepted countermeasure, by id (in ``countermeasures:`` or the text) or by
    name or keyword; for a weakness without accepted countermeasures, any
    recommendation of ``MIN_RECOMMENDATION_WORDS`` words or more.
evidence
    Per weakness: 1 when the matched finding's evidence holds one of the
    student's own secret values; 0 when it holds another student's. In a lab
    without secrets, evidence of ``MIN_EVIDENCE_WORDS`` words or more.
prose
    Per required section: 1 when a heading names it and at least
    ``MIN_SECTION_WORDS`` words (``MIN_SECTION_DISTINCT`` different ones) follow.

A part that cannot be assessed in a lab (no weaknesses, no reference vectors,
no required sections) is left out and the other weights are scaled up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from cvss import CVSS3  # type: ignore[import-untyped]

from graders.report import countermeasures
from graders.report.evidence import (
    MIN_OWN_LENGTH,
    CheatingFlag,
    cheating_flags,
    own_secret_names,
)
from graders.report.matching import Pairing, assign
from graders.report.model import Finding, Report, show, words
from graders.report.parse import normalise_heading, parse_report
from graders.report.result import (
    EvidenceHit,
    MatchedFinding,
    PartScore,
    ReportGrade,
    SectionScore,
)
from graders.report.substance import (
    MIN_DESCRIPTION_WORDS,
    UNSUBSTANTIATED_CREDIT,
    Substance,
    assess,
)
from labctl.spec.models import Lab, ObjectiveKind, Weakness

FALSE_FINDING_PENALTY: Final = 0.25
SEVERITY_FULL: Final = 1.0
SEVERITY_HALF: Final = 2.0
MIN_RECOMMENDATION_WORDS: Final = 8
MIN_EVIDENCE_WORDS: Final = 10
MIN_SECTION_WORDS: Final = 30
MIN_SECTION_DISTINCT: Final = 15
PARTS: Final = ("findings", "severity", "recommendations", "evidence", "prose")


@dataclass
class _Grading:
    """State of one grading run: the inputs, and the feedback gathered so far."""

    lab: Lab
    report: Report
    own_secrets: Mapping[str, str]
    cheating: list[CheatingFlag]
    feedback: list[str] = field(default_factory=list)


def grade_report(
    lab: Lab,
    report_text: bytes | str,
    own_secrets: Mapping[str, str],
    other_students_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> ReportGrade:
    """Grade one report. Never raises on a bad report: problems become feedback lines."""
    return grade_parsed(lab, parse_report(report_text), own_secrets, other_students_secrets)


def grade_parsed(
    lab: Lab,
    report: Report,
    own_secrets: Mapping[str, str],
    other_students_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> ReportGrade:
    """Grade a report that :func:`~graders.report.parse.parse_report` has already read."""
    flags = cheating_flags(lab, report, own_secrets, other_students_secrets or {})
    grading = _Grading(lab, report, own_secrets, flags)
    grading.feedback += _report_feedback(lab, report)
    pairings = assign(report.findings, lab.weaknesses)
    matched = tuple(_matched(grading, p) for p in pairings)
    false = tuple(f.number for f in report.findings if f.number not in {m.finding for m in matched})
    grading.feedback += _unmatched_feedback(lab, report, matched, false)
    sections = tuple(_section(grading, name) for name in lab.report.required_sections)
    scores = _part_scores(lab, pairings, matched, false, sections)
    return _assemble(grading, scores, matched, false, sections)


def _report_feedback(lab: Lab, report: Report) -> list[str]:
    lines = list(report.problems)
    if report.lab is not None and report.lab != lab.id:
        lines.append(f"the front matter names lab {show(report.lab)}; graded against {lab.id!r}")
    hosts = lab.hosts()
    for finding in report.findings:
        lines += finding.problems
        if finding.component and finding.component not in hosts:
            lines.append(
                f"finding {finding.number}: component {show(finding.component)} is not a host"
                f" of this lab ({', '.join(sorted(hosts))})"
            )
    return lines


# --- per matched finding ----------------------------------------------------------------------


def _matched(grading: _Grading, pairing: Pairing) -> MatchedFinding:
    finding, weakness = pairing.finding, pairing.weakness
    evidence, evidence_line = _evidence(grading, finding)
    substance = assess(finding, weakness, evidence)
    credit = pairing.pair.credit * (1.0 if substance.substantiated else UNSUBSTANTIATED_CREDIT)
    grading.feedback.append(
        f"finding {finding.number} matches an injected weakness"
        f" ({', '.join(pairing.pair.reasons)}): {credit:.0%} of a finding"
    )
    grading.feedback.append(_substance_feedback(finding.number, substance))
    if substance.substantiated:
        student, reference, severity = _severity(grading, finding, weakness)
        recommendation, named = _recommendation(grading, finding, weakness)
    else:
        student, reference = finding.cvss_score, _reference_score(weakness)
        severity = None if reference is None else 0.0
        recommendation, named = 0.0, ()
    if evidence_line:
        grading.feedback.append(evidence_line)
    return MatchedFinding(
        finding=finding.number,
        weakness=weakness.id,
        match_score=pairing.pair.score,
        credit=round(credit, 3),
        reasons=pairing.pair.reasons,
        severity_student=student,
        severity_reference=reference,
        severity_credit=severity,
        recommendation_credit=recommendation,
        countermeasures_named=named,
        evidence_credit=evidence,
        substantiated_by=substance.by,
        technical_terms=substance.terms,
    )


def _substance_feedback(number: int, substance: Substance) -> str:
    if substance.substantiated:
        how = " and ".join(
            {"evidence": "its evidence", "description": "its technical description"}[way]
            for way in substance.by
        )
        return f"finding {number} is substantiated by {how}"
    missing = []
    if substance.new_words < MIN_DESCRIPTION_WORDS:
        missing.append(f"{substance.new_words} different words beyond the title")
    if not substance.terms:
        missing.append("no technical term of the weakness")
    return (
        f"finding {number} matches a weakness but is not substantiated"
        f" ({'; '.join(missing)}): add evidence from your own instance (a value you"
        " captured) or a technical description (what is wrong, how it works, how to fix it:"
        f" at least {MIN_DESCRIPTION_WORDS} different words beyond the title). Until then it"
        f" earns {UNSUBSTANTIATED_CREDIT:.0%} of its finding credit and no severity or"
        " recommendation credit"
    )


def _reference_score(weakness: Weakness) -> float | None:
    return None if weakness.cvss is None else float(CVSS3(weakness.cvss).base_score)


def _severity(
    grading: _Grading, finding: Finding, weakness: Weakness
) -> tuple[float | None, float | None, float | None]:
    reference = _reference_score(weakness)
    if reference is None:
        return finding.cvss_score, None, None
    student = finding.cvss_score
    number = finding.number
    if student is None:
        grading.feedback.append(f"finding {number}: no valid CVSS vector, no severity credit")
        return None, reference, 0.0
    gap = abs(student - reference)
    credit = 1.0 if gap <= SEVERITY_FULL else 0.5 if gap <= SEVERITY_HALF else 0.0
    verdict = {1.0: "within 1.0 of", 0.5: "within 2.0 of", 0.0: "more than 2.0 away from"}
    grading.feedback.append(
        f"finding {number}: CVSS base score {student:.1f} is {verdict[credit]} the reference"
        f" score: {credit:.0%} severity credit"
    )
    return student, reference, credit


def _recommendation(
    grading: _Grading, finding: Finding, weakness: Weakness
) -> tuple[float, tuple[str, ...]]:
    number = finding.number
    if not weakness.countermeasures:
        enough = len(words(finding.recommendation)) >= MIN_RECOMMENDATION_WORDS
        if not enough:
            grading.feedback.append(
                f"finding {number}: the recommendation is missing or too short"
                f" (at least {MIN_RECOMMENDATION_WORDS} words)"
            )
        return (1.0 if enough else 0.0), ()
    named = _named_countermeasures(finding, weakness.countermeasures)
    if named:
        grading.feedback.append(
            f"finding {number}: the recommendation names or describes an accepted countermeasure"
            f" ({', '.join(named)})"
        )
        return 1.0, named
    grading.feedback.append(
        f"finding {number}: the recommendation names no countermeasure that fixes this weakness;"
        " give SPARTA countermeasure ids (countermeasures: [CM….]) or describe the fix"
    )
    return 0.0, ()


def _named_countermeasures(finding: Finding, accepted: Sequence[str]) -> tuple[str, ...]:
    by_id = (set(finding.countermeasures) | countermeasures.ids_in(finding.recommendation)) & set(
        accepted
    )
    by_name = countermeasures.accepted_by_name(accepted, finding.recommendation)
    return tuple(cm for cm in accepted if cm in by_id or cm in by_name)


def _evidence(grading: _Grading, finding: Finding) -> tuple[float, str | None]:
    """The evidence credit and its feedback line (None: nothing to say)."""
    number = finding.number
    if any(flag.where == f"finding {number}" for flag in grading.cheating):
        return 0.0, f"finding {number}: evidence is not from your own instance"
    if not any(len(v) >= MIN_OWN_LENGTH for v in grading.own_secrets.values()):
        return (1.0 if len(words(finding.evidence)) >= MIN_EVIDENCE_WORDS else 0.0), None
    names = own_secret_names(finding, grading.own_secrets)
    if names:
        return 1.0, (
            f"finding {number}: evidence holds your instance's secret(s): {', '.join(names)}"
        )
    return 0.0, (
        f"finding {number}: evidence holds none of your instance's secret values"
        " (for instance a flag or key you captured)"
    )


# --- findings, prose --------------------------------------------------------------------------


def _unmatched_feedback(
    lab: Lab, report: Report, matched: Sequence[MatchedFinding], false: Sequence[int]
) -> list[str]:
    lines = [
        f"finding {n} matches no injected weakness (or repeats one already matched):"
        f" it costs {FALSE_FINDING_PENALTY:.0%} of a finding"
        for n in false
    ]
    missed = len(lab.weaknesses) - len(matched)
    if missed:
        lines.append(f"{missed} of {len(lab.weaknesses)} injected weaknesses are not in the report")
    if not report.findings:
        lines.append("the report has no findings")
    return lines


def _section(grading: _Grading, required: str) -> SectionScore:
    wanted = normalise_heading(required)
    candidates = [
        s for s in grading.report.sections if normalise_heading(s.title).startswith(wanted)
    ]
    if not candidates:
        grading.feedback.append(f"section {required!r} is missing (a heading '## {required}')")
        return SectionScore(required, None, 0, 0.0)
    best = max(candidates, key=lambda s: s.words)
    full = best.words >= MIN_SECTION_WORDS and best.distinct_words >= MIN_SECTION_DISTINCT
    if not full:
        grading.feedback.append(
            f"section {required!r} (line {best.line}) has {best.words} words;"
            f" at least {MIN_SECTION_WORDS} are needed"
        )
    return SectionScore(required, best.title, best.words, 1.0 if full else 0.0)


# --- parts and points -------------------------------------------------------------------------


def _part_scores(
    lab: Lab,
    pairings: Sequence[Pairing],
    matched: Sequence[MatchedFinding],
    false: Sequence[int],
    sections: Sequence[SectionScore],
) -> dict[str, float | None]:
    count = len(lab.weaknesses)
    with_vector = sum(1 for w in lab.weaknesses if w.cvss)
    found = sum(
        p.pair.credit * (1.0 if m.substantiated_by else UNSUBSTANTIATED_CREDIT)
        for p, m in zip(pairings, matched, strict=True)
    )
    return {
        "findings": _ratio(max(0.0, found - FALSE_FINDING_PENALTY * len(false)), count),
        "severity": _ratio(sum(m.severity_credit or 0.0 for m in matched), with_vector),
        "recommendations": _ratio(sum(m.recommendation_credit for m in matched), count),
        "evidence": _ratio(sum(m.evidence_credit for m in matched), count),
        "prose": _ratio(sum(s.credit for s in sections), len(sections)),
    }


def _ratio(earned: float, out_of: int) -> float | None:
    return None if out_of == 0 else round(min(1.0, earned / out_of), 4)


def _assemble(
    grading: _Grading,
    scores: Mapping[str, float | None],
    matched: tuple[MatchedFinding, ...],
    false: tuple[int, ...],
    sections: tuple[SectionScore, ...],
) -> ReportGrade:
    lab = grading.lab
    objective = next((o for o in lab.objectives if o.kind is ObjectiveKind.REPORT), None)
    if objective is None:
        grading.feedback.append("this lab has no report objective: the report earns no points")
    possible = objective.points if objective else 0
    parts = _parts(lab, scores, possible)
    matched_ids = {m.weakness for m in matched}
    return ReportGrade(
        lab=lab.id,
        objective=objective.id if objective else None,
        points=round(sum(p.points for p in parts), 2),
        points_possible=possible,
        parts=parts,
        findings=len(grading.report.findings),
        matched=matched,
        missed=tuple(w.id for w in lab.weaknesses if w.id not in matched_ids),
        false_findings=false,
        evidence_hits=_evidence_hits(grading),
        cheating=tuple(grading.cheating),
        sections=sections,
        feedback=tuple(grading.feedback),
    )


def _parts(lab: Lab, scores: Mapping[str, float | None], possible: int) -> tuple[PartScore, ...]:
    weights = lab.report.weights.model_dump()
    total = sum(weights[name] for name in PARTS if scores[name] is not None)
    parts = []
    for name in PARTS:
        score = scores[name]
        share = weights[name] / total if total and score is not None else 0.0
        points = round(possible * share * (score or 0.0), 2)
        parts.append(PartScore(name, weights[name], score, points))
    return tuple(parts)


def _evidence_hits(grading: _Grading) -> tuple[EvidenceHit, ...]:
    return tuple(
        EvidenceHit(finding.number, name)
        for finding in grading.report.findings
        for name in own_secret_names(finding, grading.own_secrets)
    )
