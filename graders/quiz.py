"""A lab's quiz, scored: each answer right or wrong, and the score per CISSP and CISM
domain (the way certification practice reports it). Pure: a quiz and the answers in,
a result out; the terminal (``labctl quiz``) and the portal both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labctl.spec.coverage import CISM_DOMAINS, CISSP_DOMAINS
from labctl.spec.models import Quiz, QuizQuestion


@dataclass(frozen=True)
class AnswerResult:
    question: QuizQuestion
    #: the choice given (index from 0), None when the question was left out
    given: int | None

    @property
    def correct(self) -> bool:
        return self.given == self.question.answer


@dataclass(frozen=True)
class DomainScore:
    framework: str  # "CISSP" or "CISM"
    domain: int
    name: str
    right: int
    asked: int

    @property
    def percent(self) -> float:
        return 100.0 * self.right / self.asked if self.asked else 0.0


@dataclass(frozen=True)
class QuizResult:
    answers: tuple[AnswerResult, ...]

    @property
    def right(self) -> int:
        return sum(a.correct for a in self.answers)

    @property
    def asked(self) -> int:
        return len(self.answers)

    @property
    def percent(self) -> float:
        return 100.0 * self.right / self.asked if self.asked else 0.0

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary a score report carries: totals and each domain."""
        return {
            "right": self.right,
            "asked": self.asked,
            "percent": round(self.percent, 1),
            "domains": [
                {
                    "framework": d.framework,
                    "domain": d.domain,
                    "name": d.name,
                    "right": d.right,
                    "asked": d.asked,
                }
                for d in self.domains()
            ],
        }

    def domains(self) -> list[DomainScore]:
        """One row per CISSP then CISM domain the quiz asks about, in domain order."""
        rows = []
        for framework, names, attribute in (
            ("CISSP", CISSP_DOMAINS, "cissp_domain"),
            ("CISM", CISM_DOMAINS, "cism_domain"),
        ):
            for domain, name in names.items():
                asked = [a for a in self.answers if getattr(a.question, attribute) == domain]
                if asked:
                    right = sum(a.correct for a in asked)
                    rows.append(DomainScore(framework, domain, name, right, len(asked)))
        return rows


class QuizAnswerError(ValueError):
    """An answer that names no question or no choice of it."""


def score_quiz(quiz: Quiz, answers: Mapping[str, int | None]) -> QuizResult:
    """Score ``answers`` (question id → choice index from 0; a missing question counts as
    wrong). An unknown question id or a choice out of range is a :class:`QuizAnswerError`
    naming it, never a silent zero."""
    by_id = {q.id: q for q in quiz.questions}
    for ident, given in answers.items():
        if ident not in by_id:
            raise QuizAnswerError(f"no question {ident!r} in this quiz")
        if given is not None and not 0 <= given < len(by_id[ident].choices):
            raise QuizAnswerError(
                f"question {ident!r} has choices 0 to {len(by_id[ident].choices) - 1}; got {given}"
            )
    return QuizResult(tuple(AnswerResult(q, answers.get(q.id)) for q in quiz.questions))
