"""The vantage agent and the grader's session with it, over real pipes (no engine)."""

from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from graders.live.agent import AGENT_ARGV, AgentSession, FileReader
from labctl.backends.docker.vantage import DockerChannel
from labctl.errors import BackendError
from labctl.range.vantage.agent import TIMED_OUT, in_process_module


class PipeChannel:
    """The agent as a local subprocess: what a ``docker exec`` with stdin gives."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except OSError as exc:  # as DockerChannel does
            raise BackendError("write to a program's stdin", str(exc)) from exc

    def receive(self, timeout: float) -> bytes | None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return None
        return os.read(fd, 65536)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def agent() -> Iterator[AgentSession]:
    session = AgentSession(PipeChannel([sys.executable, *AGENT_ARGV[1:]]))
    session.hello()
    yield session
    session.close()


def test_a_vantage_module_runs_in_the_agent_and_streams_its_lines(agent: AgentSession) -> None:
    seen: list[str] = []
    argv = ["python3", "-m", "labctl.range.vantage.replay", "capture", "--port", "0"]
    code, output = agent.run([*argv, "--timeout", "0.2"], 10.0, seen.append)
    assert code == 2
    assert seen[0] == "listening"
    assert output.splitlines() == seen
    assert '"error": "no type-AD frame within 0.2 s"' in output


def test_argument_errors_and_other_programs_keep_their_exit_status(agent: AgentSession) -> None:
    code, output = agent.run(["python3", "-m", "labctl.range.vantage.replay", "nope"], 10.0)
    assert code == 2
    assert "invalid choice" in output
    assert agent.run(["sh", "-c", "echo one; echo two >&2; exit 3"], 10.0) == (3, "one\ntwo\n")
    code, output = agent.run(["no-such-program-here"], 10.0)
    assert code == 127
    code, output = agent.run(["python3", "-m", "labctl.range.vantage.nothing"], 10.0)
    assert code == 1
    assert "No module named" in output
    assert agent.run(["true"], 5.0) == (0, "")  # and the agent goes on


def test_a_program_that_outlives_its_timeout_is_killed_like_timeout_does(
    agent: AgentSession,
) -> None:
    assert agent.run(["sh", "-c", "echo started; exec sleep 30"], 0.5) == (TIMED_OUT, "started\n")
    assert agent.run(["true"], 5.0) == (0, "")  # and the agent goes on


def test_a_missing_agent_is_a_backend_error_not_a_hang() -> None:
    session = AgentSession(PipeChannel([sys.executable, "-c", "print('No module named x')"]))
    with pytest.raises(BackendError, match="No module named x"):
        session.hello(5.0)
    with pytest.raises(BackendError):
        session.run(["true"], 1.0)
    session.close()


def test_only_labctl_vantage_modules_run_in_process() -> None:
    assert in_process_module(["python3", "-m", "labctl.range.vantage.replay", "x"])
    assert in_process_module(["python3", "-m", "graders.live.agent"]) is None
    assert in_process_module(["python3", "-c", "labctl.range.vantage.replay"]) is None
    assert in_process_module(["sh", "-m", "labctl.range.vantage.replay"]) is None


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def test_the_docker_channel_reassembles_multiplexed_frames() -> None:
    ours, engine = socket.socketpair()
    channel = DockerChannel(ours)
    assert channel.receive(0.05) is None
    whole = frame(1, b'{"line": "a"}\n') + frame(2, b"err\n")
    engine.sendall(whole[:5])
    assert channel.receive(0.05) is None  # half a header: nothing yet
    engine.sendall(whole[5:])
    assert channel.receive(1.0) == b'{"line": "a"}\nerr\n'
    channel.send(b"hello\n")
    assert engine.recv(100) == b"hello\n"
    engine.close()
    assert channel.receive(1.0) == b""
    channel.close()


def test_the_file_reader_reads_the_file_again_on_each_request(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    path.write_text('{"a": 1}')  # no final newline
    channel = PipeChannel(FileReader.argv(str(path), "MARK-1"))
    reader = FileReader(channel, "MARK-1")
    assert reader.read(10.0) == (0, '{"a": 1}')
    path.write_text('{"a": 2}\nMARK-1\n')  # text that looks like the end, without a status
    assert reader.read(10.0) == (0, '{"a": 2}\nMARK-1\n')
    path.unlink()
    code, text = reader.read(10.0)
    assert code != 0
    assert "No such file" in text
    channel.process.kill()  # as a restart of its container ends it
    with pytest.raises(BackendError):
        reader.read(5.0)
    with suppress(OSError):
        reader.close()


def test_the_file_reader_refuses_a_forged_end_mark(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    path.write_text("{}\nMARK-2 not-a-status\n")  # a host's bytes: the mark, then garbage
    channel = PipeChannel(FileReader.argv(str(path), "MARK-2"))
    reader = FileReader(channel, "MARK-2")
    with pytest.raises(BackendError, match="garbled"):
        reader.read(10.0)
    channel.process.kill()
    with suppress(OSError):
        reader.close()
