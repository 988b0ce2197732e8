"""The shared rate-limited log of hostile input, with a clock moved by hand."""

from __future__ import annotations

import logging

import pytest

from labctl.range.hosts.ratelimit import OVERFLOW_KIND, RateLimitedLog


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited(
    caplog: pytest.LogCaptureFixture, **options: object
) -> tuple[RateLimitedLog, FakeClock]:
    caplog.set_level(logging.INFO, logger="test.ratelimit")
    clock = FakeClock()
    log = RateLimitedLog(logging.getLogger("test.ratelimit"), clock=clock, **options)  # type: ignore[arg-type]
    return log, clock


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_first_events_are_logged_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    log, _ = limited(caplog, burst=3, period=60)
    written = [log.event("bad MAC", "frame %d rejected", n) for n in range(10)]
    assert written == [True] * 3 + [False] * 7
    assert lines(caplog) == ["frame 0 rejected", "frame 1 rejected", "frame 2 rejected"]
    assert log.suppressed("bad MAC") == 7
    assert log.totals == {"bad MAC": 10}


def test_summary_after_the_period_then_a_new_burst(caplog: pytest.LogCaptureFixture) -> None:
    log, clock = limited(caplog, burst=2, period=60)
    for _ in range(12_347):
        log.event("downlink: frames with bad MAC", "one frame")
    clock.now += 60
    log.event("downlink: frames with bad MAC", "one frame")
    assert lines(caplog)[2] == (
        "downlink: frames with bad MAC: 12,345 more in the last 60 s, not logged one by one"
    )
    assert lines(caplog)[3] == "one frame"  # a new period begins with a new burst
    assert len(caplog.records) == 4


def test_flush_writes_summaries_of_finished_periods_only(caplog: pytest.LogCaptureFixture) -> None:
    log, clock = limited(caplog, burst=1, period=10)
    for _ in range(5):
        log.event("a", "a")
    clock.now += 5
    for _ in range(5):
        log.event("b", "b")
    assert log.flush() == 0  # neither period is over
    clock.now += 5
    assert log.flush() == 1  # a's is
    assert lines(caplog)[-1] == "a: 4 more in the last 10 s, not logged one by one"
    assert log.suppressed("a") == 0
    assert log.suppressed("b") == 4
    assert log.flush(force=True) == 1
    assert lines(caplog)[-1] == "b: 4 more in the last 5 s, not logged one by one"
    assert log.flush(force=True) == 0  # nothing left to say


def test_no_summary_when_nothing_was_left_out(caplog: pytest.LogCaptureFixture) -> None:
    log, clock = limited(caplog, burst=5, period=1)
    for _ in range(3):
        log.event("k", "line")
        clock.now += 2
    log.flush(force=True)
    assert lines(caplog) == ["line"] * 3


def test_a_flood_is_bounded_per_period(caplog: pytest.LogCaptureFixture) -> None:
    log, clock = limited(caplog, burst=5, period=60)
    for _ in range(600):  # ten minutes, 1000 events a second of two kinds
        clock.now += 1
        for n in range(1000):
            log.event("bad MAC" if n % 2 else "bad SN", "frame")
    log.flush(force=True)
    assert sum(log.totals.values()) == 600_000
    assert len(caplog.records) <= 2 * 10 * 6  # burst + summary per kind and minute


def test_kinds_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    log, _ = limited(caplog, burst=1, period=60, max_kinds=4)
    for n in range(100):
        log.event(f"kind {n}", "x")
    assert set(log.totals) == {"kind 0", "kind 1", "kind 2", OVERFLOW_KIND}
    assert log.totals[OVERFLOW_KIND] == 97
    assert len(caplog.records) == 4


def test_level_and_lazy_formatting(caplog: pytest.LogCaptureFixture) -> None:
    log, _ = limited(caplog, burst=1, period=60)

    class Exploding:
        def __str__(self) -> str:
            raise AssertionError("formatted although not logged")

    log.event("k", "first %s", "ok", level=logging.INFO)
    log.event("k", "second %s", Exploding())
    assert caplog.records[0].levelno == logging.INFO


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="period"):
        RateLimitedLog(logging.getLogger("x"), period=0)
