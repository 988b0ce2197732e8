"""What a set of labs exercises: SPARTA tactics, techniques and countermeasures, and the
CISSP (1–8) and CISM (1–4) domains, with the quiz questions that practise each domain.

Pure: it reads validated labs (:class:`~labctl.spec.LoadedLab`) and nothing else, so the
terminal table, the HTML page and the README's lab table all come from one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from labctl.spec.loader import LoadedLab
from labctl.spec.models import SPARTA_TACTICS

#: SPARTA tactic prefix → name (https://sparta.aerospace.org).
SPARTA_TACTIC_NAMES: Final = {
    "REC": "Reconnaissance",
    "RD": "Resource Development",
    "IA": "Initial Access",
    "EX": "Execution",
    "PER": "Persistence",
    "DE": "Defense Evasion",
    "LM": "Lateral Movement",
    "EXF": "Exfiltration",
    "IMP": "Impact",
}
CISSP_DOMAINS: Final = {
    1: "Security and Risk Management",
    2: "Asset Security",
    3: "Security Architecture and Engineering",
    4: "Communication and Network Security",
    5: "Identity and Access Management",
    6: "Security Assessment and Testing",
    7: "Security Operations",
    8: "Software Development Security",
}
CISM_DOMAINS: Final = {
    1: "Information Security Governance",
    2: "Information Security Risk Management",
    3: "Information Security Program",
    4: "Incident Management",
}


def tactic_of(technique: str) -> str:
    """``EX-0001.01`` → ``EX``."""
    return technique.split("-", 1)[0]


@dataclass(frozen=True)
class LabCoverage:
    """One lab's mapping: the lab's own lists and its weaknesses' together."""

    id: str
    title: str
    difficulty: str
    duration_s: int
    techniques: tuple[str, ...]
    countermeasures: tuple[str, ...]
    cissp: tuple[int, ...]
    cism: tuple[int, ...]
    #: quiz questions per CISSP / CISM domain
    cissp_questions: dict[int, int]
    cism_questions: dict[int, int]
    #: the quiz's questions (one may count for a CISSP and a CISM domain)
    question_count: int = 0

    @property
    def tactics(self) -> tuple[str, ...]:
        seen = {tactic_of(t) for t in self.techniques}
        return tuple(t for t in SPARTA_TACTICS if t in seen)

    @property
    def questions(self) -> int:
        return self.question_count


@dataclass(frozen=True)
class Coverage:
    labs: tuple[LabCoverage, ...]

    def tactics(self) -> dict[str, list[str]]:
        """Tactic → the labs that exercise it (every tactic, in SPARTA's order)."""
        return {t: [lab.id for lab in self.labs if t in lab.tactics] for t in SPARTA_TACTICS}

    def techniques(self) -> dict[str, list[str]]:
        """Technique → the labs that exercise it, sorted by technique."""
        found: dict[str, list[str]] = {}
        for lab in self.labs:
            for technique in lab.techniques:
                found.setdefault(technique, []).append(lab.id)
        return dict(sorted(found.items()))

    def countermeasures(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for lab in self.labs:
            for cm in lab.countermeasures:
                found.setdefault(cm, []).append(lab.id)
        return dict(sorted(found.items()))

    def cissp(self) -> dict[int, tuple[list[str], int]]:
        """CISSP domain → (labs mapped to it, quiz questions in it across the labs)."""
        return {
            d: (
                [lab.id for lab in self.labs if d in lab.cissp],
                sum(lab.cissp_questions.get(d, 0) for lab in self.labs),
            )
            for d in CISSP_DOMAINS
        }

    def cism(self) -> dict[int, tuple[list[str], int]]:
        return {
            d: (
                [lab.id for lab in self.labs if d in lab.cism],
                sum(lab.cism_questions.get(d, 0) for lab in self.labs),
            )
            for d in CISM_DOMAINS
        }

    def summary(self) -> str:
        """One line: how many labs, tactics and domains are covered."""
        tactics = sum(bool(labs) for labs in self.tactics().values())
        cissp = sum(bool(labs) for labs, _ in self.cissp().values())
        cism = sum(bool(labs) for labs, _ in self.cism().values())
        return (
            f"{len(self.labs)} lab(s): {tactics} of {len(SPARTA_TACTICS)} SPARTA tactics,"
            f" {len(self.techniques())} techniques, {len(self.countermeasures())}"
            f" countermeasures; CISSP domains {cissp} of 8, CISM domains {cism} of 4;"
            f" {sum(lab.questions for lab in self.labs)} quiz question(s)"
        )


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def lab_coverage(loaded: LoadedLab) -> LabCoverage:
    lab = loaded.spec
    techniques = _unique([*lab.sparta.techniques, *(w.sparta for w in lab.weaknesses)])
    countermeasures = _unique(
        [*lab.sparta.countermeasures, *(cm for w in lab.weaknesses for cm in w.countermeasures)]
    )
    cissp_questions: dict[int, int] = {}
    cism_questions: dict[int, int] = {}
    for question in loaded.quiz.questions if loaded.quiz else ():
        if question.cissp_domain is not None:
            domain = int(question.cissp_domain)
            cissp_questions[domain] = cissp_questions.get(domain, 0) + 1
        if question.cism_domain is not None:
            domain = int(question.cism_domain)
            cism_questions[domain] = cism_questions.get(domain, 0) + 1
    return LabCoverage(
        id=lab.id,
        title=lab.title,
        difficulty=lab.difficulty.value,
        duration_s=int(lab.duration),
        techniques=techniques,
        countermeasures=countermeasures,
        cissp=tuple(sorted(int(d) for d in lab.cissp_domains)),
        cism=tuple(sorted(int(d) for d in lab.cism_domains)),
        cissp_questions=dict(sorted(cissp_questions.items())),
        cism_questions=dict(sorted(cism_questions.items())),
        question_count=len(loaded.quiz.questions) if loaded.quiz else 0,
    )


def coverage(labs: Sequence[LoadedLab]) -> Coverage:
    return Coverage(tuple(lab_coverage(loaded) for loaded in sorted(labs, key=lambda x: x.id)))


def _minutes(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d}" if hours else f"{minutes} min"


def markdown_lab_table(cov: Coverage) -> str:
    """The README's lab table: one row per lab, from the specs."""
    rows = [
        "| lab | title | level | time | SPARTA techniques | CISSP domains |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for lab in cov.labs:
        rows.append(
            f"| `{lab.id}` | {lab.title} | {lab.difficulty} | {_minutes(lab.duration_s)} |"
            f" {', '.join(lab.techniques)} | {', '.join(map(str, lab.cissp))} |"
        )
    return "\n".join(rows) + "\n"
