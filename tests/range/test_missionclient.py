"""The workstation's mission-control client: waiting for a pass from the pass plan."""

from __future__ import annotations

from typing import Any

import pytest

from labctl.range import missionclient
from labctl.range.missionclient import MissionControl, MissionControlError


class Planned(MissionControl):
    """A client whose pass plan is scripted (no server)."""

    def __init__(self, plans: list[list[dict[str, Any]]]) -> None:
        super().__init__("student", "pw", "http://127.0.0.1:9")
        self.plans = plans

    def passes(self) -> list[dict[str, Any]]:
        return self.plans.pop(0) if len(self.plans) > 1 else self.plans[0]


def entry(now: bool, in_s: float, duration: float, until_los: float) -> dict[str, Any]:
    return {"now": now, "in_s": in_s, "duration_s": duration, "until_los_s": until_los}


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(missionclient.time, "sleep", waits.append)
    return waits


def test_a_pass_under_way_with_room_is_used_at_once(slept: list[float]) -> None:
    client = Planned([[entry(True, 0, 200, 150), entry(False, 240, 190, 430)]])
    assert client.wait_for_pass(60) == 150
    assert slept == [0.0]


def test_a_pass_ending_too_soon_is_skipped_for_the_next(slept: list[float]) -> None:
    client = Planned([[entry(True, 0, 200, 20), entry(False, 40, 190, 230)]])
    assert client.wait_for_pass(60) == 230 - 46
    assert slept == [46.0]  # until the next AOS, and 6 s for the link to come back


def test_a_link_without_passes_waits_for_nothing_and_no_pass_in_time_is_an_error(
    slept: list[float],
) -> None:
    assert Planned([[]]).wait_for_pass(60) == float("inf")
    short = Planned([[entry(False, 10, 30, 40)]])
    with pytest.raises(MissionControlError, match="no pass with 60 s"):
        short.wait_for_pass(60, longest=0.0)


class Scripted(MissionControl):
    """Mission control as a list of calls: what was sent, and the reports after REBOOT."""

    def __init__(self, stored_ok: bool = True) -> None:
        super().__init__("student", "x")
        self.sent: list[tuple[str, dict[str, int | str]]] = []
        self.stored_ok = stored_ok
        self.rebooted = False

    def parameters(self, within: float = 30.0) -> list[dict[str, object]]:
        value = 1 if self.rebooted else 0
        return [{"name": "TABLE_VERIFY", "id": 6, "in_use": value}]

    def send(self, name: str, within: float = 45.0, **args: int | str) -> dict[str, object]:
        self.sent.append((name, args))
        self.rebooted = self.rebooted or name == "REBOOT"
        ok = name != "SET_PARAMETER" or self.stored_ok
        return {"status": "completed" if ok else "failed"}


def test_set_parameters_stores_by_name_then_resets() -> None:
    mc = Scripted()
    assert mc.set_parameters({"TABLE_VERIFY": 1}) == {"TABLE_VERIFY": 1}
    assert mc.sent == [("SET_PARAMETER", {"parameter": 6, "value": 1}), ("REBOOT", {})]


def test_set_parameters_stops_at_a_value_not_stored_or_an_unknown_name() -> None:
    import pytest

    from labctl.range.missionclient import MissionControlError

    with pytest.raises(MissionControlError, match="SET_PARAMETER TABLE_VERIFY"):
        Scripted(stored_ok=False).set_parameters({"TABLE_VERIFY": 1})
    mc = Scripted()
    with pytest.raises(MissionControlError, match="no parameter NOPE"):
        mc.set_parameters({"NOPE": 1})
    assert mc.sent == []
