"""``labctl adversary log``: the adversary's log as a table or JSON lines, from a fake engine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from typer.testing import CliRunner

from labctl.backends.base import ExecResult
from labctl.cli import adversary
from labctl.cli.app import app
from labctl.errors import NotFoundError
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH

ENTRY = {
    "t": "2026-11-22T01:23:56.678+00:00",
    "offset": 15.0,
    "step": 2,
    "repeat": 1,
    "action": "hazardous_command",
    "outcome": "done",
    "success": True,
    "detail": "mission control accepted SAFE_MODE (HTTP 201)",
    "http_status": 201,
}


class FakeEngine:
    def __init__(self, log: str | None) -> None:
        self.log = log
        self.calls: list[tuple[str, str, list[str]]] = []

    def exec(self, instance: str, host: str, argv: Sequence[str], user: str = "root") -> Any:
        self.calls.append((instance, host, list(argv)))
        if self.log is None:
            raise NotFoundError("host", host)
        return ExecResult(0, self.log)


def run(monkeypatch: pytest.MonkeyPatch, log: str | None, *extra: str) -> Any:
    engine = FakeEngine(log)
    monkeypatch.setattr(adversary, "get_backend", lambda name: engine)
    result = CliRunner().invoke(app, ["adversary", "log", "lab-ana", *extra])
    return result, engine


def test_table_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps(ENTRY) + "\nnot json\n"
    result, engine = run(monkeypatch, text)
    assert result.exit_code == 0, result.output
    assert "hazardous_command" in result.output
    assert "yes" in result.output
    assert engine.calls == [("lab-ana", ADVERSARY_HOST, ["cat", LOG_PATH])]
    result, _ = run(monkeypatch, text, "--json")
    assert [json.loads(line) for line in result.stdout.splitlines()] == [ENTRY]


def test_empty_log_and_no_adversary(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = run(monkeypatch, "")
    assert result.exit_code == 0
    assert "not run any action yet" in result.output
    result, _ = run(monkeypatch, None)
    assert result.exit_code != 0
    assert "has no scripted adversary" in result.output
    assert "Traceback" not in result.output
