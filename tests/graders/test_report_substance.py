"""A finding earns its weakness only when it is substantiated (graders/report/substance.py):
copied titles and ids score next to nothing, one weakness done properly scores about half,
and every lab's sample report keeps full points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from report_samples import REPLAY, REPO, SEED, secrets

from graders.report import ReportGrade, grade_report
from graders.report.substance import MIN_DESCRIPTION_WORDS, UNSUBSTANTIATED_CREDIT
from labctl.spec import load_lab
from labctl.spec.models import Lab
from labctl.spec.params import derive

LABS = {p.parent.name: load_lab(p.parent).spec for p in sorted((REPO / "labs").glob("*/lab.yaml"))}
SAMPLE_REPORTS = sorted((REPO / "labs").glob("*/solution/sample-report.md"))
W1, W2 = REPLAY.weaknesses
ALICE = secrets("alice")
PROSE = (
    "The assessment covered the radio segment, the ground station and the spacecraft of one"
    " lab instance, from the attacker workstation attached to the radio network; we recorded"
    " every command we sent, every frame we captured and what the spacecraft did with it."
)


def own(lab: Lab, student: str = "alice") -> dict[str, str]:
    return derive(lab, student, SEED).secrets()


def document(lab: Lab, findings: list[dict[str, object]], prose: bool) -> str:
    front = json.dumps({"lab": lab.id, "student": "alice", "findings": findings})
    body = "".join(
        f"\n## {name}\n\n{PROSE if prose else ''}\n" for name in lab.report.required_sections
    )
    return f"---\n{front}\n---\n\n# Audit report\n{body}"


def stuffed(lab: Lab, prose: bool = False) -> str:
    """Every weakness of the lab, copied: title, host, technique, CWE, vector, countermeasures;
    no evidence, no description, no recommendation; the section headings but no prose."""
    findings: list[dict[str, object]] = [
        {
            "component": w.component,
            "title": w.title,
            "sparta": w.sparta,
            "cwe": w.cwe,
            **({"cvss": w.cvss} if w.cvss else {}),
            "countermeasures": list(w.countermeasures),
        }
        for w in lab.weaknesses
    ]
    return document(lab, findings, prose)


def percent(result: ReportGrade) -> float:
    return 100 * result.points / result.points_possible


# --- (a) a report of copied titles ------------------------------------------------------------


@pytest.mark.parametrize("lab_id", sorted(LABS))
def test_a_report_of_copied_titles_scores_at_most_a_fifth(lab_id: str) -> None:
    lab = LABS[lab_id]
    for secrets_given in (own(lab), {}):  # with the student's secrets, and as a lab without
        result = grade_report(lab, stuffed(lab), secrets_given)
        assert percent(result) <= 20, (lab_id, result.points)
        assert len(result.matched) == len(lab.weaknesses)  # matched, so feedback can say why
        assert all(m.substantiated_by == () for m in result.matched)
        assert sum("is not substantiated" in line for line in result.feedback) == len(
            lab.weaknesses
        )


def test_copied_titles_earn_a_quarter_of_the_findings_part_and_nothing_else() -> None:
    result = grade_report(REPLAY, stuffed(REPLAY), ALICE)
    scores = {p.name: p.score for p in result.parts}
    assert scores == {
        "findings": UNSUBSTANTIATED_CREDIT,
        "severity": 0.0,
        "recommendations": 0.0,
        "evidence": 0.0,
        "prose": 0.0,
    }
    assert result.points == 2.0  # of 20: 10 %
    with_prose = grade_report(REPLAY, stuffed(REPLAY, prose=True), ALICE)
    assert percent(with_prose) <= 20


# --- (b) half a report ------------------------------------------------------------------------


def proper_finding() -> dict[str, object]:
    return {
        "component": "spacecraft",
        "title": "The uplink accepts a replayed telecommand frame",
        "sparta": "EX-0001.01",
        "cwe": "CWE-294",
        "cvss": "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H",
        "description": "A frame captured off the air is accepted and executed again when it"
        " is transmitted a second time: the security association checks the MAC but not the"
        " sequence number.",
        "evidence": "$ labctl-rf transmit tc.bin\nevent log: command 8.1 executed twice,"
        f" {ALICE['ops_flag']}",
        "recommendation": "Enable the anti-replay check on the uplink security association"
        " and reject frames whose sequence number is not above the last one accepted.",
        "countermeasures": ["CM0031"],
    }


def test_one_of_two_findings_done_properly_scores_about_half() -> None:
    result = grade_report(REPLAY, document(REPLAY, [proper_finding()], prose=True), ALICE)
    assert 40 <= percent(result) <= 60, result.points
    assert [m.substantiated_by for m in result.matched] == [("evidence", "description")]


def test_one_done_properly_and_one_copied_title_scores_about_half() -> None:
    copied = {"component": W2.component, "title": W2.title, "sparta": W2.sparta, "cwe": W2.cwe}
    report = document(REPLAY, [proper_finding(), copied], prose=False)
    result = grade_report(REPLAY, report, ALICE)
    assert 40 <= percent(result) <= 60, result.points
    assert [m.substantiated_by for m in result.matched] == [("evidence", "description"), ()]


# --- (c) the labs' sample reports -------------------------------------------------------------


def with_secret_in_evidence(text: str, secret: str) -> str:
    """The report with ``secret`` quoted at the end of every finding's evidence."""
    _, front, body = text.split("---\n", 2)
    data = yaml.safe_load(front)
    for finding in data["findings"]:
        finding["evidence"] = f"{finding.get('evidence', '')}\ncaptured on my instance: {secret}"
    return f"---\n{yaml.safe_dump(data, sort_keys=False)}---\n{body}"


