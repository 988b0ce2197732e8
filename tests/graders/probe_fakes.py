"""A fake Probe: a scripted spacecraft and mission control, no containers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labctl.errors import BackendError


@dataclass
class FakeProbe:
    """Mission control commands execute at once; the vantage hears frame N(S) 7.

    ``replay_executes`` / ``restart_forgets``: whether a replayed frame runs again.
    ``air_lost``: the vantage's frames never reach the spacecraft (its frames_received
    counter does not grow). ``telemetry_http`` / ``send_http``: what mission control
    answers to GET /api/telemetry/latest and POST /api/commands.
    """

    replay_executes: bool = True
    restart_forgets: bool = False
    command_status: str = "completed"
    telemetry_age: float | None = 3.0
    unreachable: bool = False
    log: list[dict[str, Any]] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    hear_frame: bool = True
    air_lost: bool = False
    telemetry_http: int = 200
    send_http: int = 201
    frames_received: int = 0
    since: float | None = None
    #: FARM-1's V(R) in ground truth (None: the spacecraft says none).
    farm_vr: int | None = None
    #: The argument vector of each replay the vantage was asked for.
    replays: list[list[str]] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        if self.unreachable:
            raise BackendError("exec cat in spacecraft", "no such container")
        found: dict[str, Any] = {
            "executed_commands": list(self.log),
            "counters": {"frames_received": self.frames_received},
        }
        if self.farm_vr is not None:
            found["farm"] = {"vr": self.farm_vr, "vcid": 0}
        return found

    def vantage_exec(
        self,
        argv: Sequence[str],
        timeout: float = 60.0,
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[int, str]:
        if argv[3] == "capture":
            if on_line is not None:
                on_line("listening")
            if not self.hear_frame:
                return 2, "listening\nnothing heard within 20 s"
            return 0, "listening\n" + json.dumps({"frame": "00aa", "seq": 7})
        self.replays.append(list(argv))
        times = int(argv[list(argv).index("--times") + 1])
        if self.air_lost:
            return 0, json.dumps({"sent": times})
        self.frames_received += times
        if self.replay_executes or (self.restarts and self.restart_forgets):
            self.log.append(self._entry(17, 1, 7, spi=42, seq=7))
        return 0, json.dumps({"sent": times})

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        if self.unreachable:
            raise BackendError("mission control", "connection refused")
        if path == "/api/login":
            return 200, {"token": "t"}
        if path == "/api/commands":
            if self.send_http != 201:
                return self.send_http, {"detail": "refused"}
            self.frames_received += 1
            self.log.append(self._entry(17, 1, 7, spi=42, seq=7))
            return 201, {"id": 1, "status": "sent"}
        if path.startswith("/api/commands/sent/"):
            return 200, {"status": self.command_status}
        if self.telemetry_http != 200:
            return self.telemetry_http, {"detail": "telemetry store unavailable"}
        return 200, {"age_seconds": self.telemetry_age}

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def restart(self, host: str) -> None:
        self.restarts.append(host)
        self.log.clear()

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        raise BackendError(f"exec {argv[0]} in {host}", "the fake has no hosts")

    def host_stat(self, host: str, path: str) -> None:
        raise BackendError(f"stat {path} in {host}", "the fake has no hosts")

    def host_read(self, host: str, path: str) -> None:
        raise BackendError(f"read {path} in {host}", "the fake has no hosts")

    @staticmethod
    def _entry(service: int, subtype: int, frame_seq: int, spi: int, seq: int) -> dict[str, Any]:
        return {
            "service": service,
            "subtype": subtype,
            "frame_seq": frame_seq,
            "spi": spi,
            "sequence_number": seq,
        }
