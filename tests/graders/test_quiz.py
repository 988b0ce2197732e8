"""A quiz scored per domain (graders.quiz), and ``labctl quiz`` in the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from graders.quiz import QuizAnswerError, score_quiz
from labctl.cli import quiz as quiz_cli
from labctl.cli.app import app
from labctl.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
QUIZ = load_lab(REPO / "labs" / "tc-replay").quiz
assert QUIZ is not None


def test_right_wrong_and_missing_answers_are_scored_per_domain() -> None:
    first, second, *rest = QUIZ.questions
    wrong = (second.answer + 1) % len(second.choices)
    result = score_quiz(QUIZ, {first.id: first.answer, second.id: wrong})
    assert [a.correct for a in result.answers] == [True, False] + [False] * len(rest)
    assert result.right == 1
    assert result.asked == len(QUIZ.questions)
    rows = {(r.framework, r.domain): (r.right, r.asked) for r in result.domains()}
    assert rows[("CISSP", int(first.cissp_domain or 0))][0] >= 1
    assert sum(asked for _, asked in rows.values()) >= len(QUIZ.questions)


def test_an_unknown_question_or_choice_is_named_not_scored_zero() -> None:
    with pytest.raises(QuizAnswerError, match="no question 'nope'"):
        score_quiz(QUIZ, {"nope": 0})
    question = QUIZ.questions[0]
    with pytest.raises(QuizAnswerError, match=f"question '{question.id}' has choices 0 to"):
        score_quiz(QUIZ, {question.id: len(question.choices)})


def test_the_cli_scores_an_answers_file_and_shows_every_explanation(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    right = {q.id: "abcdefgh"[q.answer] for q in QUIZ.questions}
    answers.write_text("".join(f"{k}: {v}\n" for k, v in right.items()))
    result = CliRunner().invoke(app, ["quiz", "tc-replay", "--answers", str(answers)])
    assert result.exit_code == 0, result.output
    n = len(QUIZ.questions)
    assert f"{n} of {n} right (100 %)" in result.output
    for question in QUIZ.questions:
        assert question.explanation.split()[0] in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("freshness: z\n", "freshness: give a letter from a to d, not 'z'"),
        ("nope: a\n", "no question 'nope' in this quiz"),
        ("- a\n", "give a mapping of question id to letter"),
    ],
)
def test_a_bad_answers_file_is_one_line_saying_what_to_give(
    tmp_path: Path, content: str, message: str
) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(content)
    result = CliRunner().invoke(app, ["quiz", "tc-replay", "--answers", str(answers)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_on_a_terminal_the_quiz_asks_until_a_letter_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quiz_cli, "_interactive", lambda: True)
    replies = ["x", *("abcdefgh"[q.answer] for q in QUIZ.questions)]
    result = CliRunner().invoke(app, ["quiz", "tc-replay"], input="\n".join(replies) + "\n")
    assert result.exit_code == 0, result.output
    assert "give one letter" in result.output
    n = len(QUIZ.questions)
    assert f"{n} of {n} right" in result.output


def test_without_a_terminal_or_a_file_the_quiz_says_what_to_do() -> None:
    result = CliRunner().invoke(app, ["quiz", "tc-replay"], input="")
    assert result.exit_code == 2
    assert "give --answers FILE" in result.output


def test_a_quiz_taken_goes_into_the_score_report_and_the_csv() -> None:
    import dataclasses
    import io as stdio

    from graders.classreport.export import to_csv
    from graders.classreport.model import StudentRecord, score_from_record
    from graders.score import score
    from graders.score.render import render_html, render_markdown

    lab = load_lab(REPO / "labs" / "tc-replay").spec
    base = score(lab, {}, None, instance="i", student="ana", graded_at="2026-12-05T00:00:00+00:00")
    right = {q.id: q.answer for q in QUIZ.questions}
    summary = score_quiz(QUIZ, right).summary()
    taken = dataclasses.replace(base, quiz=summary)
    n = len(QUIZ.questions)
    assert f"{n} of {n} right (100.0 %)" in render_html(taken)
    assert "## Quiz (CISSP/CISM practice)" in render_markdown(taken)
    assert "Quiz" not in render_markdown(base)
    assert score_from_record(taken.record()).quiz == summary  # read back from score.json
    rows = stdio.StringIO(
        to_csv([StudentRecord("ana", score=taken), StudentRecord("bo", score=base)])
    )
    lines = rows.getvalue().splitlines()
    header = lines[0].split(",")
    ana, bo = (dict(zip(header, line.split(","), strict=True)) for line in lines[1:])
    assert (ana["quiz_right"], ana["quiz_asked"]) == (str(n), str(n))
    assert (bo["quiz_right"], bo["quiz_asked"]) == ("", "")
