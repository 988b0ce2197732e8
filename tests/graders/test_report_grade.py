"""Grading rules one at a time: matching, severity, recommendations, evidence, prose, views."""

from __future__ import annotations

import json

import pytest
from report_samples import EXAMPLE, REPLAY, sample, secrets

from graders.report import ReportGrade, grade_report
from graders.report.matching import assign, score_pair, title_similarity
from graders.report.model import read_finding
from labctl.spec.models import Lab, Objective, ObjectiveKind, RubricWeights

W1, W2 = REPLAY.weaknesses  # anti-replay-disabled (8.1), sequence-not-persisted (5.9)
ALICE = secrets("alice")
PROSE = " ".join(f"word{chr(97 + i % 26)}x" for i in range(40))


def front(*findings: str) -> str:
    return "---\nfindings:\n" + "\n".join(findings) + "\n---\n"


def entry(**fields: str) -> str:
    lines = [f"    {k}: {json.dumps(v)}" for k, v in fields.items()]
    return "  -" + "\n".join(lines)[3:]


def grade(text: str, lab: Lab = REPLAY, **others: dict[str, str]) -> ReportGrade:
    return grade_report(lab, text, ALICE, others)


BASE = {"component": "spacecraft", "sparta": "EX-0001.01", "cwe": "CWE-294", "title": W1.title}
#: Evidence that substantiates a finding (alice's own flag): without it, or a technical
#: description, a match earns a quarter of a finding and no severity or recommendation credit.
PROOF = {"evidence": f"event log: {ALICE['ops_flag']}"}


# --- matching ---------------------------------------------------------------------------------


def test_title_similarity_is_word_order_tolerant() -> None:
    assert title_similarity("anti-replay disabled", "disabled anti replay") == 1.0
    assert title_similarity("", "x") == 0.0


def test_parent_technique_earns_half() -> None:
    finding = read_finding(1, 1, {"sparta": "EX-0001"})
    assert score_pair(finding, W1, REPLAY.weaknesses).reasons == ("SPARTA parent technique",)
    assert score_pair(finding, W1, REPLAY.weaknesses).score == 0.5


def test_vague_findings_cannot_claim_weaknesses_that_share_host_and_technique() -> None:
    vague = {"component": "spacecraft", "sparta": "EX-0001.01", "title": "replay"}
    findings = [read_finding(1, 1, vague), read_finding(2, 2, vague)]
    assert assign(findings, REPLAY.weaknesses) == []


def test_host_and_technique_suffice_when_only_one_weakness_lives_there() -> None:
    weak = {"component": "ground-station", "sparta": "IA-0008.01", "title": "bad login"}
    pairings = assign([read_finding(1, 1, weak)], EXAMPLE.weaknesses)
    assert [(p.weakness.id, round(p.pair.credit, 3)) for p in pairings] == [
        ("weak-operator-password", 0.667)
    ]


def test_assignment_is_one_to_one_best_pair_first() -> None:
    second = {**BASE, "cwe": "CWE-1241", "title": W2.title}
    findings = [read_finding(1, 1, BASE), read_finding(2, 2, BASE), read_finding(3, 3, second)]
    pairs = assign(findings, REPLAY.weaknesses)
    assert [(p.finding.number, p.weakness.id) for p in pairs] == [
        (1, W1.id),
        (3, W2.id),
    ]


def test_duplicates_count_as_false_findings() -> None:
    result = grade(front(entry(**BASE, **PROOF), entry(**BASE, **PROOF)))
    assert [m.finding for m in result.matched] == [1]
    assert result.false_findings == (2,)
    assert result.part("findings").score == pytest.approx((1 - 0.25) / 2)


def test_false_findings_floor_at_zero() -> None:
    junk = [entry(component="attacker", title=f"thing {i}") for i in range(8)]
    assert grade(front(*junk)).part("findings").score == 0.0


