"""The operator web UI: server-rendered pages (Jinja2, autoescaped) and their forms.

Pages work without JavaScript; ``static/app.js`` only refreshes the dashboard and the
command list by polling the JSON API. Every form post carries the session's CSRF token;
the login form, which comes before any session, uses a double-submit cookie instead.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from labctl.range.hosts import catalog
from labctl.range.hosts.missioncontrol.api import parse_time
from labctl.range.hosts.missioncontrol.auth import LoginRefused
from labctl.range.hosts.missioncontrol.commanding import (
    CommandError,
    CommandRequest,
    DirectiveRequest,
    describe,
)
from labctl.range.hosts.missioncontrol.limits import MAX_ID
from labctl.range.hosts.missioncontrol.settings import (
    MAX_PASSWORD_LENGTH,
    Role,
    notes_for,
    upcoming_passes,
)
from labctl.range.hosts.missioncontrol.webauth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Caller,
    check_form_csrf,
    find_caller,
    mission,
    remote,
    tokens_equal,
    ui_caller,
)

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
PAGE_SIZE: Final = 50
MAX_FORM_FIELDS: Final = 20
MAX_FLASH: Final = 5

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Caller, Depends(ui_caller(Role.VIEWER))]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def utc(value: float | None) -> str:
    """Unix seconds as a readable UTC time (empty for None)."""
    if value is None:
        return ""
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


templates: Final = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
templates.filters["utc"] = utc


#: A path prefix a reverse proxy mounts mission control under (the class portal's
#: ``/mission-control``): segments of letters, digits, '.', '_' and '-' only.
_PREFIX_RE: Final = re.compile(r"(?:/[A-Za-z0-9._-]{1,32}){1,4}")
PREFIX_HEADER: Final = "x-forwarded-prefix"


def url_prefix(request: Request) -> str:
    """The ``X-Forwarded-Prefix`` a reverse proxy sends, when it is a plain path; "" when
    mission control is reached directly. Links, redirects and cookie paths start with it."""
    prefix = request.headers.get(PREFIX_HEADER, "")
    return prefix.rstrip("/") if _PREFIX_RE.fullmatch(prefix.rstrip("/") or "-") else ""


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page; the navigation bar and pending messages come from the cookie session."""
    caller = context.pop("caller", None) or find_caller(request)
    session = caller.session if caller is not None and caller.by_cookie else None
    messages: list[tuple[str, str]] = []
    if session is not None:
        messages, session.flash = session.flash, []
    audit_role = mission(request).settings.policy.audit_requires
    page = templates.get_template(name).render(
        session=session,
        can_audit=session is not None and session.role >= audit_role,
        flash=messages,
        path=request.url.path,
        prefix=url_prefix(request),
        **context,
    )
    return HTMLResponse(page, status_code)


def flash(caller: Caller, kind: str, text: str) -> None:
    """Show ``text`` on the user's next page (a few at most)."""
    caller.session.flash = [*caller.session.flash[-(MAX_FLASH - 1) :], (kind, text)]


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status, status=status, message=message)


