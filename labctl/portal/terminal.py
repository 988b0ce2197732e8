"""The web terminal: xterm.js in the page, a websocket to the portal, an SSH session from
the portal to the student's own workstation (asyncssh, the student's own login), inside a
tmux session there, so a dropped connection loses nothing: reconnecting reattaches.

The websocket protocol (one connection per terminal):

* binary frames, browser → portal: keystrokes (UTF-8), at most ``MAX_FRAME`` octets each;
* text frames, browser → portal: JSON control messages, ``{"type": "resize", "cols": C,
  "rows": R}`` (1–500 × 1–200);
* binary frames, portal → browser: the terminal's output;
* the portal closes with 1008 (policy) and a reason for anything else: a garbage frame, an
  oversized one, a cross-site origin; 1011 when the workstation cannot be reached; 1000
  after ``IDLE_S`` without a keystroke.

The handshake's ``Origin`` must be the portal's own (no cross-site websocket hijacking),
and the student is resolved from their portal cookie only, so a websocket reaches the
student's own workstation and nothing else. A student has at most ``MAX_TERMINALS`` open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any, Final
from urllib.parse import quote, urlsplit

import asyncssh
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from starlette.requests import HTTPConnection

from labctl.portal.access import StudentTarget

MAX_FRAME: Final = 16 * 1024
MAX_TERMINALS: Final = 4
IDLE_S: Final = 30 * 60.0
TMUX_SESSION: Final = "portal"
#: Re-attach the student's tmux session (made on first use); plain shell if tmux is missing.
ATTACH: Final = (
    f"if command -v tmux >/dev/null; then exec tmux new-session -A -s {TMUX_SESSION};"
    " else exec bash -l; fi"
)
#: An instructor watching: the student's tmux session, read-only (``-r``), or shared.
WATCH: Final = (
    f"tmux has-session -t {TMUX_SESSION} 2>/dev/null || "
    "{ echo 'The student has no terminal open.'; sleep 5; exit 0; }; "
    f"exec tmux attach-session -r -t {TMUX_SESSION}"
)
TAKE_OVER: Final = f"exec tmux new-session -A -s {TMUX_SESSION}"
CONNECT_TIMEOUT_S: Final = 15.0

Resolver = Callable[[HTTPConnection], Awaitable[StudentTarget]]


class ProtocolViolation(Exception):
    """A frame the protocol does not allow: the reason goes into the close frame."""


def parse_control(text: str) -> tuple[int, int]:
    """``(cols, rows)`` of a resize message; ProtocolViolation for anything else."""
    if len(text) > 256:
        raise ProtocolViolation("control message too long")
    try:
        message: Any = json.loads(text)
    except ValueError:
        raise ProtocolViolation("control message is not JSON") from None
    if not isinstance(message, dict) or message.get("type") != "resize":
        raise ProtocolViolation("unknown control message")
    cols, rows = message.get("cols"), message.get("rows")
    if (
        not isinstance(cols, int)
        or not isinstance(rows, int)
        or isinstance(cols, bool)
        or isinstance(rows, bool)
        or not 1 <= cols <= 500
        or not 1 <= rows <= 200
    ):
        raise ProtocolViolation("resize needs integer cols 1-500 and rows 1-200")
    return cols, rows


def same_origin(origin: str | None, host: str | None) -> bool:
    """The browser's Origin names the host the page was served from."""
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


WatchResolver = Callable[[HTTPConnection, bool], Awaitable[StudentTarget]]

PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Terminal · labctl portal</title>
<link rel="stylesheet" href="/static/portal.css">
<link rel="stylesheet" href="/static/vendor/xterm/xterm.css">
</head><body>
<header><a class="brand" href="/lab">labctl</a><nav><a href="/lab">My lab</a>
<a href="/mission-control/">Mission control</a><a href="/report">Report</a></nav>
<span class="term-status" id="term-status">connecting…</span></header>
<main>{banner}<div id="terminal" data-ws="{ws}"></div></main>
<script src="/static/vendor/xterm/xterm.js"></script>
<script src="/static/vendor/xterm-addon-fit/addon-fit.js"></script>
<script src="/static/terminal.js"></script>
</body></html>
"""


def terminal_router(
    resolve: Resolver, *, idle_s: float = IDLE_S, max_terminals: int = MAX_TERMINALS
) -> APIRouter:
    """``GET /terminal`` (the page) and ``WS /terminal/ws`` (the bridge), for the student
    ``resolve`` names (it raises HTTPException for anyone else)."""
    router = APIRouter()
    open_terminals: Counter[str] = Counter()

    @router.get("/terminal")
    async def page(request: Request) -> HTMLResponse:
        await resolve(request)
        response = HTMLResponse(PAGE.replace("{banner}", "").replace("{ws}", "/terminal/ws"))
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self';"
            " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    @router.websocket("/terminal/ws")
    async def bridge(websocket: WebSocket) -> None:
        if not same_origin(websocket.headers.get("origin"), websocket.headers.get("host")):
            await websocket.close(1008, "cross-site websocket refused")
            return
        try:
            target = await resolve(websocket)
        except HTTPException as exc:
            await websocket.close(1008, str(exc.detail)[:120])
            return
        if open_terminals[target.instance] >= max_terminals:
            await websocket.close(1008, f"at most {max_terminals} terminals at once")
            return
        await websocket.accept()
        open_terminals[target.instance] += 1
        #: the app may want to know when a student last typed (the instructor's board)
        seen = getattr(websocket.app.state, "terminal_activity", None)
        try:
            await _run(websocket, target, idle_s, activity=(lambda: seen(target)) if seen else None)
        finally:
            open_terminals[target.instance] -= 1

    return router


def watch_router(resolve: WatchResolver, *, idle_s: float = IDLE_S) -> APIRouter:
    """An instructor's view of a student's terminal: ``GET`` and ``WS``
    ``/board/student/{session}/{student}/terminal[/ws]``. Read-only (tmux ``attach -r``:
    keystrokes are dropped) unless ``?take=1``, which shares the student's session; the
    resolver checks the instructor role and records a take-over in the audit log."""
    router = APIRouter()
    base = "/board/student/{session}/{student}/terminal"

    @router.get(base)
    async def page(request: Request, session: str, student: str) -> HTMLResponse:
        take = request.query_params.get("take") == "1"
        await resolve(request, False)
        ws = f"/board/student/{quote(session)}/{quote(student)}/terminal/ws" + (
            "?take=1" if take else ""
        )
        other = (
            ""
            if take
            else (
                f'<p class="flash note">Watching {escape(student)} read-only. '
                f'<a href="?take=1">Take over</a> (recorded in the audit log).</p>'
            )
        )
        response = HTMLResponse(PAGE.replace("{banner}", other).replace("{ws}", escape(ws)))
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self';"
            " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    @router.websocket(base + "/ws")
    async def bridge(websocket: WebSocket, session: str, student: str) -> None:
        if not same_origin(websocket.headers.get("origin"), websocket.headers.get("host")):
            await websocket.close(1008, "cross-site websocket refused")
            return
        take = websocket.query_params.get("take") == "1"
        try:
            target = await resolve(websocket, take)
        except HTTPException as exc:
            await websocket.close(1008, str(exc.detail)[:120])
            return
        await websocket.accept()
        await _run(websocket, target, idle_s, TAKE_OVER if take else WATCH, accept_input=take)

    return router


async def _run(
    websocket: WebSocket,
    target: StudentTarget,
    idle_s: float,
    command: str = ATTACH,
    *,
    accept_input: bool = True,
    activity: Callable[[], None] | None = None,
) -> None:
    try:
        connection = await asyncio.wait_for(
            asyncssh.connect(
                target.ssh_host,
                target.ssh_port,
                username=target.ssh_user,
                password=target.ssh_password,
                known_hosts=None,
                client_keys=None,
            ),
            CONNECT_TIMEOUT_S,
        )
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        await websocket.close(1011, f"your workstation cannot be reached: {exc}"[:120])
        return
    async with connection:
        process = await connection.create_process(
            command, term_type="xterm-256color", term_size=(80, 24), encoding=None
        )
        output = asyncio.create_task(_pump_output(process, websocket))
        try:
            await _pump_input(websocket, process, idle_s, accept_input, activity)
        finally:
            output.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await output
            process.close()


async def _pump_output(process: asyncssh.SSHClientProcess[bytes], websocket: WebSocket) -> None:
    while True:
        data = await process.stdout.read(MAX_FRAME)
        if not data:
            with contextlib.suppress(Exception):
                await websocket.close(1000, "the shell ended")
            return
        await websocket.send_bytes(data)


async def _pump_input(
    websocket: WebSocket,
    process: asyncssh.SSHClientProcess[bytes],
    idle_s: float,
    accept_input: bool = True,
    activity: Callable[[], None] | None = None,
) -> None:
    last = 0.0
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), idle_s)
        except TimeoutError:
            await websocket.close(1000, f"closed after {idle_s / 60:.0f} minutes without input")
            return
        except WebSocketDisconnect:
            return
        if message["type"] == "websocket.disconnect":
            return
        try:
            if message.get("bytes") is not None:
                data = message["bytes"]
                if len(data) > MAX_FRAME:
                    raise ProtocolViolation(f"frame over {MAX_FRAME} octets")
                if accept_input:
                    process.stdin.write(data)
                    if activity is not None and time.monotonic() - last > 1.0:
                        last = time.monotonic()
                        activity()
            elif message.get("text") is not None:
                cols, rows = parse_control(message["text"])
                process.change_terminal_size(cols, rows)
            else:
                raise ProtocolViolation("empty frame")
        except ProtocolViolation as exc:
            await websocket.close(1008, str(exc))
            return
