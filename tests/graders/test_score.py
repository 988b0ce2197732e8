"""Score records: gating, the report objective, the self-check's secrecy, the views."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders.checks.base import CheckResult, Status
from graders.report import grade_report
from graders.score import Verdict, render_html, render_markdown, score, self_check
from labctl.spec import load_lab

REPO = Path(__file__).resolve().parents[2]
LAB = load_lab(REPO / "labs" / "tc-replay").spec
SAMPLES = Path(__file__).parent / "reports"
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


def results(**verdicts: Status) -> dict[str, CheckResult]:
    """Every checked objective passes unless named (objective id with _ for -)."""
    chosen = {key.replace("_", "-"): value for key, value in verdicts.items()}
    return {
        o.id: CheckResult(chosen.get(o.id, Status.PASS), f"observed {o.id}", "look again")
        for o in LAB.objectives
        if o.check is not None
    }


def record(**verdicts: Status) -> Any:
    return score(
        LAB, results(**verdicts), None, instance="i-1", student="ada", graded_at="2026-01-01"
    )


def test_every_check_passing_earns_every_practical_point() -> None:
    s = record()
    practical = sum(o.points for o in LAB.objectives if o.check is not None)
    assert s.points == practical
    assert s.points_possible == sum(o.points for o in LAB.objectives)
    report_objective = next(o for o in s.objectives if o.kind == "report")
    assert report_objective.verdict is Verdict.NOT_GRADED


def test_a_fix_that_stops_the_mission_earns_nothing_on_dependent_objectives() -> None:
    s = record(mission_flies=Status.FAIL)
    by_id = {o.id: o for o in s.objectives}
    assert by_id["replay-rejected"].verdict is Verdict.PASS
    assert by_id["replay-rejected"].points == 0
    assert by_id["replay-rejected"].gated_by == ("mission-flies",)
    assert by_id["replay-rejected-after-reboot"].points == 0
    assert by_id["telemetry-flows"].points == 10
    assert "earns nothing while mission-flies fails" in render_html(s)


def test_an_erroring_check_is_an_error_and_earns_nothing() -> None:
    s = record(replay_rejected=Status.ERROR)
    item = next(o for o in s.objectives if o.id == "replay-rejected")
    assert (item.verdict, item.points) == (Verdict.ERROR, 0)


def test_an_availability_check_that_cannot_observe_gates_and_says_what_failed() -> None:
    # Mission control unreachable: the availability check is an error, which earns nothing,
    # gates the objectives that require it, and shows what could not be observed.
    unreachable = "could not observe the instance: mission control: POST /api/login: ConnectError"
    checks = results()
    checks["mission-flies"] = CheckResult(Status.ERROR, unreachable)
    s = score(LAB, checks, None, instance="i-1", student="ada", graded_at="t")
    by_id = {o.id: o for o in s.objectives}
    assert (by_id["mission-flies"].verdict, by_id["mission-flies"].points) == (Verdict.ERROR, 0)
    assert by_id["mission-flies"].evidence == unreachable
    assert by_id["replay-rejected"].points == 0
    assert by_id["replay-rejected"].gated_by == ("mission-flies",)
    recorded = {o["id"]: o for o in json.loads(s.to_json())["objectives"]}
    assert (recorded["mission-flies"]["verdict"], recorded["mission-flies"]["points"]) == (
        "error",
        0,
    )
    assert recorded["mission-flies"]["evidence"] == unreachable
    assert "ConnectError" in render_markdown(s)
    assert "ConnectError" in render_html(s)


def test_report_points_scale_to_the_objective() -> None:
    graded = grade_report(LAB, (SAMPLES / "good.md").read_bytes(), {}, None)
    s = score(LAB, results(), graded, instance="i", student="ada", graded_at="t")
    item = next(o for o in s.objectives if o.kind == "report")
    assert item.points == pytest.approx(
        graded.points * item.points_possible / graded.points_possible, abs=0.01
    )
    assert s.report is not None
    assert "missed_count" in s.report
    assert all("weakness" not in m for m in s.report["matched"])


def test_the_record_is_repeatable_json_with_a_schema_version() -> None:
    first, second = record().to_json(), record().to_json()
    assert first == second
    data = json.loads(first)
    assert data["schema_version"] == 2
    assert {o["verdict"] for o in data["objectives"]} <= {"pass", "fail", "error", "not graded"}


def test_sparta_coverage_follows_attack_and_remediation() -> None:
    assert [(t.attacked, t.remediated) for t in record().sparta] == [(True, True)]
    failed = record(replay_rejected=Status.FAIL, replay_executed=Status.FAIL).sparta
    assert [(t.attacked, t.remediated, t.reported) for t in failed] == [(False, False, None)]


def test_self_check_leaves_hidden_objectives_out() -> None:
    checked = self_check(LAB, results())
    hidden = {o.id for o in LAB.objectives if o.hidden}
    assert hidden
    assert not hidden & {c.id for c in checked}
    assert {c.id for c in checked} == {o.id for o in LAB.objectives if o.check and not o.hidden}


def test_failing_objectives_carry_hints_and_passing_ones_do_not() -> None:
    checked = {c.id: c for c in self_check(LAB, results(replay_rejected=Status.FAIL))}
    assert checked["replay-rejected"].hint
    assert not checked["mission-flies"].hint


def test_html_escapes_hostile_evidence() -> None:
    hostile = {k: CheckResult(v.status, HOSTILE) for k, v in results().items()}
    page = render_html(score(LAB, hostile, None, instance="i", student=HOSTILE, graded_at="t"))
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page


def test_markdown_escapes_structure_characters() -> None:
    evil = {k: CheckResult(v.status, "a | b\n# heading <b>x</b>") for k, v in results().items()}
    text = render_markdown(score(LAB, evil, None, instance="i", student="ada", graded_at="t"))
    assert "a \\| b \\# heading \\<b\\>x\\</b\\>" in text
    assert "\n# heading" not in text


def test_html_renders_in_chromium_and_runs_nothing(chromium: Any, tmp_path: Path) -> None:
    hostile = {k: CheckResult(v.status, HOSTILE) for k, v in results().items()}
    s = score(LAB, hostile, None, instance="i", student="ada", graded_at="t")
    page_file = tmp_path / "score.html"
    page_file.write_text(render_html(s), encoding="utf-8")
    page = chromium.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(page_file.as_uri())
    assert page.title().startswith("Score report")
    assert page.locator("#objectives tbody tr").count() == len(s.objectives)
    assert HOSTILE in page.locator("#objectives").inner_text()
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert dialogs == []
    assert page.evaluate("document.title") != "pwned"
