"""What one request may cost mission control (issue 12), in-process.

Bodies and headers are capped before anything parses them (a 64 MiB JSON body to
/api/login got the server OOM-killed); integers are bounded at the edge, so a huge id is
a 422 rather than an SQLite overflow; and no request can make the server log a
traceback. The ASGI calls here drive the application directly, with a ``receive`` that
counts what the application read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from labctl.range.hosts.missioncontrol import limits
from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.limits import (
    MAX_BODY,
    MAX_HEADER_COUNT,
    MAX_HEADER_LINE,
    MAX_ID,
    MAX_TARGET,
)
from labctl.range.hosts.missioncontrol.settings import Settings

HUGE = 10**20  # beyond SQLite's signed 64-bit integers


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as test_client:
        yield test_client


def api_token(client: TestClient, user: str = "admin", password: str = "admin") -> dict[str, str]:
    response = client.post("/api/login", json={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@dataclass
class AsgiResult:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int


@dataclass
class Caller:
    """Calls the ASGI application with a body in chunks; counts the chunks it reads."""

    app: FastAPI
    chunks: list[bytes] = field(default_factory=list)
    #: The client stops sending after the chunks without ending the body.
    stalls: bool = False

    def call(self, method: str, path: str, headers: list[tuple[str, str]]) -> AsgiResult:
        return asyncio.run(self._call(method, path, headers))

    async def _call(self, method: str, path: str, headers: list[tuple[str, str]]) -> AsgiResult:
        read = 0
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal read
            if read < len(self.chunks):
                read += 1
                return {
                    "type": "http.request",
                    "body": self.chunks[read - 1],
                    "more_body": self.stalls or read < len(self.chunks),
                }
            await asyncio.sleep(3600)  # the client sent everything; nothing more comes
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8080),
        }
        await asyncio.wait_for(self.app(scope, receive, send), 10)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        names = {k.decode(): v.decode() for k, v in start["headers"]}
        return AsgiResult(start["status"], names, body, read)


# --- bodies ---------------------------------------------------------------------------------


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(app: FastAPI) -> None:
    caller = Caller(app, [b"x" * 4096] * 16_384)  # 64 MiB, as in the attack
    headers = [("content-type", "application/json"), ("content-length", str(64 << 20))]
    result = caller.call("POST", "/api/login", headers)
    assert result.status == 413
    assert result.chunks_read == 0
    assert result.headers["connection"] == "close"
    assert json.loads(result.body) == {
        "detail": f"request body too large: at most {MAX_BODY} octets"
    }


def test_a_body_at_the_cap_still_reaches_the_route(app: FastAPI) -> None:
    document = json.dumps({"username": "admin", "password": "wrong"}).encode()
    padded = document[:-1] + b" " * (MAX_BODY - len(document)) + b"}"
    caller = Caller(app, [padded])
    headers = [("content-type", "application/json"), ("content-length", str(len(padded)))]
    assert caller.call("POST", "/api/login", headers).status == 401


@pytest.mark.parametrize("length", ["-1", "12x", "0x10", " "])
def test_a_malformed_content_length_is_a_400(app: FastAPI, length: str) -> None:
    result = Caller(app, [b"{}"]).call("POST", "/api/login", [("content-length", length)])
    assert result.status == 400
    assert b"content-length" in result.body


def test_two_different_content_lengths_are_a_400(app: FastAPI) -> None:
    headers = [("content-length", "2"), ("content-length", "3")]
    assert Caller(app, [b"{}"]).call("POST", "/api/login", headers).status == 400


def test_a_content_length_too_long_to_be_a_number_is_a_413(app: FastAPI) -> None:
    result = Caller(app, [b"{}"]).call("POST", "/api/login", [("content-length", "9" * 5000)])
    assert result.status == 413


def test_a_chunked_json_body_is_counted_and_cut_at_the_cap(app: FastAPI) -> None:
    caller = Caller(app, [b'{"username": "' + b"a" * 1024] + [b"a" * 1024] * 1024)
    headers = [("content-type", "application/json"), ("transfer-encoding", "chunked")]
    result = caller.call("POST", "/api/login", headers)
    assert result.status == 413
    assert result.chunks_read <= MAX_BODY // 1024 + 2  # stopped reading at the cap
    assert result.headers["connection"] == "close"
    assert json.loads(result.body)["detail"].startswith("request body too large")


def test_a_chunked_login_form_is_cut_at_the_cap(app: FastAPI) -> None:
    caller = Caller(app, [b"username=" + b"a" * 1024] + [b"a" * 1024] * 1024)
    headers = [("content-type", "application/x-www-form-urlencoded")]
    result = caller.call("POST", "/login", headers)
    assert result.status == 413
    assert result.chunks_read <= MAX_BODY // 1024 + 2
    assert b"request body too large" in result.body  # the UI's error page


def test_the_cap_also_holds_through_the_test_client(client: TestClient) -> None:
    def stream() -> Iterator[bytes]:
        yield b'{"username": "admin", "password": "'
        for _ in range(200):
            yield b"p" * 1024

    response = client.post(
        "/api/login", content=stream(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert client.get("/api/health").status_code == 200


def test_a_body_the_route_never_reads_closes_the_connection(app: FastAPI) -> None:
    caller = Caller(app, [b"x" * 1024] * 4)
    result = caller.call("GET", "/api/health", [("transfer-encoding", "chunked")])
    assert result.status == 200
    assert result.chunks_read == 0
    assert result.headers["connection"] == "close"  # the server stops reading the rest


def test_a_request_whose_body_was_read_keeps_its_connection(app: FastAPI) -> None:
    body = json.dumps({"username": "admin", "password": "wrong"}).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    result = Caller(app, [body]).call("POST", "/api/login", headers)
    assert result.status == 401
    assert "connection" not in result.headers


def test_a_body_that_stops_coming_is_a_408(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "BODY_TIMEOUT", 0.3)
    caller = Caller(app, [b'{"username": "ad'], stalls=True)
    headers = [("content-type", "application/json"), ("content-length", "1000")]
    started = time.monotonic()
    result = caller.call("POST", "/api/login", headers)
    assert result.status == 408
    assert time.monotonic() - started < 5
    assert result.headers["connection"] == "close"
    assert json.loads(result.body) == {"detail": "request body too slow: 0.3 s at most"}


def test_the_body_deadline_does_not_cut_a_request_whose_body_is_in(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "BODY_TIMEOUT", 0.3)
    caller = Caller(app, [b'{"username": "admin", "password": "wrong"}'])
    headers = [("content-type", "application/json"), ("transfer-encoding", "chunked")]
    assert caller.call("POST", "/api/login", headers).status == 401


# --- headers and the request target ----------------------------------------------------------


def test_too_many_header_fields_is_a_431(app: FastAPI) -> None:
    headers = [(f"x-h{i}", "1") for i in range(MAX_HEADER_COUNT + 1)]
    result = Caller(app).call("GET", "/api/health", headers)
    assert result.status == 431
    assert json.loads(result.body)["detail"] == (
        f"too many header fields: at most {MAX_HEADER_COUNT}"
    )
    assert Caller(app).call("GET", "/api/health", headers[:-1]).status == 200


def test_one_oversized_header_field_is_a_431(app: FastAPI) -> None:
    result = Caller(app).call("GET", "/api/health", [("cookie", "a" * MAX_HEADER_LINE)])
    assert result.status == 431
    assert b"header field too large" in result.body


def test_an_oversized_request_target_is_a_414(app: FastAPI) -> None:
    result = Caller(app).call("GET", "/api/telemetry?since=" + "1" * MAX_TARGET, [])
    assert result.status == 414


# --- integers at the edge ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/telemetry?before={HUGE}",
        f"/api/events?before={HUGE}",
        f"/api/audit?before={HUGE}",
        f"/api/commands/sent/{HUGE}",
        f"/api/commands/sent/-{HUGE}",
        f"/api/telemetry?before={MAX_ID + 1}",
        "/api/telemetry?limit=501",
        f"/api/commands/sent?limit={HUGE}",
    ],
)
def test_huge_integers_are_a_clear_422(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get(path, headers=api_token(client))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.split(":")[0] in {"query.before", "query.limit", "path.command_id"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_largest_id_is_accepted(client: TestClient) -> None:
    auth = api_token(client)
    assert client.get(f"/api/events?before={MAX_ID}", headers=auth).status_code == 200
    assert client.get(f"/api/commands/sent/{MAX_ID}", headers=auth).status_code == 404


def test_huge_command_arguments_are_a_422(client: TestClient) -> None:
    body = {"name": "SET_MODE", "args": {"mode": HUGE}}
    response = client.post("/api/commands", json=body, headers=api_token(client))
    assert response.status_code == 422
    assert response.json()["detail"].startswith("args.mode:")


@pytest.mark.parametrize("page", ["/telemetry", "/events", "/audit"])
def test_ui_pages_bound_their_integers_too(client: TestClient, page: str) -> None:
    login = client.post("/api/login", json={"username": "admin", "password": "admin"}).json()
    client.cookies.set("mc_session", login["token"])
    assert client.get(page).status_code == 200
    response = client.get(f"{page}?before={HUGE}")
    assert response.status_code == 422
    assert "before" in response.text


# --- no traceback in the log ---------------------------------------------------------------


def _add_failing_route(app: FastAPI) -> None:
    async def broken() -> None:
        raise RuntimeError("boom\nTraceback (most recent call last): forged line")

    app.add_api_route("/api/broken", broken)


def test_an_unexpected_error_is_a_bare_500_and_one_log_line(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    _add_failing_route(app)
    with TestClient(app, raise_server_exceptions=True) as client, caplog.at_level(logging.INFO):
        response = client.get("/api/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert not errors[0].exc_info  # no traceback
    line = errors[0].getMessage()
    assert "\n" not in line
    assert line.startswith("internal error on GET /api/broken: RuntimeError: boom")
    assert "test_limits.py:" in line  # where it was raised, instead of the traceback


def test_repeated_errors_are_rate_limited(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    _add_failing_route(app)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.INFO):
        statuses = {client.get("/api/broken").status_code for _ in range(50)}
    assert statuses == {500}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 <= len(errors) <= 5


# --- password checks -------------------------------------------------------------------------


def test_password_checks_run_off_the_event_loop_one_at_a_time(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash costs tens of milliseconds and 16 MiB: a flood of logins must neither stall
    the event loop (every other request) nor run many hashes at once."""
    auth = app.state.mission.auth
    real_login = auth.login
    running, peak, on_loop = 0, 0, []

    def slow_login(username: str, password: str) -> Any:
        nonlocal running, peak
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        running += 1
        peak = max(peak, running)
        time.sleep(0.05)
        running -= 1
        return real_login(username, password)

    monkeypatch.setattr(auth, "login", slow_login)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mc") as client:
            body = {"username": "admin", "password": "admin"}
            answers = await asyncio.gather(
                *(client.post("/api/login", json=body) for _ in range(6))
            )
        return [r.status_code for r in answers]

    assert asyncio.run(main()) == [200] * 6
    assert on_loop == [False] * 6
    assert peak == 1
