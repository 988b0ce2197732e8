"""The portal in a real browser (Debian's Chromium via Playwright) against the real server
(uvicorn on loopback) over a real class session: a student logs in, reads the briefing,
types in the web terminal and sees the output, opens mission control through the portal
and takes the quiz; the instructor's board updates by itself (server-sent events)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from portal_live import app_for, password_of

from labctl.core.api import Core
from labctl.portal.portal import Portal

pytestmark = [pytest.mark.docker, pytest.mark.browser]
SCREENSHOTS = Path("/tmp")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(portal: Portal, serve_asgi: Any) -> str:
    return str(serve_asgi(app_for(portal), ws_max_size=65536))


def test_a_student_and_the_instructor_in_the_browser(
    chromium: Any, server: str, portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    from playwright.sync_api import expect

    _, session, (ana, bo) = klass
    student = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    student.goto(f"{server}/")
    student.get_by_label("Student id").fill(bo)
    student.get_by_label("Password").fill(password_of(portal, session, bo))
    student.get_by_role("button", name="Log in").click()
    expect(student.get_by_role("heading", name="Telecommand replay", exact=True)).to_be_visible()
    expect(student.locator(".briefing")).to_contain_text("mission control")
    student.screenshot(path=str(SCREENSHOTS / "portal-lab.png"), full_page=True)

    student.get_by_role("link", name="Terminal").first.click()
    expect(student.locator("#term-status")).to_have_text("connected", timeout=20000)
    student.locator("#terminal").click()
    student.keyboard.type("ls -a ~ && echo listed-$((40+2))")
    student.keyboard.press("Enter")
    rows = student.locator(".xterm-rows")
    expect(rows).to_contain_text("listed-42", timeout=20000)
    expect(rows).to_contain_text(".bashrc")
    student.screenshot(path=str(SCREENSHOTS / "portal-terminal.png"))

    student.goto(f"{server}/lab")
    student.get_by_role("button", name="Run the self-check").click()
    expect(student.get_by_role("heading", name="Self-check")).to_be_visible(timeout=60000)
    expect(student.locator("main")).to_contain_text("objective(s) hold now")

    student.goto(f"{server}/report")
    sample = REPO / "labs" / "tc-replay" / "solution" / "sample-report.md"
    student.locator("input[type=file]").set_input_files(str(sample))
    student.get_by_role("button", name="Hand in").click()
    expect(student.get_by_role("status")).to_contain_text("Stored")
    expect(student.locator("table")).to_contain_text("sample-report.md")

    student.goto(f"{server}/lab")
    student.get_by_role("link", name="Mission control").first.click()
    expect(student).to_have_url(re.compile(r"/mission-control/login$"))
    expect(student.get_by_role("button", name="Log in")).to_be_visible()

    student.goto(f"{server}/quiz")
    quiz = portal.core.sessions.lab(session).quiz
    assert quiz is not None
    for question in quiz.questions:
        student.locator(f"input[name='q-{question.id}'][value='{question.answer}']").check()
    student.get_by_role("button", name="Submit my answers").click()
    total = len(quiz.questions)
    expect(student.locator(".big")).to_contain_text(f"{total} of {total} right")

    teacher = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
    teacher.goto(f"{server}/login")
    teacher.get_by_label("Student id").fill("teacher")
    teacher.get_by_label("Password").fill("teacher-password")
    teacher.get_by_role("button", name="Log in").click()
    expect(teacher.get_by_role("heading", name="Class board")).to_be_visible()
    board = teacher.locator("#board")
    expect(board).to_contain_text(ana)
    expect(board).to_contain_text(bo)
    expect(board).to_have_attribute("data-updated", re.compile(r"\d+"), timeout=15000)
    row = board.locator(f"tr[data-key='{session}/{bo}']")
    expect(row.locator(".quiz")).to_have_text("done")
    expect(row.locator(".typed")).not_to_have_text("—")  # Bo typed in the web terminal
    expect(row.locator(".report")).not_to_have_text("—")
    teacher.screenshot(path=str(SCREENSHOTS / "portal-board.png"), full_page=True)

    card = teacher.locator("section.card", has=teacher.locator(f"#grading-{session}"))
    card.get_by_role("button", name="Grade the class").click()
    expect(teacher.locator(f"#grading-{session}")).to_contain_text("graded 2 of 2", timeout=240000)
    card.get_by_role("button", name="Release grades").click()
    # The form posts and redirects back to the board: wait for the switch to flip
    # before the student looks, or the student's request can overtake the teacher's.
    expect(card.get_by_role("button", name="Withdraw grades")).to_be_visible()
    student.goto(f"{server}/score")
    expect(student.locator("body")).to_contain_text("Quiz (CISSP/CISM practice)")
    student.screenshot(path=str(SCREENSHOTS / "portal-score.png"), full_page=True)
    teacher.goto(f"{server}/board")
    card.get_by_role("button", name="Withdraw grades").click()  # as it was
    expect(card.get_by_role("button", name="Release grades")).to_be_visible()
    student.goto(f"{server}/score")
    expect(student.locator("main")).to_contain_text("not released yet")
