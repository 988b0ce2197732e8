"""How uvicorn serves mission control: the filter that keeps repeated warnings short."""

from __future__ import annotations

import logging

import pytest

from labctl.range.hosts.missioncontrol.server import RepeatedWarnings


def test_repeated_warnings_are_cut_and_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.repeated")
    limiter = RepeatedWarnings(burst=3, period=0.2)
    logger.addFilter(limiter)
    try:
        with caplog.at_level(logging.INFO, logger="test.repeated"):
            for _ in range(10):
                logger.warning("Invalid HTTP request received.")
            logger.info("an info line passes")
            limiter.period = 0.0  # the period is over
            logger.warning("Invalid HTTP request received.")
    finally:
        logger.removeFilter(limiter)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        *["Invalid HTTP request received."] * 3,
        "an info line passes",
        "Invalid HTTP request received. (7 more like it left out)",
    ]


def test_each_template_has_its_own_budget() -> None:
    limiter = RepeatedWarnings(burst=1)

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("x", logging.WARNING, "f", 1, message, None, None)

    assert limiter.filter(record("one"))
    assert not limiter.filter(record("one"))
    assert limiter.filter(record("two"))
