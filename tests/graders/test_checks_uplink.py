"""Each uplink check's logic against a fake Probe."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from probe_fakes import FakeProbe

from graders.checks import observe, replay
from graders.checks.base import Status
from graders.checks.uplink import (
    CommandRoundTrip,
    CommandRoundTripArgs,
    ReplayExecuted,
    ReplayExecutedArgs,
    ReplayRejected,
    ReplayRejectedArgs,
    TelemetryFresh,
    TelemetryFreshArgs,
    replayed_frames,
)
from labctl.errors import CheckError
from labctl.protocols.tc_frame import frame_fingerprint


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "LEAD_S", 0.0)
    monkeypatch.setattr(replay, "SETTLE_S", 0.2)
    monkeypatch.setattr(replay, "EXECUTED_WITHIN_S", 0.5)


def entry(service: int, subtype: int, spi: int | None, seq: int) -> dict[str, object]:
    return {"service": service, "subtype": subtype, "spi": spi, "sequence_number": seq}


def test_replayed_frames_counts_same_spi_and_sequence_number() -> None:
    log = [entry(8, 1, 5, 1), entry(8, 1, 5, 2), entry(8, 1, 5, 1), entry(17, 1, 5, 3)]
    assert replayed_frames({"executed_commands": log}, None) == [(5, 1)]
    assert replayed_frames({"executed_commands": log}, "17.1") == []


def test_replayed_frames_ignores_directives_and_clear_frames() -> None:
    log = [entry(8, 1, None, 0), entry(8, 1, None, 0)]
    log += [{"service": None, "subtype": None, "spi": 5, "sequence_number": 9}] * 2
    assert replayed_frames({"executed_commands": log}, None) == []


def test_replay_executed_passes_on_a_duplicate_and_fails_without() -> None:
    probe = FakeProbe(log=[entry(8, 1, 5, 4), entry(8, 1, 5, 4)])
    result = ReplayExecuted().run(ReplayExecutedArgs(command="8.1"), probe)
    assert result.status is Status.PASS
    assert "sequence number 4" in result.evidence
    assert ReplayExecuted().run(ReplayExecutedArgs(), FakeProbe()).status is Status.FAIL


def test_replay_executed_names_a_replay_of_another_command() -> None:
    probe = FakeProbe(log=[entry(17, 1, 5, 4), entry(8, 1, 5, 5), entry(17, 1, 5, 4)])
    result = ReplayExecuted().run(ReplayExecutedArgs(command="8.1"), probe)
    assert result.status is Status.FAIL
    assert "another command (PUS 17.1)" in result.evidence
    assert "counts PUS 8.1 only" in result.evidence
    assert ReplayExecuted().run(ReplayExecutedArgs(), probe).status is Status.PASS


def test_replay_rejected_fails_when_the_replay_executes() -> None:
    result = ReplayRejected().run(ReplayRejectedArgs(attempts=2), FakeProbe(replay_executes=True))
    assert result.status is Status.FAIL
    assert "executed again" in result.evidence


def test_replay_rejected_passes_when_the_replay_does_not_execute() -> None:
    result = ReplayRejected().run(ReplayRejectedArgs(), FakeProbe(replay_executes=False))
    assert result.status is Status.PASS, result.evidence


def test_replay_rejected_after_restart_restarts_the_spacecraft() -> None:
    probe = FakeProbe(replay_executes=False, restart_forgets=True)
    assert ReplayRejected().run(ReplayRejectedArgs(), probe).passed
    result = ReplayRejected().run(ReplayRejectedArgs(after_restart=True), probe)
    assert probe.restarts == ["spacecraft"]
    assert result.status is Status.FAIL
    assert "restart" in result.evidence


@pytest.mark.parametrize(("farm_vr", "after"), [(12, ["--after", "12"]), (None, [])])
def test_the_replay_leaves_farm_where_the_spacecraft_had_it(
    farm_vr: int | None, after: list[str]
) -> None:
    """FARM-1 goes back to the V(R) ground truth shows before the replay (the flight
    team may have sent frames after the recorded one), not one past the recorded frame:
    a V(R) behind the ground station's FOP-1 made it retransmit, and a recording was lost."""
    probe = FakeProbe(replay_executes=False, farm_vr=farm_vr)
    assert ReplayRejected().run(ReplayRejectedArgs(attempts=2), probe).passed
    [argv] = probe.replays
    assert argv[argv.index("--times") + 1 :] == ["2", *after]


