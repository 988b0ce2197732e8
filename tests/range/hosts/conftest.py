"""Loopback fixtures shared by the host program tests.

Host programs run in-process on 127.0.0.1 only: never any other address. pytest has no
asyncio plugin here, so tests run their coroutines with :func:`run_async` (asyncio.run
with a hard timeout, so a hung socket fails the test instead of the suite).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from labctl.range.hosts.udp import UdpEndpoint

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """asyncio.run with a deadline (asyncio.timeout: 3.11's wait_for can swallow cancels)."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


async def collect(
    endpoint: UdpEndpoint,
    until: Callable[[list[bytes]], bool],
    timeout: float = 3.0,
) -> list[bytes]:
    """Datagrams received on ``endpoint`` until ``until(datagrams)`` holds or time runs out."""
    received: list[bytes] = []
    deadline = time.monotonic() + timeout
    while not until(received):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                batch = await endpoint.receive_batch()
        except TimeoutError:
            break
        received.extend(data for data, _ in batch)
    return received


async def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``condition`` on the running loop until it holds (True) or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


@pytest.fixture
def loopback() -> SimpleNamespace:
    """The helpers above (the suite's import mode cannot import a conftest by name)."""
    return SimpleNamespace(
        host=LOOPBACK,
        free_udp_port=free_udp_port,
        run_async=run_async,
        collect=collect,
        eventually=eventually,
    )
