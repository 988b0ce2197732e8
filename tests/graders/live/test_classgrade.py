"""Class grading with fake check runs: report matching, cheating across the class, the
parallel bound, one student's failure stopping no other, the files written."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from graders.checks.base import CheckResult, Status
from graders.live.classgrade import (
    ClassMember,
    StudentOutcome,
    export_text,
    grade_class,
    grade_student,
    load_graded,
    report_for,
)
from graders.live.target import GradeTarget
from labctl.backends.base import Backend
from labctl.errors import LabctlError
from labctl.spec import LoadedLab, load_lab
from labctl.spec.params import derive

REPO = Path(__file__).resolve().parents[3]
LOADED = load_lab(REPO / "labs" / "tc-replay")
SAMPLE = (REPO / "labs" / "tc-replay" / "solution" / "sample-report.md").read_text("utf-8")
SEED = 4242
BACKEND = cast(Backend, object())  # the fake checks never touch it


def member(student: str, slot: int, team: str = "", unit: str | None = None) -> ClassMember:
    key = unit or student
    target = GradeTarget(f"tc-replay-s1-{key}", key, SEED, "http://127.0.0.1:1", {})
    return ClassMember(student, target, f"Name {student}", f"{student}@x.org", team, slot)


def passing(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> dict[str, CheckResult]:
    del backend, target
    return {
        o.id: CheckResult(Status.PASS, "ok") for o in loaded.spec.objectives if o.check is not None
    }


def test_reports_matched_by_id_missing_noted_and_copying_flagged(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    members = [member("ada", 0), member("bob", 1), member("cy", 2)]
    (reports / "ada.md").write_text(SAMPLE, "utf-8")
    bob_key = derive(LOADED.spec, "bob", str(SEED), 1).secrets()["uplink_key"]
    (reports / "cy.md").write_text(
        SAMPLE.replace("Recorded one", f"key {bob_key}\n      Recorded one")
    )
    (reports / "stranger.md").write_text(SAMPLE)
    seen: list[str] = []

    def progress(outcome: StudentOutcome) -> None:
        seen.append(outcome.member.student)

    out = tmp_path / "out"
    graded = grade_class(
        BACKEND,
        LOADED,
        members,
        session="s1",
        output=out,
        reports_dir=reports,
        checks=passing,
        progress=progress,
    )
    assert sorted(seen) == ["ada", "bob", "cy"]
    ada, bob, cy = graded.outcomes
    assert ada.report == reports / "ada.md"
    assert ada.score is not None
    assert ada.score.report is not None
    assert ada.cheating == ()
    assert bob.report is None
    assert bob.score is not None
    assert bob.score.report is None
    assert bob.notes == ("graded without a report (none in the folder)",)
    assert [(f.other_student, f.secret) for f in cy.cheating] == [("bob", "uplink_key")]
    assert graded.unmatched_reports == [reports / "stranger.md"]
    for student in ("ada", "bob", "cy"):
        for name in ("score.json", "score.md", "score.html"):
            assert (out / "students" / student / name).is_file()
    assert json.loads((out / "students" / "ada" / "score.json").read_text())["student"] == "ada"
    data = json.loads((out / "grades.json").read_text())
    assert [s["id"] for s in data["students"]] == ["ada", "bob", "cy"]
    assert data["students"][2]["cheating"][0]["other_student"] == "bob"
    assert data["students"][0]["score_report"] == "students/ada/score.html"
    assert (out / "grades.csv").read_text().startswith("student_id,name,email,team,points")
    page = (out / "class.html").read_text()
    assert 'href="./students/ada/score.html"' in page
    assert '<td class="flag">bob</td>' in page  # whose secret the report holds


def test_team_members_share_one_check_run_and_their_team_report(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "red.md").write_text(SAMPLE)
    runs: list[str] = []

    def counting(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> Any:
        runs.append(target.instance_id)
        return passing(backend, loaded, target)

    members = [member("ada", 0, "red", "red"), member("bob", 0, "red", "red")]
    graded = grade_class(
        BACKEND, LOADED, members, session="s", output=tmp_path / "o", reports_dir=reports,
        checks=counting,
    )  # fmt: skip
    assert runs == ["tc-replay-s1-red"]
    assert [o.report for o in graded.outcomes] == [reports / "red.md"] * 2
    assert all(o.cheating == () for o in graded.outcomes)  # teammates share their secrets


def test_parallel_bound_is_respected(tmp_path: Path) -> None:
    lock = threading.Lock()
    running, peak = 0, 0

    def slow(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> Mapping[str, CheckResult]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return passing(backend, loaded, target)

    members = [member(f"s{i}", i) for i in range(9)]
    grade_class(BACKEND, LOADED, members, session="s", output=tmp_path, workers=3, checks=slow)
    assert peak == 3
    with pytest.raises(LabctlError, match="--parallel"):
        grade_class(BACKEND, LOADED, members, session="s", output=tmp_path, workers=0)


def test_one_failure_stops_no_other(tmp_path: Path) -> None:
    def flaky(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> Any:
        if target.student == "bob":
            raise LabctlError("vantage did not start:\n  no such network")
        return passing(backend, loaded, target)

    members = [member("ada", 0), member("bob", 1), member("cy", 2)]
    graded = grade_class(BACKEND, LOADED, members, session="s", output=tmp_path, checks=flaky)
    ada, bob, cy = graded.outcomes
    assert ada.graded
    assert cy.graded
    assert not bob.graded
    assert bob.notes == ("not graded: vantage did not start: no such network",)
    assert not (tmp_path / "students" / "bob").exists()
    assert graded.summary.graded == 2
    row = (tmp_path / "grades.csv").read_text().splitlines()[2]
    assert row.startswith("bob,")
    assert "not graded: vantage did not start" in row


def test_report_lookup_refuses_odd_names_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "..md").write_text("x")
    assert report_for(tmp_path, member("..", 0)) is None
    assert report_for(None, member("ada", 0)) is None
    with pytest.raises(LabctlError, match="no folder of reports"):
        grade_class(
            BACKEND, LOADED, [member("ada", 0)], session="s", output=tmp_path / "o",
            reports_dir=tmp_path / "nope", checks=passing,
        )  # fmt: skip


def test_absent_members_are_listed_not_checked(tmp_path: Path) -> None:
    runs: list[str] = []

    def counting(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> Any:
        runs.append(target.student)
        return passing(backend, loaded, target)

    gone = dataclasses.replace(member("bob", 1), absent="the instance failed to start")
    members = [member("ada", 0), gone]
    graded = grade_class(BACKEND, LOADED, members, session="s", output=tmp_path, checks=counting)
    assert runs == ["ada"]
    assert graded.outcomes[1].notes == ("not graded: the instance failed to start",)


def test_a_graded_folder_reads_back_with_a_later_regrade(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    bob_key = derive(LOADED.spec, "bob", str(SEED), 1).secrets()["uplink_key"]
    (reports / "ada.md").write_text(f"{SAMPLE}\nkey {bob_key}\n")
    members = [member("ada", 0), member("bob", 1)]
    out = tmp_path / "out"
    grade_class(BACKEND, LOADED, members, session="s1", output=out, reports_dir=reports,
                checks=passing)  # fmt: skip
    summary, records = load_graded(out)
    assert [r.id for r in records] == ["ada", "bob"]
    assert records[0].cheating[0].other_student == "bob"
    assert export_text(summary, records, "csv") == (out / "grades.csv").read_bytes().decode()
    # bob is graded again on his own: the export follows his new score.json
    bob = json.loads((out / "students" / "bob" / "score.json").read_text())
    bob["points"] = 1.5
    (out / "students" / "bob" / "score.json").write_text(json.dumps(bob))
    summary, records = load_graded(out)
    assert records[1].score is not None
    assert records[1].score.points == 1.5
    assert "bob,Name bob,bob@x.org,,1.5," in export_text(summary, records, "csv")
    with pytest.raises(LabctlError, match="--format"):
        export_text(summary, records, "xls")
    (out / "grades.json").write_text("{}")
    with pytest.raises(LabctlError, match="not a class grade file"):
        load_graded(out)
    with pytest.raises(LabctlError, match="grade the session first"):
        load_graded(tmp_path / "nothing")


def failing(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> dict[str, CheckResult]:
    del backend, target
    return {
        o.id: CheckResult(Status.FAIL, "no") for o in loaded.spec.objectives if o.check is not None
    }


def test_one_student_graded_again_updates_the_class_files_and_keeps_copy_detection(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    members = [member("ada", 0), member("bob", 1)]
    out = tmp_path / "out"
    grade_class(BACKEND, LOADED, members, session="s1", output=out, checks=failing)
    before = {r.id: r.score.points for r in load_graded(out)[1] if r.score is not None}
    bob_key = derive(LOADED.spec, "bob", str(SEED), 1).secrets()["uplink_key"]
    (reports / "ada.md").write_text(f"{SAMPLE}\nkey {bob_key}\n")
    quiz = {"right": 3, "asked": 4, "percent": 75.0, "domains": []}
    outcome = grade_student(
        BACKEND, LOADED, members, "ada", output=out, reports_dir=reports, checks=passing, quiz=quiz
    )
    assert outcome.score is not None
    assert outcome.score.quiz == quiz
    assert outcome.cheating[0].other_student == "bob"  # the whole class is still searched
    summary, records = load_graded(out)
    after = {r.id: r.score.points for r in records if r.score is not None}
    assert after["ada"] > before["ada"]
    assert after["bob"] == before["bob"]  # nobody else is touched
    assert records[0].cheating[0].other_student == "bob"
    assert summary.graded == 2
    assert export_text(summary, records, "csv") == (out / "grades.csv").read_bytes().decode()


def test_a_student_who_cannot_be_graded_now_keeps_the_grade_they_had(tmp_path: Path) -> None:
    members = [member("ada", 0), member("bob", 1)]
    out = tmp_path / "out"
    grade_class(BACKEND, LOADED, members, session="s1", output=out, checks=passing)
    grades = (out / "grades.json").read_text()

    def broken(backend: Backend, loaded: LoadedLab, target: GradeTarget) -> Any:
        raise LabctlError("the vantage did not start")

    outcome = grade_student(BACKEND, LOADED, members, "bob", output=out, checks=broken)
    assert outcome.score is None
    assert outcome.notes == ("not graded: the vantage did not start",)
    assert (out / "grades.json").read_text() == grades
    with pytest.raises(LabctlError, match="no student 'zed'"):
        grade_student(BACKEND, LOADED, members, "zed", output=out, checks=passing)


def test_one_student_graded_before_the_class_writes_only_their_folder(tmp_path: Path) -> None:
    members = [member("ada", 0), member("bob", 1)]
    outcome = grade_student(BACKEND, LOADED, members, "ada", output=tmp_path, checks=passing)
    assert outcome.folder == tmp_path / "students" / "ada"
    assert (tmp_path / "students" / "ada" / "score.json").is_file()
    assert not (tmp_path / "grades.json").exists()