def test_replay_rejected_is_an_error_when_nothing_is_heard() -> None:
    result = ReplayRejected().run(ReplayRejectedArgs(), FakeProbe(hear_frame=False))
    assert result.status is Status.ERROR
    assert "no uplink frame heard" in result.evidence


def test_replay_rejected_is_an_error_when_the_replay_never_reaches_the_spacecraft() -> None:
    # "Not executed again" proves nothing when the replayed frames never arrived.
    probe = FakeProbe(replay_executes=False, air_lost=True)
    result = ReplayRejected().run(ReplayRejectedArgs(), probe)
    assert result.status is Status.ERROR, result.evidence
    assert "received no uplink frame" in result.evidence


def test_replay_rejected_is_an_error_when_there_is_nothing_to_replay() -> None:
    class Lost(FakeProbe):
        def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
            if path == "/api/commands":
                return 201, {"id": 1, "status": "sent"}  # sent, never executed
            return super().api(method, path, body, token)

    result = ReplayRejected().run(ReplayRejectedArgs(), Lost(replay_executes=False))
    assert result.status is Status.ERROR
    assert "did not execute" in result.evidence


HEARD = frame_fingerprint(bytes.fromhex("00aa"))  # the frame FakeProbe's vantage hears


class Retransmitting(FakeProbe):
    """The operator's command executes from a retransmission (same N(S) 7, another SDLS
    sequence number, another fingerprint) for the first ``lost`` recordings, then from
    the very frame the vantage heard."""

    def __init__(self, lost: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lost, self.sent = lost, 0

    def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
        if path != "/api/commands":
            return super().api(method, path, body, token)
        self.sent += 1
        self.frames_received += 1
        retransmitted = self.sent <= self.lost
        executed = self._entry(17, 1, 7, spi=42, seq=90 + self.sent if retransmitted else 7)
        executed["frame_digest"] = "f" * 16 if retransmitted else HEARD
        self.log.append(executed)
        return 201, {"id": self.sent, "status": "sent"}


def test_replay_rejected_judges_the_heard_frame_not_a_retransmission_of_its_n_s() -> None:
    # Matched by N(S) alone, the first recording would take the retransmission's sequence
    # number, never see the replayed frame execute under it, and pass a weak spacecraft.
    probe = Retransmitting(lost=1, replay_executes=True)
    result = ReplayRejected().run(ReplayRejectedArgs(), probe)
    assert result.status is Status.FAIL, result.evidence
    assert probe.sent == 2  # recorded once more after the lost transmission


@pytest.mark.parametrize(("status", "waits"), [("completed", False), ("sent", True)])
def test_a_frame_heard_that_is_not_the_operators_is_given_up_once_the_command_completed(
    monkeypatch: pytest.MonkeyPatch, status: str, waits: bool
) -> None:
    """The capture may hear another frame first (the flight team's, on the air as it
    began): once mission control says the operator's command completed and ground truth
    a moment later still lacks the frame heard, the check records again at once instead of
    waiting out EXECUTED_WITHIN_S. Mission control only hastens that: a command it does
    not call completed is waited for, and the verdict is ground truth's either way."""
    monkeypatch.setattr(replay, "EXECUTED_WITHIN_S", 3.0)
    monkeypatch.setattr(replay, "OTHER_FRAME_S", 0.1)
    probe = Retransmitting(lost=1, replay_executes=True, command_status=status)
    began = time.monotonic()
    result = ReplayRejected().run(ReplayRejectedArgs(), probe)
    took = time.monotonic() - began
    assert result.status is Status.FAIL, result.evidence
    assert probe.sent == 2
    assert (took >= 3.0) is waits, took


def test_replay_rejected_is_an_error_when_no_heard_frame_executes() -> None:
    probe = Retransmitting(lost=replay.RECORD_ATTEMPTS, replay_executes=True)
    result = ReplayRejected().run(ReplayRejectedArgs(), probe)
    assert result.status is Status.ERROR, result.evidence
    assert "did not execute from a frame heard" in result.evidence
    assert probe.sent == replay.RECORD_ATTEMPTS


def test_replay_rejected_is_an_error_when_the_vantage_cannot_transmit() -> None:
    class Mute(FakeProbe):
        def vantage_exec(
            self,
            argv: Sequence[str],
            timeout: float = 60.0,
            on_line: Callable[[str], None] | None = None,
        ) -> tuple[int, str]:
            if argv[3] == "replay":
                return 1, "OSError: [Errno 101] Network is unreachable"
            return super().vantage_exec(argv, timeout, on_line)

    result = ReplayRejected().run(ReplayRejectedArgs(), Mute(replay_executes=False))
    assert result.status is Status.ERROR
    assert "could not transmit" in result.evidence


def test_command_round_trip_passes_on_completion_and_fails_otherwise() -> None:
    args = CommandRoundTripArgs(within=1)
    assert CommandRoundTrip().run(args, FakeProbe()).passed
    result = CommandRoundTrip().run(args, FakeProbe(command_status="sent"))
    assert result.status is Status.FAIL
    assert "'sent'" in result.evidence


def test_command_round_trip_fails_when_mission_control_refuses_the_operator() -> None:
    # Mission control answered: a fix that stops operators commanding is a verdict.
    result = CommandRoundTrip().run(CommandRoundTripArgs(within=1), FakeProbe(send_http=403))
    assert result.status is Status.FAIL
    assert "HTTP 403" in result.evidence


def test_command_round_trip_is_an_error_when_the_command_status_is_unreadable() -> None:
    class Forgetful(FakeProbe):
        def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
            if path.startswith("/api/commands/sent/"):
                return 404, {"detail": "no such command"}
            return super().api(method, path, body, token)

    result = CommandRoundTrip().run(CommandRoundTripArgs(within=1), Forgetful())
    assert result.status is Status.ERROR
    assert "does not say what became of command 1" in result.evidence


def test_telemetry_fresh_compares_the_age_with_the_limit() -> None:
    args = TelemetryFreshArgs(max_age=15)
    assert TelemetryFresh().run(args, FakeProbe(telemetry_age=3.0)).passed
    assert not TelemetryFresh().run(args, FakeProbe(telemetry_age=40.0)).passed
    result = TelemetryFresh().run(args, FakeProbe(telemetry_age=None))
    assert result.status is Status.FAIL
    assert "received no housekeeping telemetry" in result.evidence


def test_telemetry_fresh_is_an_error_when_mission_control_cannot_say() -> None:
    result = TelemetryFresh().run(TelemetryFreshArgs(), FakeProbe(telemetry_http=500))
    assert result.status is Status.ERROR
    assert "HTTP 500" in result.evidence
    assert "/api/telemetry/latest" in result.evidence


def test_ground_truth_without_its_command_log_is_an_error() -> None:
    class Blank(FakeProbe):
        def truth(self) -> dict[str, Any]:
            return {}

    result = ReplayExecuted().run(ReplayExecutedArgs(), Blank())
    assert result.status is Status.ERROR
    assert "no executed_commands list" in result.evidence


@pytest.mark.parametrize(
    ("check", "args"),
    [
        (ReplayExecuted(), ReplayExecutedArgs()),
        (ReplayRejected(), ReplayRejectedArgs()),
        (CommandRoundTrip(), CommandRoundTripArgs()),
        (TelemetryFresh(), TelemetryFreshArgs()),
    ],
)
def test_unreachable_instance_is_an_error_not_a_verdict(check: object, args: object) -> None:
    result = check.run(args, FakeProbe(unreachable=True))  # type: ignore[attr-defined]
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_for_backs_off_and_makes_its_last_call_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(observe, "time", clock)
    calls: list[float] = []

    def never() -> None:
        calls.append(round(clock.now - start, 6))

    start = clock.now
    assert observe.wait_for(never, 5.0, poll=0.5, growth=2.0) is None
    assert calls == [0.0, 0.5, 1.5, 3.5, 5.0]
    calls.clear()
    start = clock.now
    observe.wait_for(never, 1.2, poll=0.5)
    assert calls == [0.0, 0.5, 1.0, 1.2]


def test_a_replay_seen_only_at_the_end_of_the_window_still_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(observe, "time", clock)
    monkeypatch.setattr(replay, "SETTLE_S", 5.0)

    class LateProbe(FakeProbe):
        replayed_at: float | None = None

        def truth(self) -> dict[str, Any]:
            truth = super().truth()
            if self.replayed_at is not None and clock.now - self.replayed_at >= 5.0:
                truth["executed_commands"] = truth["executed_commands"] * 2
            return truth

        def vantage_exec(
            self,
            argv: Sequence[str],
            timeout: float = 60.0,
            on_line: Callable[[str], None] | None = None,
        ) -> tuple[int, str]:
            if argv[3] == "replay":
                self.replayed_at = clock.now
                return 0, '{"sent": 1}'
            return super().vantage_exec(argv, timeout, on_line)

    result = ReplayRejected().run(ReplayRejectedArgs(), LateProbe(replay_executes=False))
    assert result.status is Status.FAIL, result.evidence


class PassProbe(FakeProbe):
    """A link with passes: the rf-link's status lists them; commands go through only
    during one (the fake's clock is the real one)."""

    def __init__(self, windows: list[tuple[float, float]], readable: bool = True) -> None:
        super().__init__()
        self.windows = windows
        self.readable = readable

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        assert host == "rf-link"
        assert list(argv) == ["cat", "/run/labctl/rf-link.json"]
        if not self.readable:
            return 1, "cat: No such file or directory"
        passes = [{"aos": a, "los": b, "max_elevation": 40.0} for a, b in self.windows]
        return 0, json.dumps({"in_contact": False, "passes": passes})


def test_an_availability_check_waits_for_a_pass_long_enough_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = 1_900_000_000.0
    monkeypatch.setattr(observe.time, "time", lambda: now)
    slept: list[float] = []
    # under way but ending in 10 s: too short for a 20 s round trip; the next one is taken
    probe = PassProbe([(now - 50, now + 10), (now + 300, now + 420)])
    note = observe.wait_for_pass(probe, 20, sleep=slept.append)
    assert slept == [300 + observe.PASS_SETTLE_S]
    assert note.startswith("judged during a pass")
    slept.clear()
    assert "judged during a pass" in observe.wait_for_pass(
        PassProbe([(now - 50, now + 100)]), 20, sleep=slept.append
    )
    assert slept == []  # under way with time to spare: at once


def test_no_pass_in_sight_is_an_error_and_a_link_without_passes_waits_for_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = 1_900_000_000.0
    monkeypatch.setattr(observe.time, "time", lambda: now)
    with pytest.raises(CheckError, match="no pass with 20 s of contact"):
        observe.wait_for_pass(PassProbe([(now + 5000, now + 5100)]), 20, sleep=lambda s: None)
    with pytest.raises(CheckError, match="no pass with 200 s"):
        observe.wait_for_pass(PassProbe([(now + 10, now + 100)]), 200, sleep=lambda s: None)
    assert observe.wait_for_pass(PassProbe([]), 20) == ""
    assert observe.wait_for_pass(PassProbe([(now, now + 9)], readable=False), 20) == ""
    assert observe.wait_for_pass(FakeProbe(), 20) == ""  # no rf-link status: judged as is


def test_command_round_trip_over_a_pass_says_so_in_its_evidence() -> None:
    import time

    now = time.time()
    result = CommandRoundTrip().run(CommandRoundTripArgs(), PassProbe([(now - 60, now + 120)]))
    assert result.status is Status.PASS
    assert "judged during a pass" in result.evidence
