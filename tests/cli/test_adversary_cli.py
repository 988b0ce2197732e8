"""``labctl adversary log``: the adversary's log as a table or JSON lines, from a fake engine
handed to the CLI in its environment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from cli_env import Run, environment, invoke

from labctl.backends.base import Backend, ExecResult
from labctl.core.api import Core
from labctl.core.settings import Settings
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


def run(log: str | None, *extra: str) -> tuple[Run, FakeEngine]:
    engine = FakeEngine(log)

    def core(settings: Settings) -> Core:
        return Core(settings, backend=cast(Backend, engine))

    return invoke(environment(core), "adversary", "log", "lab-ana", *extra), engine


def test_table_and_json() -> None:
    text = json.dumps(ENTRY) + "\nnot json\n"
    result, engine = run(text)
    assert result.exit_code == 0, result.err
    assert "hazardous_command" in result.out
    assert "yes" in result.out
    assert engine.calls == [("lab-ana", ADVERSARY_HOST, ["cat", LOG_PATH])]
    result, _ = run(text, "--json")
    assert [json.loads(line) for line in result.out.splitlines()] == [ENTRY]


def test_empty_log_and_no_adversary() -> None:
    result, _ = run("")
    assert result.exit_code == 0
    assert "not run any action yet" in result.err
    result, _ = run(None)
    assert result.exit_code != 0
    assert "has no scripted adversary" in result.err
    assert "Traceback" not in result.err + result.out