# --- severity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "score", "credit"),
    [
        ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H", 8.1, 1.0),
        ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:H", 7.1, 1.0),  # 1.0 away: still full
        ("CVSS:3.1/AV:A/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 6.8, 0.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H", 9.1, 1.0),
        ("CVSS:3.1/AV:A/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:L", 5.2, 0.0),
    ],
)
def test_severity_bands(vector: str, score: float, credit: float) -> None:
    match = grade(front(entry(**BASE, **PROOF, cvss=vector))).matched[0]
    assert (match.severity_student, match.severity_reference) == (score, 8.1)
    assert match.severity_credit == credit


def test_no_vector_no_severity_credit_but_still_a_finding() -> None:
    result = grade(front(entry(**BASE, **PROOF, cvss="CVSS:3.1/AV:A/broken")))
    assert result.matched[0].severity_credit == 0.0
    assert result.part("findings").score == 0.5
    assert any("no valid CVSS vector" in line for line in result.feedback)


# --- recommendations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "credit"),
    [
        ({"countermeasures": "[CM0031]"}, 1.0),
        ({"recommendation": "Apply SPARTA cm0031 on the SA."}, 1.0),
        ({"recommendation": "Enable anti-replay with a sequence number window."}, 1.0),
        ({"recommendation": "Use frequency hopping (CM0029)."}, 0.0),
        ({"recommendation": "Buy a better machine."}, 0.0),
    ],
)
def test_recommendation_names_an_accepted_countermeasure(
    extra: dict[str, str], credit: float
) -> None:
    text = front(entry(**BASE, **PROOF, **extra)).replace('"[CM0031]"', "[CM0031]")
    assert grade(text).matched[0].recommendation_credit == credit


def test_weakness_without_countermeasures_wants_a_real_recommendation() -> None:
    weak = {"component": "ground-station", "sparta": "IA-0008.01", "cwe": "CWE-521"}
    short = grade(front(entry(**weak, **PROOF, recommendation="Fix it.")), EXAMPLE)
    long = grade(front(entry(**weak, **PROOF, recommendation=PROSE[:80])), EXAMPLE)
    assert short.matched[0].recommendation_credit == 0.0
    assert long.matched[0].recommendation_credit == 1.0


# --- evidence and cheating --------------------------------------------------------------------


def test_own_flag_in_evidence_earns_credit() -> None:
    result = grade(front(entry(**BASE, evidence=f"log: {ALICE['ops_flag']}")))
    assert result.matched[0].evidence_credit == 1.0
    assert [(h.finding, h.secret) for h in result.evidence_hits] == [(1, "ops_flag")]


def test_key_written_as_spaced_hex_bytes_counts() -> None:
    key = ALICE["uplink_key"].upper()
    spaced = " ".join("0x" + key[i : i + 2] for i in range(0, len(key), 2))
    result = grade(front(entry(**BASE, evidence=f"key = {spaced}")))
    assert [h.secret for h in result.evidence_hits] == ["uplink_key"]


def test_evidence_without_a_secret_earns_nothing() -> None:
    result = grade(front(entry(**BASE, evidence="I replayed the frame and it worked.")))
    assert result.matched[0].evidence_credit == 0.0


def test_another_students_secret_raises_a_flag_and_voids_the_evidence() -> None:
    bob = secrets("bob")
    evidence = f"{ALICE['ops_flag']} and {bob['ops_flag']}"
    result = grade(front(entry(**BASE, evidence=evidence)), bob=bob, carol=secrets("carol"))
    assert [(f.other_student, f.secret, f.where) for f in result.cheating] == [
        ("bob", "ops_flag", "finding 1")
    ]
    assert result.matched[0].evidence_credit == 0.0


def test_a_secret_anywhere_in_the_report_is_flagged() -> None:
    bob = secrets("bob")
    text = front(entry(**BASE)) + f"\n## Notes\nkey {bob['uplink_key']}\n"
    flags = grade(text, bob=bob).cheating
    assert [(f.secret, f.where) for f in flags] == [("uplink_key", "report")]


