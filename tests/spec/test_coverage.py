"""``labctl labs coverage``: what the labs exercise, from the specs alone; the README's lab
table is its Markdown output."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from labctl.cli.app import app
from labctl.spec import load_lab
from labctl.spec.coverage import coverage, lab_coverage, markdown_lab_table

REPO = Path(__file__).resolve().parents[2]
LABS = sorted(p.parent for p in (REPO / "labs").glob("*/lab.yaml"))


def test_a_lab_counts_its_weaknesses_techniques_and_its_quiz_domains() -> None:
    lab = lab_coverage(load_lab(REPO / "labs" / "gs-ssh-keys"))
    assert set(lab.techniques) >= {"IA-0007", "RD-0003.02", "PER-0004"}
    assert lab.tactics == ("RD", "IA", "PER")  # in SPARTA's order, once each
    loaded = load_lab(REPO / "labs" / "gs-ssh-keys")
    assert loaded.quiz is not None
    assert lab.questions == len(loaded.quiz.questions)  # a question in two domains counts once
    assert sum(lab.cissp_questions.values()) + sum(lab.cism_questions.values()) >= lab.questions


def test_the_catalog_maps_each_tactic_and_domain_to_the_labs_using_it() -> None:
    cov = coverage([load_lab(path) for path in LABS])
    assert [lab.id for lab in cov.labs] == sorted(path.name for path in LABS)
    tactics = cov.tactics()
    assert list(tactics) == ["REC", "RD", "IA", "EX", "PER", "DE", "LM", "EXF", "IMP"]
    assert "tc-replay" in tactics["EX"]
    assert "tc-replay" not in tactics["REC"]
    labs_4, questions_4 = cov.cissp()[4]
    assert "tc-replay" in labs_4
    assert questions_4 >= 1
    summary = cov.summary()
    assert re.match(rf"{len(LABS)} lab\(s\): \d of 9 SPARTA tactics", summary)


def test_the_readme_lab_table_is_the_generated_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = markdown_lab_table(coverage([load_lab(path) for path in LABS]))
    start = readme.index("-->\n", readme.index("<!-- lab table")) + len("-->\n")
    end = readme.index("<!-- end of lab table -->")
    assert readme[start:end] == table, "run: labctl labs coverage -f markdown, paste in README"


def test_the_cli_writes_html_and_refuses_an_unknown_format(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "coverage.html"
    result = runner.invoke(
        app, ["labs", "coverage", str(REPO / "labs"), "-f", "html", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<h2>SPARTA tactics</h2>" in page
    assert "Communication and Network Security" in page
    bad = runner.invoke(app, ["labs", "coverage", "-f", "pdf"])
    assert bad.exit_code == 2
    assert "give table, html or markdown" in bad.output
