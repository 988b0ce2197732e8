"""The FastAPI application: routers, error handling, security headers, static files.

:func:`create_app` builds the whole server from :class:`Settings`; tests run it
in-process (TestClient or uvicorn on loopback) and the container runs it through
``python -m labctl.range.hosts.missioncontrol``. Requests are bounded before they are parsed
and clients never see a traceback, nor does the log (:mod:`.limits`): an unexpected
error is one short log line and a generic 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labctl.range.hosts.missioncontrol import api, ui
from labctl.range.hosts.missioncontrol.limits import ErrorBarrier, RequestLimits
from labctl.range.hosts.missioncontrol.service import MissionControl
from labctl.range.hosts.missioncontrol.settings import Settings
from labctl.range.hosts.missioncontrol.webauth import LoginRequired

STATIC_DIR: Final = Path(__file__).parent / "static"
SECURITY_HEADERS: Final = (
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings) -> FastAPI:
    """The mission-control web application for these settings."""
    mission = MissionControl(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await mission.start()
        yield
        await mission.stop()

    app = FastAPI(
        title="labctl mission control",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.mission = mission
    # Outermost last: every answer gets the security headers, the 500s of the barrier too.
    app.add_middleware(RequestLimits)
    app.add_middleware(ErrorBarrier)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(ui.router)
    _error_handlers(app)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)
        page = ui.error_page(request, exc.status_code, str(exc.detail))
        page.headers.update(exc.headers or {})
        return page

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message = validation_message(exc)
        if _is_api(request):
            return JSONResponse({"detail": message}, 422)
        return ui.error_page(request, 422, message)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(ui.url_prefix(request) + "/login", 303)


def validation_message(exc: RequestValidationError) -> str:
    """One line from pydantic's error list: where, and what is wrong (no input echo)."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'body'}: {message}{more}"[:300]
