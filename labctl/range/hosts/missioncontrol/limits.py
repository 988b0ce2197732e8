"""What one HTTP request may cost mission control, enforced before anything parses it.

Two pure ASGI middlewares and the server's own limits:

- :class:`RequestLimits` refuses a request whose header fields are too many or too large
  (431), whose target is too long (414), whose ``Content-Length`` is malformed (400) or
  over the body cap (413), before the application sees it; a body without a declared
  length (chunked) is counted as it is read and cut with 413 once over the cap. Every
  refusal, and every answer sent before the body was read to its end, says
  ``Connection: close``, so the server stops reading the rest.
- :class:`ErrorBarrier` turns any exception that escapes the application into a 500
  without details and one short log line (no traceback: a request must not be able to
  write 17 KB into the log), at most :data:`ERROR_LINES_PER_MINUTE` lines a minute per
  exception type, then a count (:mod:`labctl.range.hosts.ratelimit`, as every host's log).
- :data:`UVICORN_LIMITS` bounds what uvicorn itself buffers and how many connections it
  serves; :data:`HEAD_TIMEOUT` is the deadline :mod:`.server` gives each request head
  (docs/ground-segment.md lists every figure).
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labctl.range.hosts.ratelimit import RateLimitedLog

LOG: Final = logging.getLogger("labctl.missioncontrol")

#: Every body: JSON API calls and the UI's forms are a few hundred octets.
MAX_BODY: Final = 64 * 1024
#: Routes that need a larger body, by path, each with its reason in docs/ground-segment.md.
BODY_CAPS: Final[Mapping[str, int]] = {}
MAX_HEADER_COUNT: Final = 64
#: One header field, name and value (our cookies are under 200 octets).
MAX_HEADER_LINE: Final = 8 * 1024
#: All header fields together; uvicorn's h11 buffer bounds the raw head to the same figure.
MAX_HEADER_TOTAL: Final = 16 * 1024
#: Path plus query string.
MAX_TARGET: Final = 4 * 1024
#: Ids are SQLite INTEGER PRIMARY KEYs: signed 64 bits.
MAX_ID: Final = 2**63 - 1
ERROR_LINES_PER_MINUTE: Final = 5
#: Seconds a connection may take to send a request's head (after opening or an answer).
HEAD_TIMEOUT: Final = 5.0
#: Seconds a request's body may take to come in, from the moment the route asks for it.
BODY_TIMEOUT: Final = 10.0

#: uvicorn's own limits; :mod:`.server` adds its h11 protocol with the head deadline.
UVICORN_LIMITS: Final[Mapping[str, Any]] = {
    "h11_max_incomplete_event_size": MAX_HEADER_TOTAL,
    # Connections and tasks at once; beyond it uvicorn answers 503. At 512, each holding
    # a head and a body just under their caps, the server stays near 110 MiB.
    "limit_concurrency": 512,
    "backlog": 128,
    "timeout_keep_alive": 5,
}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its cap; an HTTPException, so
    FastAPI's body parsing lets it through and the application answers it (JSON for the
    API, the error page for the UI)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, too_large(cap), headers={"connection": "close"})


class BodyTooSlow(HTTPException):
    """Raised from ``receive`` when a body has not come in within BODY_TIMEOUT seconds:
    a client trickling a body must not hold a connection slot for ever."""

    def __init__(self, seconds: float) -> None:
        message = f"request body too slow: {seconds:g} s at most"
        super().__init__(408, message, headers={"connection": "close"})


def too_large(cap: int) -> str:
    return f"request body too large: at most {cap} octets"


def body_cap(path: str) -> int:
    return BODY_CAPS.get(path, MAX_BODY)


def header_problem(scope: Scope) -> tuple[int, str] | None:
    """The status and message refusing this request's head, or None when it is fine."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    if len(headers) > MAX_HEADER_COUNT:
        return 431, f"too many header fields: at most {MAX_HEADER_COUNT}"
    sizes = [len(name) + len(value) for name, value in headers]
    if any(size > MAX_HEADER_LINE for size in sizes):
        return 431, f"header field too large: at most {MAX_HEADER_LINE} octets"
    if sum(sizes) > MAX_HEADER_TOTAL:
        return 431, f"header fields too large: at most {MAX_HEADER_TOTAL} octets in all"
    path = scope.get("raw_path") or str(scope.get("path", "")).encode()
    target = len(path) + len(scope.get("query_string", b""))
    if target > MAX_TARGET:
        return 414, f"request target too long: at most {MAX_TARGET} octets"
    return None


