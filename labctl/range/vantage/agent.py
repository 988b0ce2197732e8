"""One process in the grader vantage that runs every vantage program of a grading run.

Started once per run (``python3 -m labctl.range.vantage.agent``, one ``docker exec``
with its stdin open), it replaces a ``docker exec`` and a Python start-up per program:
about 0.15 CPU-seconds each of dockerd, containerd, the shim, runc and the interpreter.
It answers on stdout, one JSON object a line, requests read from stdin one at a time
(the first is ``{"hello": 1}``, answered ``{"agent": ...}``)::

    → {"argv": ["python3", "-m", "labctl.range.vantage.replay", "capture"], "timeout": 35}
    ← {"line": "listening"}            each output line (stdout and stderr), as it comes
    ← {"exit": 0}                      then the exit status; 124 when the timeout ran out

``python3 -m labctl.range.vantage.*`` runs in a child forked from this process (the
module imported once, here); any other argv as a subprocess. The agent reads nothing but
its stdin, which only the grader holds: it listens on no network.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from typing import IO, Any, Final

from labctl.range import wiring

#: The first request, and the answer: the agent speaks only when spoken to, so nothing it
#: writes can reach the grader before the engine's stream is set up.
HELLO: Final = {"hello": 1}
READY: Final = {"agent": "labctl.range.vantage.agent"}
MODULE_PREFIX: Final = f"{wiring.VANTAGE_PACKAGE}."
TIMED_OUT: Final = 124
MAX_LINE: Final = 64 * 1024
READ_CHUNK: Final = 65536

Emit = Callable[[dict[str, Any]], None]


def in_process_module(argv: Sequence[str]) -> str | None:
    """The vantage module ``argv`` runs (``python3 -m labctl.range.vantage.X ...``)."""
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1].startswith("python3") and argv[1] == "-m":
        name = argv[2]
        if name.startswith(MODULE_PREFIX) and name.replace(".", "").replace("_", "").isalnum():
            return name
    return None


def _fork_module(name: str, args: list[str]) -> tuple[int, int]:
    """(pid, read end of its output): ``name``'s ``main(args)`` in a forked child."""
    main = importlib.import_module(name).main
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(write, 1)
            os.dup2(write, 2)
            sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
            code = int(main(args) or 0)
        except SystemExit as exc:  # argparse's errors, sys.exit(...)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code)
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        except BaseException as exc:  # the child reports and ends; the agent goes on
            print(f"{type(exc).__name__}: {exc}", flush=True)
        finally:
            with suppress(Exception):
                sys.stdout.flush()
            os._exit(code)
    os.close(write)
    return pid, read


def _lines(fd: int, deadline: float) -> Iterator[str | None]:
    """Output lines from ``fd`` until its end; None once when the deadline passes."""
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            yield None
            return
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE:
            complete, pending = [*complete, pending], b""
        for line in complete:
            yield line.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")


def run(argv: Sequence[str], timeout: float, emit: Emit) -> int:
    """Run ``argv``, emitting its output lines; its exit status (124: timed out)."""
    deadline = time.monotonic() + max(timeout, 0.0)
    module = in_process_module(argv)
    process: subprocess.Popen[bytes] | None = None
    if module is not None:
        pid, fd = _fork_module(module, list(argv[3:]))
    else:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        pid, fd = process.pid, process.stdout.fileno()
    timed_out = False
    try:
        for line in _lines(fd, deadline):
            if line is None:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            emit({"line": line})
    finally:
        if process is None:
            os.close(fd)
    if process is not None:
        code = process.wait()
        process.stdout.close()  # type: ignore[union-attr]
    else:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return TIMED_OUT if timed_out else code


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer each request line until ``requests`` ends."""

    def emit(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    for raw in requests:
        try:
            request = json.loads(raw)
            if request == HELLO:
                emit(READY)
                continue
            argv = [str(word) for word in request["argv"]]
            timeout = float(request.get("timeout", 60.0))
            if not argv:
                raise ValueError("empty argv")
        except (ValueError, KeyError, TypeError) as exc:
            emit({"line": f"bad request: {exc}"})
            emit({"exit": 2})
            continue
        try:
            code = run(argv, timeout, emit)
        except OSError as exc:
            emit({"line": f"{argv[0]}: {exc.strerror or exc}"})
            code = 127
        except Exception as exc:  # e.g. no such vantage module: that request fails, not the agent
            emit({"line": f"{type(exc).__name__}: {exc}"})
            code = 1
        emit({"exit": code})


def main() -> int:
    serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