def _cookie(response: Response, request: Request, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        httponly=True,
        samesite="strict",
        secure=mission(request).settings.cookie_secure,
        path=url_prefix(request) + "/",
    )


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    return RedirectResponse(url_prefix(request) + "/dashboard", 303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return _login_form(request)


def _login_form(request: Request, status: int = 200, error: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status, login_csrf=token, error=error)
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    mc = mission(request)
    if not csrf or not tokens_equal(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
        return _login_form(request, 403, "The login form expired. Please try again.")
    try:
        user = await mc.login(username, password)
    except LoginRefused as exc:
        mc.audit.record(username, "login", "refused", remote(request), via="ui", reason=exc.reason)
        return _login_form(request, 401, "Wrong user name or password.")
    token, _ = mc.sessions.create(user)
    mc.audit.record(user.name, "login", "ok", remote(request), via="ui")
    response = RedirectResponse(url_prefix(request) + "/dashboard", 303)
    _cookie(response, request, SESSION_COOKIE, token, int(mc.settings.session_lifetime))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=url_prefix(request) + "/")
    return response


@router.post("/logout")
async def logout(
    caller: Viewer, request: Request, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    check_form_csrf(caller, csrf)
    mc = mission(request)
    mc.sessions.revoke(caller.token)
    mc.audit.record(caller.session.username, "logout", "ok", remote(request), via="ui")
    response = RedirectResponse(url_prefix(request) + "/login", 303)
    response.delete_cookie(SESSION_COOKIE, path=url_prefix(request) + "/")
    return response


@router.get("/dashboard")
async def dashboard(caller: Viewer, request: Request) -> Response:
    mc = mission(request)
    return render(
        request,
        "dashboard.html",
        caller=caller,
        snap=mc.snapshot(),
        may_direct=mc.commander.directives_allowed(caller.session),
        directives_role=mc.settings.policy.directives_require.label,
        notes=notes_for(mc.settings, caller.session.role),
        passes=upcoming_passes(mc.settings, time.time()),
    )


@router.get("/commands")
async def commands_page(caller: Viewer, request: Request) -> Response:
    mc = mission(request)
    entries = [
        {**describe(c), "allowed": mc.commander.allowed(caller.session, c)}
        for c in catalog.COMMANDS
    ]
    return render(
        request,
        "commands.html",
        caller=caller,
        commands=entries,
        sent=mc.archive.commands(20),
        pending=mc.commander.pending(),
        two_person=mc.settings.policy.two_person,
    )


@router.post("/commands/send")
async def command_submit(caller: Viewer, request: Request) -> Response:
    form = await _checked_form(caller, request)
    name = str(form.get("name", ""))[:64]
    command = catalog.BY_NAME.get(name)
    if command is None:
        raise HTTPException(404, f"No command named {name!r}.")
    args: dict[str, int | str] = {
        arg: str(form.get(f"arg_{arg}", ""))[:256].strip()
        if command.octets(arg) is not None
        else _int_field(str(form.get(f"arg_{arg}", "")), arg)
        for arg in command.arg_names
    }
    wanted = CommandRequest(caller.session, name, args, remote(request))
    try:
        row = await mission(request).commander.send(wanted)
    except CommandError as exc:
        flash(caller, "error", f"{name} not sent: {exc.message}")
    else:
        if row["status"] == "pending":
            flash(
                caller,
                "ok",
                f"{name} waits for a second person's approval (request #{row['pending_id']}).",
            )
        else:
            flash(caller, "ok", f"{name} sent as command #{row['id']}.")
    return RedirectResponse(url_prefix(request) + "/commands", 303)


@router.post("/commands/pending/decide")
async def pending_decide(caller: Viewer, request: Request) -> Response:
    """Approve or reject a held hazardous command (two-person rule)."""
    form = await _checked_form(caller, request)
    ident = _int_field(str(form.get("pending_id", "")), "pending_id")
    decision = str(form.get("decision", ""))[:16]
    commander, where = mission(request).commander, remote(request)
    try:
        if decision == "approve":
            row = await commander.approve(ident, caller.session, where)
            flash(caller, "ok", f"Request #{ident} approved: sent as command #{row['id']}.")
        elif decision == "reject":
            commander.reject(ident, caller.session, where)
            flash(caller, "ok", f"Request #{ident} rejected: it will not be sent.")
        else:
            raise HTTPException(422, "Decision must be 'approve' or 'reject'.")
    except CommandError as exc:
        flash(caller, "error", f"Request #{ident}: {exc.message}")
    return RedirectResponse(url_prefix(request) + "/commands", 303)


@router.post("/station/directives")
async def directive_submit(caller: Viewer, request: Request) -> Response:
    form = await _checked_form(caller, request)
    name = str(form.get("directive", ""))[:16]
    vr = _int_field(str(form.get("vr", "")), "V*(R)") if name == "set_vr" else None
    wanted = DirectiveRequest(caller.session, name, vr, remote(request))
    label = "Unlock" if name == "unlock" else f"Set V(R) {vr}"
    try:
        await mission(request).commander.directive(wanted)
    except CommandError as exc:
        flash(caller, "error", f"{label} not sent: {exc.message}")
    else:
        flash(caller, "ok", f"{label} sent to the ground station.")
    return RedirectResponse(url_prefix(request) + "/dashboard", 303)


async def _checked_form(caller: Caller, request: Request) -> FormData:
    """A page's posted form (bounded, no files), once its CSRF token checks out."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    check_form_csrf(caller, str(form.get("csrf", "")))
    return form


def _int_field(text: str, name: str) -> int:
    try:
        return int(text.strip()[:12], 0)
    except ValueError:
        raise HTTPException(422, f"Argument {name} must be an integer.") from None


@router.get("/telemetry")
async def telemetry_page(
    caller: Viewer,
    request: Request,
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    before: Before = None,
) -> Response:
    rows = mission(request).archive.telemetry(
        parse_time(since, "since"), parse_time(until, "until"), before, PAGE_SIZE
    )
    older = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
    return render(
        request, "telemetry.html", caller=caller, rows=rows, older=older, since=since, until=until
    )


@router.get("/events")
async def events_page(caller: Viewer, request: Request, before: Before = None) -> Response:
    rows = mission(request).archive.events(before, PAGE_SIZE)
    older = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
    return render(request, "events.html", caller=caller, rows=rows, older=older)


@router.get("/audit")
async def audit_page(
    caller: Annotated[Caller, Depends(ui_caller(lambda policy: policy.audit_requires))],
    request: Request,
    before: Before = None,
) -> Response:
    rows = mission(request).archive.audit(before, PAGE_SIZE)
    older = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
    return render(request, "audit.html", caller=caller, rows=rows, older=older)
