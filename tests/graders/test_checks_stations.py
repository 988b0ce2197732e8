"""station_access_refused against a fake probe: a scripted vantage and ground truth."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from graders.checks.base import Status
from graders.checks.stations import StationAccessRefused, StationAccessRefusedArgs
from labctl.range.vantage.customer import SOURCE_ID


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("graders.checks.stations.SETTLE_S", 0.1)


PING = {"service": 17, "subtype": 1, "spi": 1, "source_id": SOURCE_ID}


@dataclass
class Station:
    """``connected``/``closed``: what the vantage reports; ``lets_in``: the PING executes."""

    connected: bool = True
    closed: bool = True
    lets_in: bool = False
    detail: str = "closed by the station"
    log: list[dict[str, Any]] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    since: float | None = None

    def truth(self) -> dict[str, Any]:
        return {"executed_commands": list(self.log)}

    def vantage_exec(
        self,
        argv: Sequence[str],
        timeout: float = 60.0,
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[int, str]:
        self.argv = list(argv)
        if self.lets_in:
            self.log.append(dict(PING))
        report = {"connected": self.connected, "closed": self.closed, "detail": self.detail}
        return 0, json.dumps(report)


def judge(station: Station, **args: Any) -> Any:
    settings: dict[str, Any] = {
        "host": "ground-station",
        "customer": "partner",
        "secret": "22" * 16,
    }
    settings.update(args)
    return StationAccessRefused().run(StationAccessRefusedArgs(**settings), station)  # type: ignore[arg-type]


def test_a_station_that_closes_the_connection_and_runs_nothing_passes() -> None:
    station = Station()
    result = judge(station, period=30)
    assert result.status is Status.PASS
    assert "ended the connection of customer partner" in result.evidence
    assert station.argv[-6:] == ["--customer", "partner", "--secret", "22" * 16, "--period", "30.0"]


def test_a_customer_let_in_fails_whatever_the_station_did_to_the_connection() -> None:
    result = judge(Station(lets_in=True, closed=True))
    assert result.status is Status.FAIL
    assert "let in" in result.evidence
    assert "Revoke" in result.hint


def test_an_older_ping_of_the_probe_is_not_taken_for_this_one() -> None:
    station = Station(log=[dict(PING)])
    assert judge(station).status is Status.PASS


def test_a_stranger_is_played_without_credentials() -> None:
    station = Station()
    result = judge(station, customer=None, secret=None)
    assert result.status is Status.PASS
    assert "--customer" not in station.argv
    assert "a client with no access request" in result.evidence


def test_a_closed_port_is_a_refusal_an_unreachable_host_no_verdict() -> None:
    refused = judge(Station(connected=False, detail="ConnectionRefusedError: [Errno 111]"))
    assert refused.status is Status.PASS
    gone = judge(Station(connected=False, detail="gaierror: [Errno -2] Name not known"))
    assert gone.status is Status.ERROR


def test_a_connection_kept_open_with_nothing_executed_is_no_verdict() -> None:
    result = judge(Station(closed=False, detail="still connected after 4 s"))
    assert result.status is Status.ERROR
    assert "cannot tell" in result.evidence


@pytest.mark.parametrize(
    "args",
    [{"customer": "{{ params.c }}"}, {"secret": None}, {"customer": None}],
)
def test_unrendered_or_half_given_credentials_are_no_verdict(args: dict[str, Any]) -> None:
    assert judge(Station(), **args).status is Status.ERROR


def test_ground_truth_without_a_command_log_is_no_verdict() -> None:
    class Blind(Station):
        def truth(self) -> dict[str, Any]:
            return {}

    assert judge(Blind()).status is Status.ERROR
