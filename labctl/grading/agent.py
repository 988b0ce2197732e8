"""The grader's side of the vantage agent (:mod:`labctl.grading.vantage_agent`): one
program in the vantage for the whole grading run, driven over one :class:`Channel`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from labctl.backends.vantage import Channel
from labctl.errors import BackendError
from labctl.grading.vantage_agent import HELLO, READY

AGENT_ARGV: Final = ("python3", "-m", "labctl.grading.vantage_agent")
#: How long the agent may take to answer its first request (a Python start-up, loaded).
HELLO_S: Final = 20.0
#: Beyond a program's own timeout: the agent kills it then, and says so.
SLACK_S: Final = 10.0

OnLine = Callable[[str], None]


class AgentSession:
    """Runs vantage programs one at a time through the agent; thread-safe."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._pending = b""
        self._lock = threading.Lock()
        self._broken = ""

    def hello(self, seconds: float = HELLO_S) -> None:
        """Wait for the agent's answer to the first request; BackendError if none."""
        with self._lock:
            self._send(HELLO)
            reply = self._reply(time.monotonic() + seconds)
        if reply != READY:
            raise self._fail(f"the vantage agent did not start: {reply}")

    def run(
        self, argv: Sequence[str], timeout: float, on_line: OnLine | None = None
    ) -> tuple[int, str]:
        """(exit status, output) of ``argv`` in the vantage; 124 if it outlived ``timeout``."""
        lines: list[str] = []
        with self._lock:
            self._send({"argv": list(argv), "timeout": timeout})
            deadline = time.monotonic() + timeout + SLACK_S
            while True:
                reply = self._reply(deadline)
                if "exit" in reply:
                    return int(reply["exit"]), "".join(f"{line}\n" for line in lines)
                line = str(reply.get("line", ""))
                lines.append(line)
                if on_line is not None:
                    on_line(line)

    def close(self) -> None:
        self._channel.close()

    def _send(self, message: dict[str, Any]) -> None:
        if self._broken:
            raise BackendError("vantage agent", self._broken)
        self._channel.send((json.dumps(message) + "\n").encode())

    def _reply(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._pending:
            data = self._channel.receive(max(deadline - time.monotonic(), 0.0))
            if data is None:
                raise self._fail("the vantage agent did not answer in time")
            if not data:
                raise self._fail(
                    f"the vantage agent ended: {self._pending.decode(errors='replace')[-300:]}"
                )
            self._pending += data
        line, self._pending = self._pending.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise self._fail(f"the vantage agent said: {line.decode(errors='replace')[:300]}")
        return reply

    def _fail(self, why: str) -> BackendError:
        """Once the stream is out of step, nothing more can be asked of it."""
        self._broken = why
        return BackendError("vantage agent", why)
