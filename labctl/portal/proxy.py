"""Mission control through the portal: ``/mission-control/…`` is a reverse proxy to the
logged-in student's own mission control, so no per-student port is ever handed out.

The target comes only from the resolver (the student's portal login), never from the
request: a student reaches their own instance and nothing else. Mission control is told
its prefix (``X-Forwarded-Prefix``), so its links, redirects and cookie paths stay under
``/mission-control/``; the student still logs into mission control with their own
mission-control account. Towards mission control the proxy drops the portal's own cookie
and the hop-by-hop headers, bounds the request body and follows no redirect; towards the
browser it drops hop-by-hop headers and keeps mission control's cookies on its prefix.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Final

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection

from labctl.portal.access import StudentTarget
from labctl.portal.auth import COOKIE

PREFIX: Final = "/mission-control"
MAX_BODY: Final = 1 << 20
TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
#: A path mission control serves: no dot segments, no scheme or host smuggling.
_PATH_RE: Final = re.compile(r"[A-Za-z0-9/._~%-]*")

Resolver = Callable[[HTTPConnection], Awaitable[StudentTarget]]


def safe_path(path: str) -> str:
    """``path`` as mission control should get it; HTTPException 400 for traversal."""
    if not _PATH_RE.fullmatch(path) or "%2f" in path.lower() or "%2e" in path.lower():
        raise HTTPException(400, "this path cannot go to mission control")
    parts = path.split("/")
    if any(part in {".", ".."} for part in parts) or path.startswith("/"):
        raise HTTPException(400, "this path cannot go to mission control")
    return "/" + path


def _request_headers(request: Request) -> dict[str, str]:
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in {"cookie", "origin", "referer"}
    }
    cookies = SimpleCookie()
    cookies.load(request.headers.get("cookie", ""))
    kept = "; ".join(
        f"{name}={morsel.coded_value}" for name, morsel in cookies.items() if name != COOKIE
    )
    if kept:
        headers["cookie"] = kept
    headers["x-forwarded-prefix"] = PREFIX
    headers["x-forwarded-proto"] = request.url.scheme
    headers["x-forwarded-host"] = request.headers.get("host", "")
    return headers


def _response_headers(upstream: httpx.Response) -> list[tuple[str, str]]:
    headers = []
    for name, raw in upstream.headers.multi_items():
        lower, value = name.lower(), raw
        if lower in HOP_BY_HOP:
            continue
        if lower == "location":
            if not raw.startswith("/") or raw.startswith("//"):
                continue  # mission control never sends the browser elsewhere
            value = raw if raw.startswith(PREFIX + "/") else PREFIX + raw
        if lower == "set-cookie" and f"path={PREFIX}" not in raw.lower():
            value = re.sub(r";\s*path=[^;]*", "", raw, flags=re.IGNORECASE)
            value = re.sub(r";\s*domain=[^;]*", "", value, flags=re.IGNORECASE)
            value += f"; Path={PREFIX}/"
        headers.append((name, value))
    return headers


def mission_control_router(resolve: Resolver) -> APIRouter:
    """``/mission-control/{path}`` for every method, to the student's own mission control."""
    router = APIRouter()
    clients: dict[int, httpx.AsyncClient] = {}

    def client() -> httpx.AsyncClient:
        """One pooled client per event loop (uvicorn has one; a test harness may not)."""
        loop = id(asyncio.get_running_loop())
        if loop not in clients:
            clients.clear()
            clients[loop] = httpx.AsyncClient(
                timeout=TIMEOUT,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            )
        return clients[loop]

    @router.api_route(PREFIX, methods=["GET", "HEAD"])
    async def root(request: Request) -> Response:
        await resolve(request)
        return Response(status_code=308, headers={"location": PREFIX + "/"})

    @router.api_route(
        PREFIX + "/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    )
    async def forward(request: Request, path: str) -> Response:
        target = await resolve(request)
        if not target.mission_control:
            raise HTTPException(404, "this lab has no mission control")
        upstream_path = safe_path(path)
        body = b""
        if request.method not in {"GET", "HEAD"}:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY:
                raise HTTPException(413, f"request bodies go up to {MAX_BODY // 1024} KiB")
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    raise HTTPException(413, f"request bodies go up to {MAX_BODY // 1024} KiB")
        url = target.mission_control + upstream_path
        http = client()
        upstream_request = http.build_request(
            request.method,
            url,
            params=str(request.query_params),
            headers=_request_headers(request),
            content=body,
        )
        try:
            upstream = await http.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"your mission control does not answer: {exc}") from None
        response = StreamingResponse(
            _body(upstream),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in _response_headers(upstream)
        ]
        return response

    return router


async def _body(upstream: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in upstream.aiter_raw():
        yield chunk
