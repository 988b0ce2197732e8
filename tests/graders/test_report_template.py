"""The report skeleton: it parses back as an empty report and keeps the ground truth back."""

from __future__ import annotations

import pytest
from report_samples import EXAMPLE, REPLAY

from graders.report import grade_report, parse_report, render_template
from labctl.spec.models import Lab, Rubric

LABS = [REPLAY, EXAMPLE]


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_template_parses_back_as_a_valid_empty_report(lab: Lab) -> None:
    report = parse_report(render_template(lab))
    assert report.problems == ()
    assert report.findings == ()
    assert report.lab == lab.id
    titles = [s.title for s in report.sections]
    for required in lab.report.required_sections:
        assert required in titles
    assert all(s.words == 0 for s in report.sections if s.title in lab.report.required_sections)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_an_untouched_template_earns_nothing(lab: Lab) -> None:
    result = grade_report(lab, render_template(lab), {})
    assert result.points == 0
    assert result.findings == 0
    assert len(result.missed) == len(lab.weaknesses)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_template_does_not_reveal_the_ground_truth(lab: Lab) -> None:
    text = render_template(lab)
    secrets = [*lab.sparta.techniques, *lab.sparta.countermeasures]
    for weakness in lab.weaknesses:
        secrets += [weakness.id, weakness.title, weakness.cwe, weakness.sparta]
        secrets += [weakness.cvss or "", *weakness.countermeasures]
    for secret in filter(None, secrets):
        assert secret not in text


def test_template_names_the_lab_its_hosts_and_allowed_values() -> None:
    text = render_template(REPLAY)
    assert "Telecommand replay" in text
    assert "attacker, ground-station, mission-control, rf-link, spacecraft" in text
    assert "low|medium|high" in text
    assert "mitigate|accept|transfer|avoid" in text
    assert "CVSS:3.1/AV:[N|A|L|P]" in text


def test_template_uses_the_labs_own_required_sections() -> None:
    lab = REPLAY.model_copy(update={"report": Rubric(required_sections=("Threat model",))})
    text = render_template(lab)
    assert "## Threat model" in text
    assert "## Scope" not in text


def test_the_example_finding_uncommented_is_read_with_feedback() -> None:
    text = render_template(REPLAY)
    start = text.index("# findings:\n")
    end = text.index("lab: tc-replay")
    example = "\n".join(line.removeprefix("# ") for line in text[start:end].splitlines())
    filled = text.replace("findings: []\n", example + "\n").replace(text[start:end], "")
    report = parse_report(filled)
    assert len(report.findings) == 1
    problems = "\n".join(report.findings[0].problems)
    assert "'<TACTIC-NNNN.NN>' is not a SPARTA technique id" in problems
    assert "is not a CVSS v3.1 vector" in problems
    assert grade_report(REPLAY, filled, {}).points == 0
