"""adversary_contained against a fake probe: an adversary log and a ground truth, no containers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from graders.checks import BUILTIN_CHECKS
from graders.checks.adversary import AdversaryContained, AdversaryContainedArgs
from graders.checks.base import Status
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH

NOW = 1_800_000_000.0


def at(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC).isoformat(timespec="milliseconds")


def entry(action: str, ago: float, success: bool | None = None, **facts: Any) -> dict[str, Any]:
    return {
        "t": at(ago),
        "offset": 1.0,
        "step": 0,
        "repeat": 0,
        "action": action,
        "outcome": "done",
        "success": success,
        "detail": "x",
        **facts,
    }


def executed(spi: int, sn: int, ago: float) -> dict[str, Any]:
    return {"time": NOW - ago, "service": 17, "subtype": 1, "spi": spi, "sequence_number": sn}


class FakeProbe:
    def __init__(self, log: list[dict[str, Any]] | str, commands: list[dict[str, Any]]) -> None:
        self.log = log if isinstance(log, str) else "\n".join(json.dumps(e) for e in log)
        self.commands = commands
        self.calls: list[tuple[str, list[str]]] = []
        self.readable = True

    def truth(self) -> dict[str, Any]:
        return {"executed_commands": self.commands}

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        self.calls.append((host, list(argv)))
        if not self.readable:
            return 1, "cat: /tmp/adversary/log.jsonl: No such file or directory"
        return 0, self.log

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        raise AssertionError("adversary_contained does not use the vantage")

    def api(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        raise AssertionError("adversary_contained does not use mission control")

    def credentials(self, role: str) -> tuple[str, str]:
        raise AssertionError("no credentials needed")

    def restart(self, host: str) -> None:
        raise AssertionError("no restart")


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AdversaryContained, "clock", staticmethod(lambda: NOW))


def judge(probe: FakeProbe, **args: Any) -> Any:
    return AdversaryContained().run(AdversaryContainedArgs(**args), probe)  # type: ignore[arg-type]


def frame(spi: int, sn: int, sent_ago: float | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"spi": spi, "sn": sn, "frame_seq": 3, "vcid": 0}
    if sent_ago is not None:
        found["sent"] = NOW - sent_ago
    return found


def test_registered_and_reads_the_log_out_of_band() -> None:
    assert AdversaryContained in BUILTIN_CHECKS
    probe = FakeProbe([entry("brute_force", 5, False)], [])
    assert judge(probe).passed
    assert probe.calls == [(ADVERSARY_HOST, ["cat", LOG_PATH])]


def test_contained_when_nothing_succeeded_and_no_frame_of_theirs_ran_after_sending() -> None:
    log = [
        entry("brute_force", 30, False, attempts=200),
        entry("replay_telecommands", 20, None, frames=[frame(16, 41, sent_ago=19)]),
        entry("hazardous_command", 10, False, http_status=403),
    ]
    # the replayed frame's original ran before it was replayed: that is not the adversary's
    result = judge(FakeProbe(log, [executed(16, 41, ago=19.5)]))
    assert result.passed, result.evidence
    assert "3 action(s)" in result.evidence
    assert "1 frame(s) sent" in result.evidence


def test_a_success_in_the_log_fails() -> None:
    log = [entry("brute_force", 5, True, password="admin"), entry("flood", 3)]
    result = judge(FakeProbe(log, []))
    assert not result.passed
    assert "brute_force succeeded" in result.evidence


def test_a_frame_that_executed_after_it_was_sent_fails() -> None:
    log = [entry("replay_telecommands", 20, None, frames=[frame(16, 41, sent_ago=19)])]
    result = judge(FakeProbe(log, [executed(16, 41, ago=19.5), executed(16, 41, ago=18.9)]))
    assert not result.passed
    assert "1 frame(s) executed on board" in result.evidence


def test_without_send_times_a_replay_needs_a_second_execution_after_the_action() -> None:
    log = [entry("replay_telecommands", 20, None, frames=[frame(16, 41)])]
    assert judge(FakeProbe(log, [executed(16, 41, ago=15)])).passed
    assert not judge(FakeProbe(log, [executed(16, 41, ago=15), executed(16, 41, ago=14)])).passed
    forged = [entry("inject_frames", 20, None, frames=[frame(3, 9)])]
    assert not judge(FakeProbe(forged, [executed(3, 9, ago=15)])).passed


def test_idle_adversary_is_an_error_with_nothing_to_judge() -> None:
    old = [entry("brute_force", 500, True)]
    result = judge(FakeProbe(old, []), window=60)
    assert result.status is Status.ERROR
    assert "the adversary was idle, nothing to judge" in result.evidence


def test_the_actions_filter() -> None:
    log = [entry("brute_force", 5, True), entry("flood", 4)]
    assert judge(FakeProbe(log, []), actions=["flood"]).passed
    assert not judge(FakeProbe(log, []), actions=["brute_force"]).passed
    idle = judge(FakeProbe(log, []), actions=["jam"])
    assert idle.status is Status.ERROR
    assert "the adversary was idle" in idle.evidence


def test_hostile_log_lines_are_skipped_and_an_unreadable_log_is_an_error() -> None:
    text = "\n".join(
        [
            "garbage",
            json.dumps([1]),
            json.dumps({**entry("flood", 1), "t": 12}),
            "{" * 10,
            json.dumps(entry("jam", 2, None, frames=[{"spi": True, "sn": "1"}, 5])),
        ]
    )
    assert judge(FakeProbe(text, [executed(1, 1, ago=1)])).passed
    probe = FakeProbe([], [])
    probe.readable = False
    result = judge(probe)
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence
    assert "unreadable" in result.evidence


def test_ground_truth_without_its_command_log_is_an_error() -> None:
    probe = FakeProbe([entry("replay_telecommands", 5, None, frames=[frame(16, 41)])], [])
    probe.truth = dict  # type: ignore[method-assign]
    result = judge(probe)
    assert result.status is Status.ERROR
    assert "no executed_commands list" in result.evidence


def test_unknown_actions_are_rejected_at_validation() -> None:
    with pytest.raises(ValidationError, match="unknown adversary action"):
        AdversaryContainedArgs(actions=("teleport",))
