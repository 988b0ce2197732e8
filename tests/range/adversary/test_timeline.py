"""The adversary's timeline: parsing (bad files give one line) and the scheduler on a fake
clock (offsets, repeat/every, events, the stop time)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labctl.range.adversary.__main__ import main
from labctl.range.adversary.timeline import (
    Due,
    PassObserver,
    Scheduler,
    Step,
    TimelineError,
    parse_timeline,
)

FLOOD = {"rate": 10, "duration": 1}


def timeline(*steps: dict[str, Any]) -> str:
    return json.dumps({"steps": list(steps)})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class Recorder:
    """An execute callback that takes ``cost`` seconds of fake time per action."""

    def __init__(self, clock: FakeClock, cost: float = 0.0) -> None:
        self.clock, self.cost = clock, cost
        self.runs: list[tuple[int, int, float, float, str | None]] = []

    def __call__(self, step: Step, due: Due, offset: float) -> None:
        self.runs.append((step.index, due.repeat, due.offset, offset, due.event))
        self.clock.now += self.cost


class ScriptedEvents:
    """Events that "happen" when the scheduler's offset passes their time."""

    def __init__(self, events: list[tuple[str, float]]) -> None:
        self.pending = sorted(events, key=lambda e: e[1])

    def poll(self, now: float) -> list[tuple[str, float]]:
        due = [e for e in self.pending if e[1] <= now]
        self.pending = [e for e in self.pending if e[1] > now]
        return due


def schedule(text: str, clock: FakeClock, cost: float = 0.0, **kwargs: Any) -> Recorder:
    recorder = Recorder(clock, cost)
    Scheduler(parse_timeline(text), recorder, clock=clock, sleep=clock.sleep, **kwargs).run()
    return recorder


def test_steps_run_at_their_offsets_in_time_order() -> None:
    clock = FakeClock()
    text = timeline(
        {"action": "flood", "at": 30, "args": FLOOD},
        {"action": "jam", "at": "10s", "args": {"duration": 1}},
    )
    runs = schedule(text, clock).runs
    assert [(step, actual) for step, _, _, actual, _ in runs] == [(1, 10.0), (0, 30.0)]


def test_repeat_every_plans_each_execution_and_late_ones_run_when_the_previous_ends() -> None:
    clock = FakeClock()
    text = timeline({"action": "flood", "at": 5, "repeat": 3, "every": 10, "args": FLOOD})
    runs = schedule(text, clock, cost=12.0).runs
    assert [(k, planned) for _, k, planned, _, _ in runs] == [(0, 5.0), (1, 15.0), (2, 25.0)]
    actual = [offset for *_, offset, _ in runs]
    assert actual == [5.0, 17.0, 29.0]  # each one 12 s long: the next starts late


def test_a_busy_adversary_skips_a_repeat_whose_successor_is_already_due() -> None:
    clock = FakeClock()
    text = timeline({"action": "flood", "at": 5, "repeat": 4, "every": 10, "args": FLOOD})
    runs = schedule(text, clock, cost=25.0).runs
    # 5 -> 30 busy; repeat 1 (15) is overtaken by repeat 2 (25); 2 runs at 30 -> 55,
    # repeat 3 (35) is the last one: it runs late rather than never
    assert [(k, actual) for _, k, _, actual, _ in runs] == [(0, 5.0), (2, 30.0), (3, 55.0)]


def test_repeats_without_a_gap_all_run() -> None:
    clock = FakeClock()
    text = timeline({"action": "flood", "at": 0, "repeat": 3, "every": 0, "args": FLOOD})
    assert [k for _, k, *_ in schedule(text, clock, cost=1.0).runs] == [0, 1, 2]


def test_steps_on_an_event_run_from_each_occurrence() -> None:
    clock = FakeClock()
    text = timeline(
        {"action": "jam", "on": "pass_start", "repeat": 2, "every": 3, "args": {"duration": 1}},
        {"action": "flood", "on": "pass_end", "args": FLOOD},
    )
    events = ScriptedEvents([("pass_start", 4.0), ("pass_end", 9.0), ("pass_start", 20.0)])
    runs = schedule(text, clock, events=events, until=40).runs
    assert [(s, k, planned, e) for s, k, planned, _, e in runs] == [
        (0, 0, 4.0, "pass_start"),
        (0, 1, 7.0, "pass_start"),
        (1, 0, 9.0, "pass_end"),
        (0, 0, 20.0, "pass_start"),
        (0, 1, 23.0, "pass_start"),
    ]
    assert clock.now - 1000.0 == pytest.approx(40.0)  # waited for more events until the stop


def test_without_event_steps_the_scheduler_ends_after_the_last_execution() -> None:
    clock = FakeClock()
    schedule(timeline({"action": "flood", "at": 7, "args": FLOOD}), clock)
    assert clock.now - 1000.0 == pytest.approx(7.0)


def test_until_stops_a_long_timeline() -> None:
    clock = FakeClock()
    text = timeline({"action": "flood", "at": 0, "repeat": 100, "every": 60, "args": FLOOD})
    runs = schedule(text, clock, until=130).runs
    assert [k for _, k, *_ in runs] == [0, 1, 2]


def test_pass_observer_turns_heard_frames_into_pass_events() -> None:
    observer = PassObserver(silence=10)
    assert observer.poll(1.0) == []
    observer.feed(2.0)
    observer.feed(3.0)
    assert observer.poll(4.0) == [("pass_start", 2.0)]
    assert observer.poll(12.9) == []
    assert observer.poll(13.0) == [("pass_end", 13.0)]
    observer.feed(30.0)
    assert observer.poll(30.5) == [("pass_start", 30.0)]
    # a gap longer than the silence between two frames, seen only by feed
    observer.feed(50.0)
    assert observer.poll(50.1) == [("pass_end", 40.0), ("pass_start", 50.0)]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "timeline is not JSON"),
        ("[]", 'timeline must be a JSON object {"steps": [...]}'),
        (timeline({"action": "nuke", "at": 0}), "adversary[0]: unknown action 'nuke'"),
        (timeline({"action": "flood", "args": FLOOD}), "adversary[0]: give exactly one of"),
        (timeline({"action": "flood", "on": "sunrise", "args": FLOOD}), "adversary[0]: on:"),
        (
            timeline({"action": "flood", "at": 0, "repeat": 2, "args": FLOOD}),
            "'repeat' needs 'every'",
        ),
        (timeline({"action": "flood", "at": 0, "args": {"rate": 0, "duration": 1}}), "rate:"),
        (
            timeline({"action": "jam", "at": 0, "args": {}}),
            "adversary[0] (jam): duration: Field required",
        ),
    ],
)
def test_bad_timelines_are_one_line_errors(document: str, message: str) -> None:
    with pytest.raises(TimelineError) as caught:
        parse_timeline(document)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_program_exits_2_with_one_line_on_a_bad_timeline(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(timeline({"action": "flood", "at": 0, "args": {"rate": "lots"}}))
    assert main(["run", "--timeline", str(path), "--log", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("adversary: ")
    assert "rate" in err
    assert "\n" not in err