def declared_length(scope: Scope) -> int | None:
    """The Content-Length, None when absent; ValueError when it is not one decimal number."""
    values = {v.strip() for k, v in scope.get("headers", []) if k.lower() == b"content-length"}
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("conflicting content-length values")
    value = values.pop()
    if not value.isdigit():
        raise ValueError("content-length is not a decimal number of octets")
    return int(value) if len(value) <= 18 else 10**18  # longer is over any cap


async def refuse(send: Send, status: int, message: str) -> None:
    """Answer with ``{"detail": message}`` and close the connection afterwards."""
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuses oversized heads and bodies before the application parses them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = header_problem(scope)
        if problem is not None:
            await refuse(send, *problem)
            return
        cap = body_cap(scope["path"])
        try:
            length = declared_length(scope)
        except ValueError as exc:
            await refuse(send, 400, str(exc))
            return
        if length is not None and length > cap:
            await refuse(send, 413, too_large(cap))
            return
        has_body = bool(length) or (length is None and _chunked(scope))
        body = _Body(receive, send, cap, done=not has_body)
        await self.app(scope, body.receive, body.send)


def _chunked(scope: Scope) -> bool:
    return any(k.lower() == b"transfer-encoding" for k, _ in scope.get("headers", []))


class _Body:
    """Counts the body as the application reads it (BodyTooLarge once past ``cap``, and
    BodyTooSlow once it has taken BODY_TIMEOUT seconds), and closes the connection after
    a response sent while the body was still coming, so the server does not go on
    reading what nobody wants."""

    def __init__(self, receive: Receive, send: Send, cap: int, done: bool) -> None:
        self._receive, self._send, self.cap, self.done = receive, send, cap, done
        self.seen = 0
        self.deadline: float | None = None

    async def receive(self) -> Message:
        if self.seen > self.cap:
            raise BodyTooLarge(self.cap)
        # After the body only a disconnect comes: no deadline for that.
        message = await (self._receive() if self.done else self._before_deadline())
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.cap:
                raise BodyTooLarge(self.cap)
            self.done = not message.get("more_body", False)
        else:
            self.done = True  # the client went away
        return message

    async def _before_deadline(self) -> Message:
        now = asyncio.get_running_loop().time()
        if self.deadline is None:
            self.deadline = now + BODY_TIMEOUT
        try:
            return await asyncio.wait_for(self._receive(), max(0.0, self.deadline - now))
        except TimeoutError:
            raise BodyTooSlow(BODY_TIMEOUT) from None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.done:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)


class ErrorBarrier:
    """The last catch: a 500 without details and a rate-limited one-line log entry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = RateLimitedLog(LOG, burst=ERROR_LINES_PER_MINUTE, period=60.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            kind = f"internal error ({type(exc).__name__})"
            self.log.event(kind, "%s", error_line(scope, exc), level=logging.ERROR)
            if not started:
                await refuse(send, 500, "internal error")
            # Otherwise the response is cut short; the server closes the connection.


def _printable(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters: a client controls some of it."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_line(scope: Scope, exc: BaseException) -> str:
    """``internal error on GET /api/x: Type: message (at file.py:line)`` on one line."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    what = _printable(f"{type(exc).__name__}: {exc}", 200)
    return f"internal error on {scope.get('method', '?')} {_printable(path, 100)}: {what}{where}"
