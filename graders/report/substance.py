"""Whether a matched finding is substantiated: backed by evidence or by a technical description.

Matching (:mod:`graders.report.matching`) decides *which* weakness a finding is about, from
its host, technique, CWE and title. Those can be written without doing the lab: titles get
passed on, guessed or copied. So a matched finding earns its weakness only when it is
*substantiated*, in one of two ways:

evidence
    Its evidence earns the evidence credit (:mod:`graders.report.evidence`): it holds one of
    the student's own secret values, or, in a lab without secrets, it has at least
    ``MIN_EVIDENCE_WORDS`` words.
description
    It describes the weakness technically: its ``description``, ``evidence`` and
    ``recommendation`` together use at least ``MIN_DESCRIPTION_WORDS`` different words that
    are not in its title, and name at least one *technical term* of the weakness: the name
    or a keyword of one of its accepted countermeasures
    (:mod:`graders.report.countermeasures`; a bare id such as ``CM0031`` describes nothing),
    or a keyword of the lab's own description of the weakness (``description:`` in
    lab.yaml: its words of ``MIN_KEYWORD_LETTERS`` letters or more, but for the component's
    name and ``COMMON_WORDS``). Words are compared lower-cased, a plural ``s`` ignored.

A substantiated finding earns its findings, severity and recommendation credit as the
rubric says. One that is not stays matched, so the feedback can tell the student what is
missing, but earns only ``UNSUBSTANTIATED_CREDIT`` of its findings credit and no severity
or recommendation credit: a report of copied titles and ids scores next to nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from graders.report.countermeasures import accepted_by_name
from graders.report.model import Finding, words
from labctl.spec.models import Weakness

MIN_DESCRIPTION_WORDS: Final = 12
MIN_KEYWORD_LETTERS: Final = 5
UNSUBSTANTIATED_CREDIT: Final = 0.25
#: Words of 5+ letters that say nothing technical about a weakness.
COMMON_WORDS: Final = frozenset(
    re.findall(
        r"[a-z]+",
        """about above after again against already although another anyone anything around
        because before being below between cannot could during either enough every everyone
        everything false first their there these those though through under until where
        whether which while would without within other others still since never nothing
        neither nowhere should shall might often always using itself""",
    )
)


@dataclass(frozen=True)
class Substance:
    """How a matched finding is substantiated (``by`` empty: it is not)."""

    by: tuple[str, ...]  # "evidence", "description"
    new_words: int  # different words of the free text that are not in the title
    terms: tuple[str, ...]  # technical terms of the weakness that the free text names

    @property
    def substantiated(self) -> bool:
        return bool(self.by)


def free_text(finding: Finding) -> str:
    """What the student wrote about the finding beyond its title and ids."""
    return "\n".join((finding.description, finding.evidence, finding.recommendation))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > MIN_KEYWORD_LETTERS and word.endswith("s") else word


def keywords(weakness: Weakness) -> frozenset[str]:
    """The lab-specific words of the weakness's description in lab.yaml (stemmed)."""
    ignored = COMMON_WORDS | set(words(weakness.component))
    return frozenset(
        _stem(w)
        for w in words(weakness.description)
        if len(w) >= MIN_KEYWORD_LETTERS and w not in ignored
    )


def terms_named(finding: Finding, weakness: Weakness) -> tuple[str, ...]:
    """Technical terms of ``weakness`` in the finding's free text: countermeasure ids (named
    by name or keyword) first, then the description's keywords."""
    text = free_text(finding)
    countermeasures = accepted_by_name(weakness.countermeasures, text)
    used = {_stem(w) for w in words(text)}
    return (*countermeasures, *sorted(keywords(weakness) & used))


def new_words(finding: Finding) -> int:
    """Different words of the finding's free text that its title does not use."""
    return len(set(words(free_text(finding))) - set(words(finding.title)))


def assess(finding: Finding, weakness: Weakness, evidence_credit: float) -> Substance:
    """Is the match of ``finding`` to ``weakness`` substantiated, and how?"""
    fresh = new_words(finding)
    terms = terms_named(finding, weakness)
    by = []
    if evidence_credit >= 1.0:
        by.append("evidence")
    if fresh >= MIN_DESCRIPTION_WORDS and terms:
        by.append("description")
    return Substance(tuple(by), fresh, terms)
