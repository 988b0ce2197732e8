"""The portal's web app: server-rendered pages (Jinja2), small vanilla JavaScript, every
asset shipped in the package (no CDN).

Students: ``/lab`` (briefing, objectives, hints, self-check, reset), ``/report`` (template,
hand-in), ``/quiz``, ``/score`` (once released), ``/terminal`` and ``/mission-control/``
(their own instance only). Instructors: ``/board`` (the class, live by server-sent
events), ``/board/student/{session}/{student}``, grading, release, exports, announcements.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection

from labctl.errors import LabctlError
from labctl.portal.access import StudentTarget, Unreachable
from labctl.portal.auth import (
    COOKIE,
    SESSION_SECONDS,
    Cookies,
    Identity,
    RateLimit,
    Resolver,
    csrf_ok,
    new_csrf,
    require_instructor,
    require_student,
)
from labctl.portal.portal import MAX_UPLOAD, Portal, PortalError, StudentView
from labctl.portal.store import INSTRUCTOR
from labctl.portal.terminal import watch_router

STATIC: Final = Path(__file__).resolve().parent / "static"
#: How often the class board is pushed to instructors (seconds).
BOARD_PERIOD_S: Final = 5.0
MAX_FORM_FIELDS: Final = 200
#: html=False: raw HTML in a briefing is shown as text, never run.
_MARKDOWN: Final = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

RouterFactory = Callable[[Resolver], Any]


@functools.lru_cache(maxsize=512)
def markdown(text: str) -> Markup:
    """``text`` rendered (a briefing: 2 ms of a page's 4 without the cache; it changes
    only when a phase opens, so one entry per student and phase)."""
    return Markup(_MARKDOWN.render(text))


class PortalApp:
    """The routes over one :class:`Portal`."""

    def __init__(self, portal: Portal, *, secure_cookies: bool) -> None:
        self.portal = portal
        self.cookies = Cookies(portal.secret)
        self.secure = secure_cookies
        self.logins = RateLimit()
        self.jinja = Environment(
            loader=PackageLoader("labctl.portal", "templates"),
            autoescape=select_autoescape(["html"]),
        )
        self.jinja.filters["markdown"] = markdown

    # --- plumbing --------------------------------------------------------------------

    def identity(self, conn: HTTPConnection) -> Identity | None:
        return self.cookies.read(conn.cookies.get(COOKIE))

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        identity = self.identity(request)
        html = self.jinja.get_template(name).render(me=identity, **context)
        response = HTMLResponse(html, status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    async def form(self, request: Request, identity: Identity) -> dict[str, str]:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not csrf_ok(identity, values.get("csrf")):
            raise HTTPException(403, "the form is stale or forged (CSRF): reload the page")
        return values

    def student_view(self, identity: Identity) -> StudentView:
        """The logged-in student's view; a page they open is activity (not idle)."""
        view = self.portal.student(identity.session, identity.student)
        self.portal.active(view.member.instance)
        return view

    async def resolve_watched_target(self, conn: HTTPConnection, take: bool) -> StudentTarget:
        """A student's instance, for an instructor watching (or taking over) the student's
        terminal: recorded in the audit log either way."""
        identity = require_instructor(self.identity(conn))
        session, student = conn.path_params["session"], conn.path_params["student"]
        try:
            target = await run_in_threadpool(self.portal.target, session, student)
        except (Unreachable, LabctlError) as exc:
            raise HTTPException(404, f"no reachable instance of {student}: {exc}") from None
        if conn.scope["type"] == "websocket":
            action = "terminal-takeover" if take else "terminal-watch"
            self.portal.store.audit(identity.login, action, session=session, student=student)
        return target

    async def resolve_student_target(self, conn: HTTPConnection) -> StudentTarget:
        """The logged-in student's own instance (HTTP requests and websockets alike)."""
        identity = require_student(self.identity(conn))
        try:
            target = await run_in_threadpool(self.portal.target, identity.session, identity.student)
        except (Unreachable, LabctlError) as exc:
            raise HTTPException(503, f"your instance cannot be reached now: {exc}") from None
        await run_in_threadpool(self.portal.active, target.instance)
        return target


router = APIRouter()


