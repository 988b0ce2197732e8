"""The jamming and failover checks against a scripted rf-link and mission control."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graders.checks import failover
from graders.checks.base import Status
from graders.checks.failover import CommandsDespiteJamming, CommandsDespiteJammingArgs


@dataclass
class FakeRange:
    """An rf-link whose jam drops frames, and mission control: a command completes unless
    it goes through the jammed path (``via_jammed``)."""

    via_jammed: bool = True
    jam_takes: bool = True
    frames_jammed: int = 0
    last_jammed: float | None = None
    noise_dropped: int = 0
    since: float | None = None
    jams: list[list[str]] = field(default_factory=list)
    status_readable: bool = True

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        assert host == "rf-link"
        if not self.status_readable:
            return 1, "cat: /run/labctl/rf-link.json: No such file or directory"
        document = {
            "dropped": {"uplink_jammed": self.noise_dropped + self.frames_jammed},
            "frames_jammed": {"uplink": self.frames_jammed} if self.frames_jammed else {},
            "last_frame_jammed_at": {"uplink": self.last_jammed} if self.last_jammed else {},
        }
        return 0, json.dumps(document)

    def vantage_exec(
        self,
        argv: Sequence[str],
        timeout: float = 60.0,
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[int, str]:
        self.jams.append(list(argv))
        if on_line is not None:
            on_line("jamming")
        if self.jam_takes:
            self.noise_dropped += 500
        return 0, 'jamming\n{"sent": 30000, "seconds": 32}'

    def api(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, token: Any = None
    ) -> tuple[int, Any]:
        if path == "/api/login":
            return 200, {"token": "t"}
        if path == "/api/commands":
            if self.via_jammed and self.jam_takes:
                self.frames_jammed += 1
            return 201, {"id": 5, "status": "sent"}
        lost = self.via_jammed and self.jam_takes
        return 200, {"status": "sent" if lost else "completed"}

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role


def despite(fake: FakeRange) -> Any:
    args = CommandsDespiteJammingArgs(within=5)
    return CommandsDespiteJamming().run(args, fake)


def test_a_command_through_another_path_passes(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover, "LEAD_S", 0.0)
    fake = FakeRange(via_jammed=False)
    result = despite(fake)
    assert result.status is Status.PASS, result.evidence
    assert "--host" in fake.jams[0]
    assert fake.jams[0][fake.jams[0].index("--host") + 1] == "rf-link"


def test_a_command_lost_to_the_jam_fails(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover, "LEAD_S", 0.0)
    result = despite(FakeRange(via_jammed=True))
    assert result.status is Status.FAIL, result.evidence
    assert "no other radio path" in result.evidence


def test_a_jam_that_did_not_take_is_an_error_not_a_verdict(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover, "LEAD_S", 0.0)

    class Stuck(FakeRange):
        def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
            if path.startswith("/api/commands/sent/"):
                return 200, {"status": "sent"}  # lost for another reason
            return super().api(method, path, body, token)

    result = despite(Stuck(jam_takes=False))
    assert result.status is Status.ERROR
    assert "the jam did not take" in result.evidence


def test_an_unreadable_rf_link_status_is_an_error(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover, "LEAD_S", 0.0)
    result = despite(FakeRange(status_readable=False))
    assert result.status is Status.ERROR
    assert "no status document" in result.evidence


class Board:
    def __init__(self, states: dict[int, str]) -> None:
        self.states = states

    def truth(self) -> dict[str, Any]:
        return {"security_associations": [{"spi": s, "state": v} for s, v in self.states.items()]}


def test_sa_retired_fails_while_the_sa_is_operational_and_passes_once_stopped() -> None:
    from graders.checks.failover import SaRetired, SaRetiredArgs

    args = SaRetiredArgs(spis=[40])
    result = SaRetired().run(args, Board({1: "OPERATIONAL", 40: "OPERATIONAL"}))
    assert result.status is Status.FAIL
    assert "SA 40 still operational" in result.evidence
    assert SaRetired().run(args, Board({40: "UNKEYED"})).status is Status.PASS
    assert SaRetired().run(args, Board({1: "OPERATIONAL"})).status is Status.PASS  # gone
    unrendered = SaRetiredArgs(spis=["{{ params.backup_plain_spi }}"])
    assert SaRetired().run(unrendered, Board({})).status is Status.ERROR
    assert SaRetired.passive
