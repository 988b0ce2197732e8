"""``labctl solve``'s work (graders.live.solution.solve) on a fake engine and an
in-process mission control: the remediation step by step, the restarts, the events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from graders.live.solution import ScriptRun, solve
from graders.live.target import GradeTarget
from labctl.backends.base import Backend, ExecResult
from labctl.spec import load_lab

REPO = Path(__file__).resolve().parents[3]
#: Its remediation is one script on mission control, which then restarts.
LOADED = load_lab(REPO / "labs" / "mc-access")


class Linked(BaseHTTPRequestHandler):
    """Mission control's health: linked to the ground station."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"ground_link": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def mission_control() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Linked)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@dataclass
class FakeEngine:
    """A vantage, execs that succeed, restarts; every call remembered."""

    name: str = "fake-solve"
    running: set[str] = field(default_factory=set)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def run_vantage(self, instance_id: str, host: str, **_: object) -> None:
        self.running.add(host)

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        self.running.discard(host)
        return True

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        return True

    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root", **_: object
    ) -> ExecResult:
        self.calls.append(("exec", host, user))
        return ExecResult(0, "applied\ndone\n")

    def restart(self, instance_id: str, host: str) -> None:
        self.calls.append(("restart", host))

    def vantages(self) -> FakeEngine:
        return self


def test_the_remediation_runs_as_the_student_on_the_workstation(mission_control: str) -> None:
    """mc-access's fix goes through the student's own access: one step on the attacker as
    the student, and no restart through the engine (the script restarts the server)."""
    engine = FakeEngine()
    target = GradeTarget("lab-x", "ada", 7, mission_control, {})
    events: list[str] = []
    runs = solve(cast(Backend, engine), LOADED, target, attack=False, note=events.append)
    assert runs == [ScriptRun("solution/remediate.py", "attacker", 0, "done")]
    assert engine.calls == [("exec", "attacker", "student")]
    assert events == ["remediation: solution/remediate.py on attacker as student"]


def test_nothing_asked_runs_nothing_but_the_readiness_check(mission_control: str) -> None:
    engine = FakeEngine()
    target = GradeTarget("lab-x", "ada", 7, mission_control, {})
    assert solve(cast(Backend, engine), LOADED, target, attack=False, remediate=False) == []
    assert engine.calls == []
    assert engine.running == set()