# --- login -----------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    identity = web.identity(request)
    if identity is None:
        return RedirectResponse("/login", 303)
    return RedirectResponse("/board" if identity.instructor else "/lab", 303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    return web.page(request, "login.html")


@router.post("/login")
async def login(
    request: Request,
    login: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=256)],
) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    address = request.client.host if request.client else "?"
    keys = (f"login:{login}", f"addr:{address}")
    if web.logins.blocked(*keys):
        portal.store.audit(login, "login-blocked", address=address)
        return web.page(
            request, "login.html", 429, error="too many failed logins: wait a few minutes"
        )
    account = await run_in_threadpool(portal.authenticate, login.strip(), password)
    if account is None:
        web.logins.failed(*keys)
        portal.store.audit(login, "login-refused", address=address)
        return web.page(request, "login.html", 401, error="wrong login or password")
    web.logins.succeeded(keys[0])
    identity = Identity(account.login, account.kind, new_csrf(), account.session, account.student)
    portal.store.audit(account.login, "login", address=address)
    response = RedirectResponse("/board" if identity.instructor else "/lab", 303)
    response.set_cookie(
        COOKIE,
        web.cookies.issue(identity),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=web.secure,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    identity = web.identity(request)
    if identity is not None:
        await web.form(request, identity)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response


# --- students --------------------------------------------------------------------


@router.get("/lab")
async def lab(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    view = web.student_view(identity)
    briefing = await run_in_threadpool(portal.briefing, view)
    released, resets = portal.store.switches(view.session)
    lease = await run_in_threadpool(portal.lease, view)
    return web.page(
        request,
        "lab.html",
        view=view,
        lease=lease,
        briefing=briefing,
        objectives=portal.visible_objectives(view),
        solved=portal.store.solved(view.session, identity.student, []),
        announcements=portal.store.announcements(view.session),
        released=released,
        resets=resets,
    )


@router.post("/lab/check")
async def self_check(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    await web.form(request, identity)
    view = web.student_view(identity)
    outcome = await run_in_threadpool(portal.check, view)
    return web.page(request, "check.html", view=view, outcome=outcome)


@router.post("/lab/reset")
async def reset(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    values = await web.form(request, identity)
    if values.get("confirm") != identity.student:
        raise PortalError("type your student id to confirm the reset")
    view = web.student_view(identity)
    portal.reset(view, identity.login)
    return web.page(
        request,
        "message.html",
        title="Reset under way",
        message=(
            "Your instance is being replaced by a fresh one (a minute or two). Your report"
            " uploads and quiz answers are kept."
        ),
    )


@router.post("/lab/renew")
async def renew(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    identity = require_student(web.identity(request))
    await web.form(request, identity)
    view = web.student_view(identity)
    line = await run_in_threadpool(web.portal.renew, view, identity.login)
    return web.page(request, "message.html", title="More time", message=f"Your lab {line}.")


@router.post("/lab/resume")
async def resume(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    identity = require_student(web.identity(request))
    await web.form(request, identity)
    view = web.student_view(identity)
    said = await run_in_threadpool(web.portal.resume, view, identity.login)
    return web.page(request, "message.html", title="Starting again", message=said)


@router.get("/report")
async def report_page(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    view = web.student_view(identity)
    uploads = portal.store.uploads(view.session, identity.student)
    return web.page(request, "report.html", view=view, uploads=uploads, problems=None)


@router.get("/report/template.md")
async def report_template(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    view = web.student_view(identity)
    text = portal.report_template(view)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{identity.student}.md"'},
    )


@router.post("/report")
async def hand_in(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:
        raise HTTPException(400, f"the upload could not be read: {exc}") from None
    token = form.get("csrf")
    if not csrf_ok(identity, token if isinstance(token, str) else None):
        raise HTTPException(403, "the form is stale or forged (CSRF): reload the page")
    upload = form.get("report")
    if not isinstance(upload, UploadFile):
        raise PortalError("choose your report's Markdown file first")
    data = await upload.read(MAX_UPLOAD + 1)
    view = web.student_view(identity)
    problems = await run_in_threadpool(portal.hand_in, view, upload.filename or "", data)
    uploads = portal.store.uploads(view.session, identity.student)
    return web.page(request, "report.html", view=view, uploads=uploads, problems=problems)


@router.get("/keys")
async def keys_page(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    identity = require_student(web.identity(request))
    return web.page(request, "keys.html", keys=web.portal.store.keys(identity.login), added=None)


@router.post("/keys")
async def add_key(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    identity = require_student(web.identity(request))
    values = await web.form(request, identity)
    if values.get("remove"):
        web.portal.store.remove_key(identity.login, values["remove"])
        web.portal.store.audit(identity.login, "ssh-key-removed", fingerprint=values["remove"])
        added = None
    else:
        added = web.portal.add_key(identity.login, values.get("key", ""))
    keys = web.portal.store.keys(identity.login)
    return web.page(request, "keys.html", keys=keys, added=added)


@router.get("/quiz")
async def quiz_page(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    view = web.student_view(identity)
    return web.page(
        request,
        "quiz.html",
        view=view,
        open=portal.quiz_open(view),
        result=portal.last_quiz(view),
    )


@router.post("/quiz")
async def quiz_answer(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    values = await web.form(request, identity)
    view = web.student_view(identity)
    quiz = view.lab.quiz
    if quiz is None:
        raise PortalError("this lab has no quiz")
    answers = {}
    for question in quiz.questions:
        raw = values.get(f"q-{question.id}", "")
        if raw.isdigit() and int(raw) < len(question.choices):
            answers[question.id] = int(raw)
    result = portal.answer_quiz(view, answers)
    return web.page(request, "quiz.html", view=view, open=False, result=result)


@router.get("/score")
async def score(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_student(web.identity(request))
    view = web.student_view(identity)
    page = portal.score_page(view)
    if page is None:
        return web.page(
            request,
            "message.html",
            title="Score report",
            message=("Your score report is not released yet."),
        )
    return FileResponse(page, media_type="text/html; charset=utf-8")


# --- instructors -----------------------------------------------------------------


@router.get("/board")
async def board(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    require_instructor(web.identity(request))
    rows = await run_in_threadpool(board_rows, portal)
    return web.page(
        request,
        "board.html",
        sessions=portal.sessions,
        rows=rows,
        grading=portal.grading,
        observed=portal.observed,
        collected=portal.collected,
        switches={s: portal.store.switches(s) for s in portal.sessions},
    )


@router.get("/board/events")
async def board_events(request: Request) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    require_instructor(web.identity(request))

    async def stream() -> Any:
        while not await request.is_disconnected():
            rows = await run_in_threadpool(board_rows, portal)
            payload = json.dumps(
                {"rows": rows, "grading": portal.grading, "observed": portal.observed}
            )
            yield f"event: board\ndata: {payload}\n\n"
            await asyncio.sleep(BOARD_PERIOD_S)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.post("/board/{session}/grade")
async def grade(request: Request, session: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_instructor(web.identity(request))
    await web.form(request, identity)
    portal.grade(session, identity.login)
    return RedirectResponse("/board", 303)


@router.post("/board/{session}/switch")
async def switch(request: Request, session: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_instructor(web.identity(request))
    values = await web.form(request, identity)
    name, value = values.get("name", ""), values.get("value") == "on"
    if session not in portal.sessions or name not in {"released", "resets"}:
        raise HTTPException(404, "no such session or switch")
    portal.store.set_switch(session, name, value)
    portal.store.audit(identity.login, f"switch-{name}", session=session, value=value)
    return RedirectResponse("/board", 303)


@router.post("/board/{session}/announce")
async def announce(request: Request, session: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_instructor(web.identity(request))
    values = await web.form(request, identity)
    text = values.get("text", "").strip()
    if session not in portal.sessions:
        raise HTTPException(404, "no such session")
    if not text or len(text) > 1000:
        raise PortalError("an announcement is 1 to 1000 characters")
    portal.store.announce(session, text)
    portal.store.audit(identity.login, "announce", session=session)
    return RedirectResponse("/board", 303)


@router.get("/board/{session}/export.{fmt}")
async def export(request: Request, session: str, fmt: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    require_instructor(web.identity(request))
    if session not in portal.sessions or fmt not in {"csv", "json", "html"}:
        raise HTTPException(404, "no such session or format (csv, json, html)")
    try:
        text = await run_in_threadpool(portal.export, session, fmt)
    except LabctlError as exc:
        raise PortalError(f"grade the class first: {exc}") from None
    media = {"csv": "text/csv", "json": "application/json", "html": "text/html"}[fmt]
    body = ("\ufeff" + text) if fmt == "csv" else text
    return Response(
        body.encode("utf-8"),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{session}.{fmt}"'},
    )


@router.get("/board/student/{session}/{student}")
async def student_page(request: Request, session: str, student: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    require_instructor(web.identity(request))
    view = portal.student(session, student)
    events = portal.core.store.events(view.member.instance)
    return web.page(
        request,
        "student.html",
        view=view,
        events=events[-100:],
        uploads=portal.store.uploads(session, student),
        quiz=portal.store.quiz_attempts(session, student),
        solved=portal.store.solved(session, student, []),
        grading=portal.grading.get(f"{session}/{student}", ""),
        score=portal.score_file(session, student) is not None,
    )


@router.get("/board/student/{session}/{student}/score")
async def instructor_score(request: Request, session: str, student: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    require_instructor(web.identity(request))
    view = portal.student(session, student)
    page = portal.score_file(view.session, view.member.student)
    if page is None:
        raise HTTPException(404, f"{student} has not been graded yet")
    return FileResponse(page, media_type="text/html; charset=utf-8")


@router.post("/board/student/{session}/{student}/grade")
async def instructor_grade(request: Request, session: str, student: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_instructor(web.identity(request))
    await web.form(request, identity)
    portal.grade_student(session, student, identity.login)
    return RedirectResponse(f"/board/student/{session}/{student}", 303)


@router.post("/board/student/{session}/{student}/reset")
async def instructor_reset(request: Request, session: str, student: str) -> Response:
    web: PortalApp = request.app.state.web
    portal = web.portal
    identity = require_instructor(web.identity(request))
    await web.form(request, identity)
    portal.reset(portal.student(session, student), identity.login)
    return RedirectResponse(f"/board/student/{session}/{student}", 303)


def create_app(
    portal: Portal,
    *,
    secure_cookies: bool = True,
    extra_routers: Sequence[RouterFactory] = (),
) -> FastAPI:
    """The portal as an ASGI app. ``extra_routers``: factories of routers that forward a
    student to their instance (the terminal, mission control), given the resolver."""
    web = PortalApp(portal, secure_cookies=secure_cookies)
    app = FastAPI(title="labctl portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    app.state.terminal_activity = portal.terminal_activity
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for factory in extra_routers:
        app.include_router(factory(web.resolve_student_target))
    app.include_router(watch_router(web.resolve_watched_target))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and request.method == "GET" and not _wants_json(request):
            return RedirectResponse("/login", 303)
        return web.page(request, "error.html", exc.status_code, message=str(exc.detail))

    @app.exception_handler(PortalError)
    async def portal_error(request: Request, exc: PortalError) -> Response:
        return web.page(request, "error.html", 409, message=str(exc))

    app.include_router(router)
    return app


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def board_rows(portal: Portal) -> list[dict[str, Any]]:
    """One row per student of the served sessions: state and health (the engine's view,
    no command sent into the instance), objectives first seen holding, report, quiz."""
    rows = []
    for session in portal.sessions:
        view = portal.core.sessions.status(session)
        objectives = [o.id for o in view.loaded.spec.objectives if o.check is not None]
        for status in view.rows:
            member = status.member
            solved = portal.store.solved(session, member.student, [])
            uploads = portal.store.uploads(session, member.student)
            rows.append(
                {
                    "session": session,
                    "student": member.student,
                    "name": member.name,
                    "state": status.state,
                    "hosts": {
                        h.host: h.health if h.health not in {"", "none"} else h.state
                        for h in status.hosts
                    },
                    "solved": {o: solved[o] for o in objectives if o in solved},
                    "objectives": len(objectives),
                    "report": uploads[0].time if uploads else "",
                    "typed": portal.typed.get(member.instance, ""),
                    "quiz": bool(portal.store.quiz_attempts(session, member.student)),
                    # the scripted adversary's actions so far (None: the lab has none)
                    "adversary": status.adversary,
                }
            )
    return rows


__all__ = ["INSTRUCTOR", "PortalApp", "create_app"]
