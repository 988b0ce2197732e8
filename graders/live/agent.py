"""The grader's side of the vantage agent (:mod:`labctl.range.vantage.agent`): one
program in the vantage for the whole grading run, driven over one :class:`Channel`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from labctl.backends.vantage import Channel
from labctl.errors import BackendError
from labctl.range import wiring
from labctl.range.vantage.agent import HELLO, READY

AGENT_ARGV: Final = wiring.vantage_program("agent")
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


#: ``sh -c READ_LOOP MARK PATH``: the file, then a line "MARK <cat's exit status>", for each
#: line read (the random mark ends the file's text, whatever the file holds).
READ_LOOP: Final = 'while read -r _; do cat -- "$1"; s=$?; echo; echo "$0 $s"; done'
READ_S: Final = 30.0


class FileReader:
    """Reads one file of a host again and again through one ``sh`` left running there:
    one exec for many reads (the spacecraft's ground truth is read about ten times per
    grading run). The shell ends with its container (a restart): open a new reader."""

    def __init__(self, channel: Channel, mark: str) -> None:
        self._channel = channel
        self._mark = mark.encode()
        self._pending = b""
        self._lock = threading.Lock()

    @staticmethod
    def argv(path: str, mark: str) -> list[str]:
        return ["sh", "-c", READ_LOOP, mark, path]

    def read(self, seconds: float = READ_S) -> tuple[int, str]:
        """(cat's exit status, the file's text or cat's complaint)."""
        deadline = time.monotonic() + seconds
        with self._lock:
            self._channel.send(b"\n")
            while True:
                text, end, rest = self._pending.partition(b"\n" + self._mark + b" ")
                if end and b"\n" in rest:
                    status, self._pending = rest.split(b"\n", 1)
                    if not status.strip().isdigit():  # the host's bytes: never trusted
                        raise BackendError(
                            "read a file through sh", "the shell's answer is garbled"
                        )
                    return int(status), text.decode(errors="replace")
                data = self._channel.receive(max(deadline - time.monotonic(), 0.0))
                if not data:
                    why = "ended" if data == b"" else "did not answer in time"
                    raise BackendError("read a file through sh", f"the shell {why}")
                self._pending += data

    def close(self) -> None:
        self._channel.close()
