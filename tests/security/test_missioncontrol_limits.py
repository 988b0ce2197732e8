"""One unauthenticated request must not kill mission control (issue 12).

The attack: a 64 MiB JSON body to ``/api/login``. Mission control read it whole and
parsed it, and its container's memory limit killed the process, every operator's session
with it. Here the real program (``python -m labctl.range.hosts.missioncontrol``, uvicorn and
all) runs in a subprocess on a loopback port; the test sends the attacks over a raw
socket and reads the server's peak resident memory (VmHWM) from /proc before and after.
Everything stays on 127.0.0.1 (``mc_live.py``): the ground station it is configured with
is a loopback port nobody listens on.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path.
sys.path.append(str(Path(__file__).parent))

from mc_live import Server, mission_control

from labctl.range.hosts.missioncontrol.limits import BODY_TIMEOUT, HEAD_TIMEOUT

ATTACK: int = 64 << 20  # octets, as in the report
#: What the server may add to its peak resident memory while refusing the attack.
PEAK_GROWTH: int = 24 << 20
CHUNK: bytes = b" " * (64 << 10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with mission_control(tmp_path) as running:
        yield running


def warmed_up(server: Server) -> int:
    """Exercise the ordinary paths once, then return the peak RSS they cost."""
    auth = server.login()
    for path in ("/api/telemetry", "/api/events", "/api/audit", "/api/commands"):
        assert server.get(path, auth)[0] == 200, path
    return server.peak_rss()


def attack(server: Server, head: bytes, framed: bool) -> tuple[bytes, int]:
    """Send ``head`` then up to 64 MiB of body, stopping once the server answers or hangs
    up. Returns the server's answer (its first octets) and how many body octets went."""
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        while sent < ATTACK:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if framed else CHUNK
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        if framed and sent >= ATTACK:
            sock.sendall(b"0\r\n\r\n")
        return read_answer(sock), sent


def read_answer(sock: socket.socket) -> bytes:
    """What the server says until it closes the connection (refusals say close)."""
    answer = b""
    try:
        while len(answer) < 65536 and (piece := sock.recv(4096)):
            answer += piece
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def assert_unhurt(server: Server, peak_before: int) -> None:
    growth = server.peak_rss() - peak_before
    assert growth < PEAK_GROWTH, f"peak RSS grew by {growth >> 20} MiB"
    assert server.alive()
    assert server.get("/api/health")[0] == 200
    assert server.get("/api/events", server.login())[0] == 200
    assert "Traceback" not in server.output()


def test_a_64_mib_login_body_is_refused_and_costs_no_memory(server: Server) -> None:
    peak = warmed_up(server)
    head = (
        b"POST /api/login HTTP/1.1\r\nHost: mc\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % ATTACK
    )
    answer, sent = attack(server, head, framed=False)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"request body too large" in answer
    assert sent < ATTACK // 8  # refused on its head, long before the body was through
    assert_unhurt(server, peak)


def test_a_64_mib_chunked_login_body_is_cut_at_the_cap(server: Server) -> None:
    peak = warmed_up(server)
    head = (
        b"POST /api/login HTTP/1.1\r\nHost: mc\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer, sent = attack(server, head, framed=True)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < ATTACK // 8
    assert_unhurt(server, peak)


def test_an_endless_body_nobody_reads_ends_with_the_answer(server: Server) -> None:
    peak = warmed_up(server)
    head = b"GET /api/health HTTP/1.1\r\nHost: mc\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        answer = read_answer(sock)  # until the server hangs up (or 10 s: then it failed)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        assert b"connection: close" in answer.lower()
        sock.settimeout(2)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1) == b""  # closed, not waiting for the rest of the body
    assert_unhurt(server, peak)


def test_idle_connections_do_not_lock_operators_out(server: Server) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(100)]
    try:
        assert server.get("/api/health")[0] == 200
    finally:
        for sock in held:
            sock.close()


def test_a_head_that_never_ends_is_cut_off(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEAD_TIMEOUT + 5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: mc\r\nX-Slow: ")
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started >= HEAD_TIMEOUT - 0.5
    assert server.get("/api/health")[0] == 200


def test_a_trickled_body_is_cut_off(server: Server) -> None:
    head = (
        b"POST /api/login HTTP/1.1\r\nHost: mc\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=BODY_TIMEOUT + 5) as sock:
        started = time.monotonic()
        sock.sendall(head)
        answer = b""
        while not answer and time.monotonic() - started < BODY_TIMEOUT + 3:
            # one octet a second, until the server answers
            sock.sendall(b" ")
            if select.select([sock], [], [], 1)[0]:
                answer = read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert BODY_TIMEOUT - 0.5 <= time.monotonic() - started < BODY_TIMEOUT + 3
    assert server.get("/api/health")[0] == 200


def test_requests_cannot_flood_the_log(server: Server) -> None:
    """uvicorn warns once per bad request (two lines for an unsupported upgrade): a
    flood of them would push everything else out of the container's rotated log."""
    for _ in range(50):
        for head in (
            b"GET /api/health HTTP/1.1\r\nHost: mc\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\n\r\n",
            b"\x16\x03\x01 not HTTP at all\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(head)
                assert sock.recv(4096).startswith(b"HTTP/1.1 ")
    output = server.output()
    for warning in ("Invalid HTTP request received.", "Unsupported upgrade request."):
        assert 1 <= output.count(warning) <= 5, warning
    assert len([line for line in output.splitlines() if line.startswith("WARNING:")]) <= 15
    assert server.get("/api/health")[0] == 200


def send_head(server: Server, fields: int, value: bytes) -> bytes:
    head = b"GET /api/health HTTP/1.1\r\nHost: mc\r\n"
    head += b"".join(b"X-Fill-%d: %s\r\n" % (i, value) for i in range(fields)) + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        return read_answer(sock)


def test_oversized_heads_are_refused_and_the_server_goes_on(server: Server) -> None:
    peak = warmed_up(server)
    # 65 short fields: the head is small, the application's limit refuses it.
    assert send_head(server, 65, b"1").startswith(b"HTTP/1.1 431 ")
    # 256 KiB of fields: uvicorn's h11 buffer (16 KiB) refuses it before any parsing.
    assert send_head(server, 64, b"a" * 4000).startswith(b"HTTP/1.1 400 ")
    assert_unhurt(server, peak)


def test_huge_integers_are_422_and_leave_no_traceback(server: Server) -> None:
    auth = server.login()
    for path in ("/api/telemetry?before=", "/api/events?before=", "/api/audit?before="):
        status, body = server.get(path + "9" * 20, auth)
        assert status == 422, (path, body)
    status, body = server.get("/api/commands/sent/" + "9" * 20, auth)
    assert status == 422, body
    assert json.loads(body)["detail"].startswith("path.command_id:")
    assert server.alive()
    assert "Traceback" not in server.output()