@pytest.mark.parametrize("path", SAMPLE_REPORTS, ids=lambda p: p.parts[-3])
def test_the_labs_sample_reports_score_full_points(path: Path) -> None:
    lab = load_lab(path.parents[1]).spec
    text = path.read_text("utf-8")
    mine = own(lab)
    secret = max(mine.values(), key=len)

    quoting = grade_report(lab, with_secret_in_evidence(text, secret), mine)
    assert quoting.points == quoting.points_possible
    assert quoting.part("evidence").score == 1.0

    without_secrets = grade_report(lab, text, {})  # a lab without secrets: words of evidence
    assert without_secrets.points == without_secrets.points_possible

    # as written (it quotes no student's secret): everything but the evidence, because its
    # findings describe the weaknesses technically
    as_written = grade_report(lab, text, mine)
    assert all(m.substantiated_by == ("description",) for m in as_written.matched)
    assert {p.name: p.score for p in as_written.parts if p.score != 1.0} == {"evidence": 0.0}


def test_every_lab_with_a_solution_is_checked_when_it_has_a_sample_report() -> None:
    assert SAMPLE_REPORTS, "no lab has a solution/sample-report.md"


# --- the rule, one piece at a time ------------------------------------------------------------


def finding_of(**fields: object) -> str:
    base = {"component": W1.component, "title": W1.title, "sparta": W1.sparta, "cwe": W1.cwe}
    return document(REPLAY, [{**base, **fields}], prose=False)


def test_a_technical_description_substantiates_without_evidence() -> None:
    description = proper_finding()["description"]
    result = grade_report(REPLAY, finding_of(description=description), ALICE)
    match = result.matched[0]
    assert match.substantiated_by == ("description",)
    assert match.credit == 1.0
    assert match.technical_terms == ("CM0031",)  # "sequence number" names Authentication
    assert "finding 1 is substantiated by its technical description" in result.feedback


def test_the_title_said_again_is_no_description() -> None:
    result = grade_report(REPLAY, finding_of(description=f"{W1.title}. " * 4), ALICE)
    assert result.matched[0].substantiated_by == ()
    assert result.matched[0].credit == pytest.approx(UNSUBSTANTIATED_CREDIT)


def test_many_words_without_a_technical_term_are_no_description() -> None:
    padding = "Apply CM0031 to fix this serious problem quickly, before the next pass of the day."
    assert len(set(padding.lower().split())) >= MIN_DESCRIPTION_WORDS
    result = grade_report(REPLAY, finding_of(recommendation=padding), ALICE)
    assert result.matched[0].substantiated_by == ()
    line = next(x for x in result.feedback if "not substantiated" in x)
    assert "no technical term of the weakness" in line


def test_a_keyword_of_the_labs_description_is_a_technical_term() -> None:
    lab = LABS["mc-access"]
    audit = next(w for w in lab.weaknesses if w.id == "audit-trail-disabled")
    text = document(
        lab,
        [
            {
                "component": audit.component,
                "title": "Nothing is logged at mission control",
                "sparta": audit.sparta,
                "cwe": audit.cwe,
                "description": "Refused logins and the telecommands operators send are not"
                " written anywhere, so a brute force stays unseen and nobody can say who did it.",
            }
        ],
        prose=False,
    )
    match = grade_report(lab, text, own(lab)).matched[0]
    assert match.weakness == audit.id
    assert match.substantiated_by == ("description",)
    assert {"login", "telecommand", "refused"} <= set(match.technical_terms)


def test_unsubstantiated_findings_get_no_severity_or_recommendation_feedback() -> None:
    vector = proper_finding()["cvss"]
    result = grade_report(REPLAY, finding_of(cvss=vector, countermeasures=["CM0031"]), ALICE)
    match = result.matched[0]
    assert (match.severity_credit, match.recommendation_credit) == (0.0, 0.0)
    assert match.severity_reference == 8.1  # the instructor still sees it
    assert not any("CVSS base score" in line for line in result.feedback)
    assert not any("countermeasure" in line for line in result.feedback)


@pytest.mark.parametrize("path", SAMPLE_REPORTS, ids=lambda p: p.parts[-3])
def test_each_sample_report_rendered_for_a_student_earns_everything_and_a_copy_is_flagged(
    path: Path,
) -> None:
    """What `labctl selftest` checks live, offline: rendered for its student the sample
    report earns every point, evidence included; handed in by another, it is flagged."""
    from labctl.spec.params import derive
    from labctl.spec.templates import render_text
    from labctl.spec.templates import variables as template_variables

    lab = load_lab(path.parents[1]).spec
    template = path.read_text("utf-8")

    def rendered(student: str, seed: str) -> str:
        values = derive(lab, student, seed).values
        return render_text(template, template_variables(values, student, "i", lab.id), "s")

    for seed in ("seed-one", "seed-two"):
        mine = derive(lab, "ana", seed).secrets()
        graded = grade_report(lab, rendered("ana", seed), mine)
        assert graded.points == graded.points_possible, (seed, graded.feedback)
        assert graded.part("evidence").score == 1.0
        peers = {"bo": derive(lab, "bo", seed).secrets()}
        copied = grade_report(lab, rendered("bo", seed), mine, peers)
        assert copied.cheating, seed
        assert copied.cheating[0].other_student == "bo"
