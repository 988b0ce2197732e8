"""Every broken spec in tests/specs/invalid gives exactly its expected messages.

Each case is loaded as ``labctl labs validate`` loads it: the spec loader's passes plus
the checks of the injects against the hosts (labctl.scenario.validate)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labctl.cli.app import app
from labctl.errors import SpecError
from labctl.scenario.validate import validate_lab

CORPUS = Path(__file__).resolve().parent.parent / "specs" / "invalid"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 78


def _relative(problem_line: str, case: Path) -> str:
    prefix = str(case) + "/"
    return problem_line.replace(prefix, "")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_loader_reports_expected_problems(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    expected = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    with pytest.raises(SpecError) as info:
        validate_lab(case)
    assert [_relative(str(p), case) for p in info.value.problems] == expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_validate_prints_problems_without_traceback(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case)
    result = CliRunner().invoke(app, ["labs", "validate", "."])
    assert result.exit_code == SpecError.exit_code
    assert "Traceback" not in result.output
    for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        assert line in result.stdout
