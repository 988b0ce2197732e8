"""The gateway's TCP relay (containers/runtime/labctl-forward), run in-process on the
loopback: large transfers both ways, half-closes, refused targets, many connections."""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "containers" / "runtime" / "labctl-forward"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("labctl_forward", str(SCRIPT))
    spec = importlib.util.spec_from_loader("labctl_forward", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


forward = _load()


def _serve(handle: object) -> tuple[int, socket.socket]:
    """A threaded TCP server on the loopback calling ``handle(conn)`` per connection."""
    server = socket.create_server(("127.0.0.1", 0))

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()  # type: ignore[arg-type]

    threading.Thread(target=loop, daemon=True).start()
    return int(server.getsockname()[1]), server


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _relay_to(port: int) -> int:
    relay = forward.Relay()
    listening = relay.listen("127.0.0.1", 0, ("127.0.0.1", port))
    threading.Thread(target=relay.run, daemon=True).start()
    return int(listening)


@pytest.fixture
def echo() -> Iterator[int]:
    port, server = _serve(_echo)
    yield _relay_to(port)
    server.close()


def _receive_all(conn: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        data = conn.recv(65536)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def test_megabytes_cross_both_ways_intact(echo: int) -> None:
    payload = bytes(range(256)) * (3 * 4096)  # 3 MiB: far beyond the relay's buffers
    with socket.create_connection(("127.0.0.1", echo), timeout=20) as conn:
        sender = threading.Thread(target=conn.sendall, args=(payload,))
        sender.start()
        received = _receive_all(conn, len(payload))
        sender.join()
    assert received == payload


def test_a_half_close_is_passed_on_and_the_answer_still_arrives() -> None:
    def answer(conn: socket.socket) -> None:
        with conn:
            asked = b""
            while data := conn.recv(1024):  # until the client's end-of-stream
                asked += data
            conn.sendall(b"you said " + asked)

    port, server = _serve(answer)
    with socket.create_connection(("127.0.0.1", _relay_to(port)), timeout=10) as conn:
        conn.sendall(b"hello")
        conn.shutdown(socket.SHUT_WR)
        assert _receive_all(conn, 1 << 20) == b"you said hello"
    server.close()


def test_a_refused_target_ends_the_clients_connection() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    relayed = ("127.0.0.1", _relay_to(port))
    # A reset ends it as well as an end-of-stream does.
    with (
        socket.create_connection(relayed, timeout=10) as conn,
        contextlib.suppress(ConnectionResetError),
    ):
        assert conn.recv(10) == b""


def test_many_connections_at_once(echo: int) -> None:
    conns = [socket.create_connection(("127.0.0.1", echo), timeout=10) for _ in range(60)]
    try:
        for index, conn in enumerate(conns):
            conn.sendall(f"n{index}".encode())
        for index, conn in enumerate(conns):
            expected = f"n{index}".encode()
            assert _receive_all(conn, len(expected)) == expected
    finally:
        for conn in conns:
            conn.close()


def test_bad_arguments_are_one_line() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "2222"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "usage: labctl-forward LISTEN_PORT=HOST:PORT ..."