def test_shared_or_word_list_values_are_not_flagged() -> None:
    mine = derive_example("ada")
    other = dict(derive_example("bo"), station_flag=mine["station_flag"])
    body = f"{mine['operator_password']} {other['operator_password']} {mine['station_flag']}"
    result = grade_report(EXAMPLE, front(entry(title="x", evidence=body)), mine, {"bo": other})
    assert result.cheating == ()


def derive_example(student: str) -> dict[str, str]:
    return secrets(student, EXAMPLE)


def test_lab_without_secrets_credits_substantial_evidence() -> None:
    text = front(entry(**BASE, evidence=PROSE[:120]))  # 17 words
    result = grade_report(REPLAY, text, {})
    assert result.matched[0].evidence_credit == 1.0


# --- prose, points, views ---------------------------------------------------------------------


def test_sections_match_case_and_numbering_insensitively() -> None:
    body = f"## 1. EXECUTIVE SUMMARY:\n{PROSE}\n## Methodology\n{PROSE}\n## Scope\nshort\n"
    result = grade(front() + body)
    credits = {s.required: s.credit for s in result.sections}
    assert credits == {"Executive summary": 1.0, "Scope": 0.0, "Method": 1.0, "Findings": 0.0}


def test_repeated_words_do_not_make_a_section() -> None:
    result = grade(front() + "## Scope\n" + "blah " * 100)
    assert result.sections[1].credit == 0.0


def test_parts_that_cannot_be_assessed_give_their_weight_to_the_others() -> None:
    lab = REPLAY.model_copy(update={"weaknesses": ()})
    body = "".join(f"## {name}\n{PROSE}\n" for name in lab.report.required_sections)
    result = grade_report(lab, front() + body, {})
    assert [p.score for p in result.parts] == [None, None, None, None, 1.0]
    assert result.points == 20


def test_weights_and_points_come_from_the_lab() -> None:
    report = Objective(id="r", kind=ObjectiveKind.REPORT, title="Report", points=50)
    weights = RubricWeights(findings=1, severity=0, recommendations=0, evidence=0, prose=0)
    lab = REPLAY.model_copy(
        update={
            "objectives": (report,),
            "report": REPLAY.report.model_copy(update={"weights": weights}),
        }
    )
    result = grade_report(lab, front(entry(**BASE, evidence=PROSE[:120])), {})
    assert (result.points, result.points_possible, result.objective) == (25.0, 50, "r")


def test_lab_without_report_objective_earns_no_points() -> None:
    lab = REPLAY.model_copy(
        update={"objectives": tuple(o for o in REPLAY.objectives if o.kind != ObjectiveKind.REPORT)}
    )
    result = grade_report(lab, sample("good.md"), ALICE)
    assert result.points == 0
    assert "this lab has no report objective" in result.feedback[-1]


def test_wrong_lab_and_unknown_host_are_pointed_out() -> None:
    text = "---\nlab: other\nfindings:\n  - component: ground-segment\n---\n"
    feedback = "\n".join(grade(text).feedback)
    assert "the front matter names lab 'other'; graded against 'tc-replay'" in feedback
    assert "component 'ground-segment' is not a host of this lab" in feedback


def test_student_view_keeps_the_ground_truth_back() -> None:
    result = grade(sample("partial.md"), bob=secrets("bob"))
    student = json.dumps(result.student_view())
    for weakness in REPLAY.weaknesses:
        for secret in (weakness.id, weakness.title, weakness.cwe, weakness.cvss or ""):
            assert secret not in student
    assert "8.1" not in student  # the reference score
    assert result.student_view()["missed_count"] == 1
    assert "anti-replay-disabled" in json.dumps(result.instructor_view())


def test_feedback_never_contains_secret_values() -> None:
    result = grade(sample("good.md"), bob=secrets("bob"))
    joined = "\n".join(result.feedback)
    for value in (*ALICE.values(), *secrets("bob").values()):
        assert value not in joined
