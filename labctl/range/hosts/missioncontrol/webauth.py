"""Who is calling: session resolution for the UI and the API, role checks, CSRF checks.

A request is authenticated by ``Authorization: Bearer <token>`` or by the session cookie.
Cookie-authenticated requests that change state must also prove they come from our own
pages: UI forms carry the session's CSRF token in a hidden field, API calls in the
``X-CSRF-Token`` header. Bearer tokens are never sent automatically by a browser, so they
need no CSRF token.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from fastapi import HTTPException, Request

from labctl.range.hosts.missioncontrol.auth import Session
from labctl.range.hosts.missioncontrol.service import MissionControl
from labctl.range.hosts.missioncontrol.settings import Policy, Role

SESSION_COOKIE: Final = "mc_session"
LOGIN_CSRF_COOKIE: Final = "mc_login_csrf"
CSRF_HEADER: Final = "x-csrf-token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

RoleRule = Role | Callable[[Policy], Role]


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the session, its token, and how the token came."""

    session: Session
    token: str
    by_cookie: bool


class LoginRequired(Exception):
    """A UI page was asked for without a valid session: answer with the login page."""


def mission(request: Request) -> MissionControl:
    mc: MissionControl = request.app.state.mission
    return mc


def remote(request: Request) -> str:
    return request.client.host if request.client else ""


def tokens_equal(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode(), expected.encode())


def find_caller(request: Request) -> Caller | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        token, by_cookie = credentials.strip(), False
    else:
        token, by_cookie = request.cookies.get(SESSION_COOKIE, ""), True
    session = mission(request).sessions.get(token)
    return None if session is None else Caller(session, token, by_cookie)


def _needed(request: Request, rule: RoleRule) -> Role:
    return rule if isinstance(rule, Role) else rule(mission(request).settings.policy)


def api_caller(rule: RoleRule = Role.VIEWER) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency: the API caller, with at least the role ``rule`` asks for."""

    async def dependency(request: Request) -> Caller:
        caller = find_caller(request)
        if caller is None:
            raise HTTPException(
                401,
                "not logged in: POST /api/login, then send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if (
            caller.by_cookie
            and request.method not in SAFE_METHODS
            and not tokens_equal(request.headers.get(CSRF_HEADER), caller.session.csrf)
        ):
            raise HTTPException(403, "cookie sessions need the X-CSRF-Token header here")
        role = _needed(request, rule)
        if caller.session.role < role:
            raise HTTPException(403, f"this needs role {role.label}")
        return caller

    return dependency


def ui_caller(rule: RoleRule = Role.VIEWER) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency: the logged-in UI user (LoginRequired otherwise), with the role needed."""

    async def dependency(request: Request) -> Caller:
        caller = find_caller(request)
        if caller is None or not caller.by_cookie:
            raise LoginRequired
        role = _needed(request, rule)
        if caller.session.role < role:
            raise HTTPException(403, f"This page needs role {role.label}.")
        return caller

    return dependency


def check_form_csrf(caller: Caller, token: str) -> None:
    if not tokens_equal(token, caller.session.csrf):
        raise HTTPException(403, "The form is out of date (CSRF check failed); reload the page.")
