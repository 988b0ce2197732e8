"""Match a report's findings to the weaknesses the lab injected (its ground truth).

Each (finding, weakness) pair gets a score out of 4, one point per signal:

- component: the finding names the weakness's host;
- SPARTA: the same technique id (1), or the same parent technique (0.5),
  e.g. ``EX-0001`` against ``EX-0001.01``;
- CWE: the same id;
- title: difflib similarity of the two titles, ``TITLE_FLOOR`` → 0 up to
  ``TITLE_FULL`` → 1 (linear in between).

A pair is a candidate when it scores at least ``MATCH_MIN`` and the finding
*tells the weakness apart* from the lab's others: the CWE agrees, or the title
is similar enough (``TITLE_DISTINCT``), or no other weakness of the lab shares
its component and parent technique. Without that rule two vague findings could
claim two weaknesses that live on the same host under the same technique.

Assignment is one-to-one and greedy: the best-scoring candidate pair is taken,
its finding and weakness are removed, and so on (ties go to the earlier
finding, then the earlier weakness). Greedy is not always the optimal
assignment, but with a handful of weaknesses per lab it almost always is, and
it is easy to explain to a student. A matched weakness earns
``min(1, score / FULL_CREDIT_SCORE)`` of a found weakness.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from graders.report.model import Finding
from labctl.spec.models import Weakness

MATCH_MIN: Final = 2.0
FULL_CREDIT_SCORE: Final = 3.0
TITLE_FLOOR: Final = 0.3
TITLE_FULL: Final = 0.7
TITLE_DISTINCT: Final = 0.5
#: Titles are cut before comparing: difflib is quadratic in the worst case.
TITLE_COMPARE_CHARS: Final = 200

_WORD_RE: Final = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class PairScore:
    """How well one finding agrees with one weakness, and on what."""

    score: float
    reasons: tuple[str, ...]
    title_similarity: float
    distinct: bool

    @property
    def candidate(self) -> bool:
        return self.score >= MATCH_MIN and self.distinct

    @property
    def credit(self) -> float:
        return min(1.0, self.score / FULL_CREDIT_SCORE)


@dataclass(frozen=True)
class Pairing:
    finding: Finding
    weakness: Weakness
    pair: PairScore


def title_similarity(a: str, b: str) -> float:
    """difflib ratio of the two titles, as written and with their words sorted (the higher)."""
    words_a = _WORD_RE.findall(a[:TITLE_COMPARE_CHARS].lower())
    words_b = _WORD_RE.findall(b[:TITLE_COMPARE_CHARS].lower())
    if not words_a or not words_b:
        return 0.0
    as_written = difflib.SequenceMatcher(None, " ".join(words_a), " ".join(words_b)).ratio()
    sorted_words = difflib.SequenceMatcher(
        None, " ".join(sorted(words_a)), " ".join(sorted(words_b))
    ).ratio()
    return round(max(as_written, sorted_words), 3)


def parent_technique(technique: str) -> str:
    return technique.split(".", 1)[0]


def score_pair(finding: Finding, weakness: Weakness, weaknesses: Sequence[Weakness]) -> PairScore:
    reasons: list[str] = []
    score = 0.0
    if finding.component and finding.component == weakness.component:
        score += 1.0
        reasons.append("component")
    sparta = _sparta_points(finding.sparta, weakness.sparta)
    if sparta:
        score += sparta
        reasons.append("SPARTA technique" if sparta == 1.0 else "SPARTA parent technique")
    cwe_agrees = finding.cwe is not None and finding.cwe == weakness.cwe
    if cwe_agrees:
        score += 1.0
        reasons.append("CWE")
    similarity = title_similarity(finding.title, weakness.title)
    title_points = min(1.0, max(0.0, (similarity - TITLE_FLOOR) / (TITLE_FULL - TITLE_FLOOR)))
    if title_points:
        score += title_points
        reasons.append(f"title ({similarity:.0%} similar)")
    distinct = cwe_agrees or similarity >= TITLE_DISTINCT or _only_one_there(weakness, weaknesses)
    return PairScore(round(score, 3), tuple(reasons), similarity, distinct)


def _sparta_points(found: str | None, truth: str) -> float:
    if found is None:
        return 0.0
    if found == truth:
        return 1.0
    return 0.5 if parent_technique(found) == parent_technique(truth) else 0.0


def _only_one_there(weakness: Weakness, weaknesses: Sequence[Weakness]) -> bool:
    """No other weakness lives on the same host under the same parent technique."""
    place = (weakness.component, parent_technique(weakness.sparta))
    return all(
        (w.component, parent_technique(w.sparta)) != place
        for w in weaknesses
        if w.id != weakness.id
    )


def assign(findings: Sequence[Finding], weaknesses: Sequence[Weakness]) -> list[Pairing]:
    """Greedy one-to-one assignment of findings to weaknesses, best pair first."""
    pairs = [
        Pairing(finding, weakness, score_pair(finding, weakness, weaknesses))
        for finding in findings
        for weakness in weaknesses
    ]
    order = {w.id: i for i, w in enumerate(weaknesses)}
    pairs.sort(key=lambda p: (-p.pair.score, p.finding.number, order[p.weakness.id]))
    taken_findings: set[int] = set()
    taken_weaknesses: set[str] = set()
    chosen: list[Pairing] = []
    for pairing in pairs:
        if not pairing.pair.candidate:
            continue
        if pairing.finding.number in taken_findings or pairing.weakness.id in taken_weaknesses:
            continue
        taken_findings.add(pairing.finding.number)
        taken_weaknesses.add(pairing.weakness.id)
        chosen.append(pairing)
    return sorted(chosen, key=lambda p: p.finding.number)
