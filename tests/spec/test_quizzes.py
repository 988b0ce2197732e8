"""The labs' quizzes as certification practice: enough questions per lab, every CISSP and
CISM domain practised across the labs, and questions that are well formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.spec import load_lab
from labctl.spec.coverage import CISM_DOMAINS, CISSP_DOMAINS, coverage

REPO = Path(__file__).resolve().parents[2]
LABS = sorted(p.parent for p in (REPO / "labs").glob("*/lab.yaml"))
PER_LAB = 8
PER_DOMAIN = 6


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_each_quiz_has_enough_well_formed_questions(lab_dir: Path) -> None:
    quiz = load_lab(lab_dir).quiz
    assert quiz is not None, "every lab ships a quiz.yaml"
    assert len(quiz.questions) >= PER_LAB
    for question in quiz.questions:
        assert len(set(question.choices)) == len(question.choices), question.id
        assert len(question.explanation.split()) >= 8, question.id  # says why
    answers = {q.answer for q in quiz.questions}
    assert len(answers) > 1, "the right answer is not always in the same place"


def test_every_cissp_and_cism_domain_is_practised_across_the_labs() -> None:
    cov = coverage([load_lab(path) for path in LABS])
    cissp = {d: questions for d, (_, questions) in cov.cissp().items()}
    cism = {d: questions for d, (_, questions) in cov.cism().items()}
    assert set(cissp) == set(CISSP_DOMAINS)
    assert set(cism) == set(CISM_DOMAINS)
    assert {d: n for d, n in cissp.items() if n < PER_DOMAIN} == {}
    assert {d: n for d, n in cism.items() if n < PER_DOMAIN} == {}
