"""The portal over a real class session of two tc-replay students (the real engine, the
workstations' real sshd, mission control's real web server, the real SQLite store):
logins, a student's pages, the self-check, hand-in (and the bad uploads refused with
nothing stored), the quiz, the terminal websocket (a shell through tmux, reattached after
a reconnect), mission control through the proxy, the second student kept out of the first
one's everything, and the instructor's board, grading, release and export."""

from __future__ import annotations

import time

import pytest
from portal_live import ORIGIN, REPO, client_for, log_in, password_of
from starlette.websockets import WebSocketDisconnect

from labctl.core.api import Core
from labctl.portal.portal import Portal

pytestmark = pytest.mark.docker


def test_a_student_does_the_lab_through_the_portal(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    _, session, (ana, _) = klass
    client = client_for(portal)
    assert client.post("/login", data={"login": ana, "password": "wrong"}).status_code == 401
    csrf = log_in(client, ana, password_of(portal, session, ana))

    lab = client.get("/lab").text
    assert "Telecommand replay" in lab
    assert "Run the self-check" in lab
    assert client.post("/lab/check", data={}).status_code == 403  # no CSRF token
    check = client.post("/lab/check", data={"csrf": csrf})
    assert check.status_code == 200
    assert "objective(s) hold now" in check.text
    again = client.post("/lab/check", data={"csrf": csrf})
    assert again.status_code == 409
    assert "at most every 30 s" in again.text

    template = client.get("/report/template.md")
    assert template.status_code == 200
    assert "findings:" in template.text
    sample = (REPO / "labs" / "tc-replay" / "solution" / "sample-report.md").read_bytes()
    good = client.post(
        "/report", data={"csrf": csrf}, files={"report": ("ana.md", sample, "text/markdown")}
    )
    assert "Stored" in good.text
    for bad, why in [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not UTF-8 text"),
        (b"a" * (2 << 20), "is over"),
        (b"   \n", "empty"),
    ]:
        refused = client.post(
            "/report", data={"csrf": csrf}, files={"report": ("x.md", bad, "text/markdown")}
        )
        assert refused.status_code == 409
        assert why in refused.text
    assert len(portal.store.uploads(session, ana)) == 1  # nothing stored half-way
    broken = client.post(
        "/report",
        content=b'--xx\r\nContent-Disposition: form-data; name="report"\r\n',
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert broken.status_code in {400, 403}

    quiz = portal.core.sessions.lab(session).quiz
    assert quiz is not None
    answers = {f"q-{q.id}": str(q.answer) for q in quiz.questions}
    result = client.post("/quiz", data={"csrf": csrf, **answers})
    assert f"{len(quiz.questions)} of {len(quiz.questions)} right" in result.text
    assert client.post("/quiz", data={"csrf": csrf, **answers}).status_code == 409

    assert "not released yet" in client.get("/score").text


def test_the_terminal_reaches_the_students_workstation_and_keeps_the_shell(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    _, session, (ana, _) = klass
    client = client_for(portal)
    log_in(client, ana, password_of(portal, session, ana))
    assert "/static/vendor/xterm/xterm.js" in client.get("/terminal").text
    assert client.get("/static/vendor/xterm/xterm.js").status_code == 200

    def shell(keys: bytes, wanted: bytes) -> bytes:
        seen = b""
        with client.websocket_connect("/terminal/ws", headers=ORIGIN) as ws:
            ws.send_text('{"type": "resize", "cols": 100, "rows": 30}')
            ws.send_bytes(keys)
            deadline = time.monotonic() + 30
            while wanted not in seen and time.monotonic() < deadline:
                seen += ws.receive_bytes()
        return seen

    first = shell(b"export MARK=portal-$((6*7)); echo $MARK\r", b"portal-42")
    assert b"portal-42" in first
    second = shell(b"echo again-$MARK\r", b"again-portal-42")  # the same tmux session
    assert b"again-portal-42" in second

    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/terminal/ws", headers={"origin": "http://evil"}),
    ):
        pass
    assert refused.value.code == 1008


def test_mission_control_through_the_portal_is_the_students_own(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    _, session, (ana, _) = klass
    client = client_for(portal)
    log_in(client, ana, password_of(portal, session, ana))
    page = client.get("/mission-control/login")
    assert page.status_code == 200
    assert 'action="/mission-control/login"' in page.text
    health = client.get("/mission-control/api/health").json()
    assert "ground_link" in health
    assert client.get("/mission-control/%2e%2e/%2e%2e/etc/passwd").status_code == 400


def test_a_second_student_reaches_none_of_the_firsts_pages(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    _, session, (ana, bo) = klass
    client = client_for(portal)
    log_in(client, bo, password_of(portal, session, bo))
    mine = client.get("/report").text
    assert "ana.md" not in mine  # Ana's upload is hers alone
    assert ana not in mine
    for url in ["/board", f"/board/student/{session}/{ana}", f"/board/{session}/export.csv"]:
        assert client.get(url).status_code == 403, url
    for url in [f"/board/{session}/grade", f"/board/student/{session}/{ana}/reset"]:
        assert client.post(url, data={}).status_code == 403, url
    # Bo's terminal is Bo's workstation: the instance name in its prompt is his
    with client.websocket_connect("/terminal/ws", headers=ORIGIN) as ws:
        ws.send_bytes(b"cat ~/mission-control.txt | head -3; echo done-$((1+1))\r")
        seen = b""
        deadline = time.monotonic() + 30
        while b"done-2" not in seen and time.monotonic() < deadline:
            seen += ws.receive_bytes()
    ana_password = password_of(portal, session, ana).encode()
    assert ana_password not in seen
    anonymous = client_for(portal)
    assert anonymous.get("/lab", follow_redirects=False).status_code == 303
    assert anonymous.get("/mission-control/api/health", follow_redirects=False).status_code == 303
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        anonymous.websocket_connect("/terminal/ws", headers=ORIGIN),
    ):
        pass
    assert refused.value.code == 1008


def _read_until(ws: object, wanted: bytes, seconds: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        seen += ws.receive_bytes()  # type: ignore[attr-defined]
    return seen


def test_the_instructor_watches_a_terminal_read_only_and_takes_over_on_purpose(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    _, session, (ana, bo) = klass
    student = client_for(portal)
    log_in(student, ana, password_of(portal, session, ana))
    with student.websocket_connect("/terminal/ws", headers=ORIGIN) as ws:
        ws.send_bytes(b"echo ready-$((5*5))\r")
        assert b"ready-25" in _read_until(ws, b"ready-25")

    teacher = client_for(portal)
    log_in(teacher, "teacher", "teacher-password")
    url = f"/board/student/{session}/{ana}/terminal"
    assert "Take over" in teacher.get(url).text
    with teacher.websocket_connect(url + "/ws", headers=ORIGIN) as watch:
        watch.send_bytes(b"echo watched-$((6*6))\r")  # read-only: dropped
        time.sleep(1)
        with student.websocket_connect("/terminal/ws", headers=ORIGIN) as own:
            own.send_bytes(b"echo seen-$((7*7))\r")  # the student types: the watcher sees it
            seen = _read_until(watch, b"seen-49")
    assert b"seen-49" in seen
    assert b"watched-36" not in seen
    with teacher.websocket_connect(url + "/ws?take=1", headers=ORIGIN) as ws:
        ws.send_bytes(b"echo took-$((3*3))\r")
        assert b"took-9" in _read_until(ws, b"took-9")
    actions = [e["action"] for e in portal.store.audit_log(50)]
    assert "terminal-watch" in actions
    assert "terminal-takeover" in actions

    other = client_for(portal)
    log_in(other, bo, password_of(portal, session, bo))
    assert other.get(url).status_code == 403
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        other.websocket_connect(url + "/ws?take=1", headers=ORIGIN),
    ):
        pass
    assert refused.value.code == 1008


def test_the_board_observes_an_attack_without_a_self_check_and_grades_one_student(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    core, session, (ana, bo) = klass
    instance = core.sessions.member(session, bo).instance
    runs = core.instances.solve(instance, remediate=False)  # Bo replays a frame
    assert all(run.exit_code == 0 for run in runs), [run.output[-300:] for run in runs]
    assert portal.observe() == 2
    assert "replay-executed" in portal.store.solved(session, bo, [])
    assert "replay-executed" not in portal.store.solved(session, ana, [])
    client = client_for(portal)
    csrf = log_in(client, "teacher", "teacher-password")
    assert "objectives last observed at" in client.get("/board").text
    page = f"/board/student/{session}/{bo}"
    before = portal.score_file(session, bo)  # graded with the class earlier, or never
    stamp = before.stat().st_mtime_ns if before is not None else 0
    client.post(f"{page}/grade", data={"csrf": csrf})
    deadline = time.monotonic() + 240
    while not portal.grading.get(f"{session}/{bo}", "").startswith(("graded", "failed", "not")):
        assert time.monotonic() < deadline, portal.grading
        time.sleep(2)
    assert portal.grading[f"{session}/{bo}"].startswith("graded at"), portal.grading
    assert "score report" in client.get(page).text
    after = portal.score_file(session, bo)
    assert after is not None
    assert after.stat().st_mtime_ns > stamp
    score = client.get(f"{page}/score")
    assert score.status_code == 200
    assert "replay-executed" in score.text or "execute a command it has already" in score.text
    bo_client = client_for(portal)
    log_in(bo_client, bo, password_of(portal, session, bo))
    assert bo_client.get(f"{page}/score").status_code == 403  # instructors only
    assert bo_client.post(f"{page}/grade", data={"csrf": "x"}).status_code == 403
    grades = [e for e in portal.store.audit_log() if e["action"] == "grade"]
    assert any(e.get("detail", {}).get("student") == bo for e in grades), grades


def test_the_instructor_sees_the_class_grades_releases_and_exports(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    _, session, (ana, bo) = klass
    client = client_for(portal)
    csrf = log_in(client, "teacher", "teacher-password")
    board = client.get("/board").text
    assert ana in board
    assert bo in board
    assert client.get("/lab").status_code == 403
    with client.stream("GET", "/board/events") as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                assert ana in line
                break
    assert client.post(f"/board/{session}/announce", data={"csrf": csrf, "text": "Break at 11"})
    client.post(f"/board/{session}/grade", data={"csrf": csrf})
    deadline = time.monotonic() + 300
    while not portal.grading.get(session, "").startswith(("graded", "failed")):
        assert time.monotonic() < deadline, portal.grading
        time.sleep(2)
    assert portal.grading[session].startswith("graded 2 of 2"), portal.grading
    csv = client.get(f"/board/{session}/export.csv")
    assert csv.content.startswith("\ufeff".encode())
    assert ana in csv.text
    client.post(f"/board/{session}/switch", data={"csrf": csrf, "name": "released", "value": "on"})

    student = client_for(portal)
    log_in(student, ana, password_of(portal, session, ana))
    assert "Break at 11" in student.get("/lab").text
    score = student.get("/score")
    assert score.status_code == 200
    assert "score" in score.text.lower()
    assert "Quiz (CISSP/CISM practice)" in score.text  # the quiz Ana took, in her report
    header = csv.text.lstrip("\ufeff").splitlines()[0]
    assert "quiz_right" in header.split(",")
    actions = {entry["action"] for entry in portal.store.audit_log()}
    assert {"login", "hand-in", "quiz", "grade", "switch-released", "announce"} <= actions
