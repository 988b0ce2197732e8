"""adversary_succeeded against a fake probe: an adversary log, a ground truth and a mission
control that records the operator's commands; no containers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from graders.checks import adversary_outcome
from graders.checks.adversary_outcome import AdversarySucceeded, AdversarySucceededArgs
from graders.checks.base import Status
from labctl.errors import BackendError
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH

NOW = 1_800_000_000.0


@dataclass
class AdversaryProbe:
    """The adversary's log lines, the spacecraft's executed commands, the operator's sends.

    ``on_command`` runs when the operator sends a command (e.g. the adversary replays it).
    """

    lines: list[str] = field(default_factory=list)
    executed: list[dict[str, Any]] = field(default_factory=list)
    log_readable: bool = True
    sent: list[str] = field(default_factory=list)
    on_command: Callable[[AdversaryProbe], None] = lambda probe: None

    def truth(self) -> dict[str, Any]:
        return {"executed_commands": list(self.executed)}

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        assert (host, list(argv)) == (ADVERSARY_HOST, ["cat", LOG_PATH])
        if not self.log_readable:
            return 1, "cat: No such file or directory"
        return 0, "\n".join(self.lines) + "\n"

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        if path == "/api/login":
            return 200, {"token": "t"}
        assert path == "/api/commands"
        assert body is not None
        self.sent.append(str(body["name"]))
        self.on_command(self)
        return 201, {"id": len(self.sent)}

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        raise BackendError("vantage", "not used")

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def restart(self, host: str) -> None:
        raise BackendError("restart", "not used")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(AdversarySucceeded, "clock", staticmethod(fake))
    monkeypatch.setattr(AdversarySucceeded, "sleep", staticmethod(fake.sleep))
    return fake


def line(
    start: float,
    action: str = "replay_telecommands",
    success: bool | None = None,
    duration: float = 1.0,
    frames: list[dict[str, Any]] | None = None,
) -> str:
    """One log line as the adversary's runner writes it."""
    entry = {
        "t": datetime.fromtimestamp(start, UTC).isoformat(timespec="milliseconds"),
        "unix": start,
        "offset": 1.0,
        "due": 1.0,
        "step": 0,
        "repeat": 0,
        "action": action,
        "outcome": "done",
        "success": success,
        "detail": "replayed 1 uplink frame(s)",
        "duration": duration,
        "frames": frames or [],
    }
    return json.dumps(entry)


def frame(sent: float) -> dict[str, Any]:
    return {"spi": 42, "sn": 7, "frame_seq": 3, "vcid": 0, "sent": sent}


def execution(when: float) -> dict[str, Any]:
    return {"service": 17, "subtype": 1, "spi": 42, "sequence_number": 7, "time": when}


def run(probe: AdversaryProbe, **args: Any) -> tuple[Status, str]:
    result = AdversarySucceeded().run(AdversarySucceededArgs(**args), probe)
    return result.status, result.evidence


def test_a_success_in_the_log_within_the_window_passes() -> None:
    probe = AdversaryProbe([line(NOW - 100, success=True), line(NOW - 5, success=True)])
    status, evidence = run(probe, window=30)
    assert status is Status.PASS
    assert "succeeded" in evidence


def test_an_old_success_does_not_count() -> None:
    probe = AdversaryProbe([line(NOW - 100, success=True), line(NOW - 5)])
    status, evidence = run(probe, window=30)
    assert status is Status.FAIL
    assert "none achieved" in evidence


def test_a_replayed_frame_counts_when_it_executed_after_it_was_sent() -> None:
    # The original ran before the replay was sent: that alone is not the adversary's doing.
    probe = AdversaryProbe([line(NOW - 10, frames=[frame(NOW - 9)])], [execution(NOW - 9.5)])
    assert run(probe, window=30)[0] is Status.FAIL
    probe.executed.append(execution(NOW - 8.9))
    status, evidence = run(probe, window=30)
    assert status is Status.PASS
    assert "1 frame(s) executed on board" in evidence


def test_the_window_counts_from_when_an_action_ended() -> None:
    # It listened for 100 s, then replayed: it started long ago and ended within the window.
    probe = AdversaryProbe([line(NOW - 105, success=True, duration=100.0)])
    assert run(probe, window=30)[0] is Status.PASS
    probe = AdversaryProbe([line(NOW - 105, success=True, duration=50.0)])
    assert run(probe, window=30)[0] is Status.ERROR  # nothing ended within the window


def test_actions_filter_and_an_idle_adversary() -> None:
    # An idle adversary shows nothing either way: an error, not a verdict.
    probe = AdversaryProbe([line(NOW - 3, action="flood", success=True)])
    status, evidence = run(probe, window=30, actions=["replay_telecommands"])
    assert status is Status.ERROR
    assert "carried out nothing" in evidence
    assert run(probe, window=30)[0] is Status.PASS


def test_while_waiting_an_operator_works_and_the_adversary_replays(clock: Clock) -> None:
    def replay_the_third(probe: AdversaryProbe) -> None:
        if len(probe.sent) == 3:
            probe.lines.append(line(clock.now, frames=[frame(clock.now + 0.3)]))
            probe.executed += [execution(clock.now), execution(clock.now + 0.4)]

    probe = AdversaryProbe([line(NOW - 3)], on_command=replay_the_third)
    status, evidence = run(probe, window=60, wait=60, operate="17.1", every=10)
    assert status is Status.PASS
    assert probe.sent == ["PING"] * 3
    assert "while an operator sent 3 command(s)" in evidence


def test_waiting_gives_up_after_wait_seconds(clock: Clock) -> None:
    probe = AdversaryProbe([line(NOW - 3)])
    status, evidence = run(probe, window=60, wait=30, operate="17.1", every=10)
    assert status is Status.FAIL
    assert clock.now - NOW >= 30
    assert len(probe.sent) in {3, 4}
    assert "none achieved" in evidence


def test_hostile_log_lines_are_skipped() -> None:
    probe = AdversaryProbe(
        ["not json", "[1, 2]", '{"t": "soon", "action": "flood", "outcome": "done"}', line(NOW - 2)]
    )
    status, evidence = run(probe, window=30)
    assert status is Status.FAIL
    assert evidence.startswith("1 adversary action(s)")


def test_an_unreadable_log_is_an_error_with_the_reason() -> None:
    status, evidence = run(AdversaryProbe(log_readable=False))
    assert status is Status.ERROR
    assert "unreadable" in evidence


def test_unknown_action_or_command_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown adversary action"):
        AdversarySucceededArgs(actions=("replay",))
    with pytest.raises(ValidationError):
        AdversarySucceededArgs(operate="ping")


def test_polls_every_poll_interval(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    monkeypatch.setattr(adversary_outcome, "POLL_S", 5.0)
    probe = AdversaryProbe([line(NOW - 3)])
    run(probe, window=60, wait=20)
    assert clock.now - NOW == 20
