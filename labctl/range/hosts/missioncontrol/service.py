"""One mission-control server's parts wired together: archive, audit, sessions, link.

The web layer (:mod:`.app`) holds one :class:`MissionControl` and asks it for data; it
starts the ground link in the server's event loop and stops it on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any, Final

import anyio
import anyio.to_thread

from labctl.range.hosts.missioncontrol.audit import AuditLog
from labctl.range.hosts.missioncontrol.auth import Authenticator, Session, SessionStore
from labctl.range.hosts.missioncontrol.commanding import Commander, CommandError, CommandRequest
from labctl.range.hosts.missioncontrol.db import Archive
from labctl.range.hosts.missioncontrol.groundlink import GroundLink
from labctl.range.hosts.missioncontrol.ingest import Ingest
from labctl.range.hosts.missioncontrol.settings import Role, Settings, User

LOG: Final = logging.getLogger("labctl.missioncontrol")
#: Recorded halts of the telemetry processing that /api/health lists (the newest).
HALTS_SHOWN: Final = 10


class MissionControl:
    """The server's state. Create it, ``await start()`` in the event loop, ``await stop()``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.archive = Archive(settings.database, settings.retention)
        self.audit = AuditLog(
            self.archive,
            settings.audit_log,
            settings.audit_enabled,
            settings.audit_max_bytes,
            settings.audit_remote,
        )
        self.sessions = SessionStore(settings.session_lifetime)
        self.auth = Authenticator(settings.users, settings.policy)
        self.ingest = Ingest(self.archive, halt_on_bad_packet=settings.on_bad_packet == "halt")
        backoff = (settings.reconnect_min, settings.reconnect_max)
        self.link = GroundLink(
            settings.ground_host,
            settings.ground_port,
            self.ingest,
            backoff,
            idle_timeout=settings.ground_idle_timeout,
            access=settings.ground_access,
        )
        self.commander = Commander(self.archive, self.link, settings.policy, self.audit)
        self._task: asyncio.Task[None] | None = None
        self._operations: asyncio.Task[None] | None = None
        self._password_checks: anyio.CapacityLimiter | None = None

    async def login(self, username: str, password: str) -> User:
        """The user, or LoginRefused. A password hash costs tens of milliseconds of CPU and
        16 MiB (unknown users too, by design), so checks run in a worker thread, one at a
        time: a flood of logins waits its turn without stalling every other request."""
        if self._password_checks is None:  # created in the server's event loop
            self._password_checks = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(
            self.auth.login, username, password, limiter=self._password_checks
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self.link.run(), name="ground-link")
        if self.settings.operations.enabled:
            self._operations = asyncio.create_task(self._operate(), name="operations")
        policy = self.settings.policy
        if not self.settings.audit_enabled:
            LOG.warning("audit trail disabled (audit_log.enabled: false): no action is recorded")
        self.audit.record(
            "system",
            "server.start",
            "ok",
            config=self.settings.config_file,
            users=sorted(self.settings.users),
            commands_require=policy.commands_require.label,
            hazardous_requires=policy.hazardous_requires.label,
            audit_requires=policy.audit_requires.label,
            lockout_attempts=policy.lockout_attempts,
            two_person=policy.two_person,
            audit_remote=self.audit.shipper.target if self.audit.shipper else "",
        )

    async def _operate(self) -> None:
        """The flight-operations script: the next routine command every period, as its
        own user (recorded and audited under that name); a refusal is logged, never fatal."""
        ops = self.settings.operations
        session = Session(ops.user, Role.OPERATOR, expires_at=float("inf"))
        for turn in itertools.count():
            await asyncio.sleep(ops.period)
            if not self.link.stats.connected:
                continue
            name = ops.commands[turn % len(ops.commands)]
            try:
                await self.commander.send(CommandRequest(session, name, {}, "operations"))
            except CommandError as exc:
                LOG.info("operations: %s not sent: %s", name, exc.message)

    async def stop(self) -> None:
        if self._operations is not None:
            self._operations.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._operations
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.audit.record("system", "server.stop", "ok")
        self.audit.close()
        self.archive.close()

    def telemetry_age(self) -> float | None:
        last = self.ingest.last_telemetry
        if last is None:
            row = self.archive.latest_housekeeping()
            last = None if row is None else float(row["received_at"])
        return None if last is None else round(max(0.0, time.time() - last), 3)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "ground_link": self.link.stats.connected,
            "last_telemetry_age": self.telemetry_age(),
            "ingest": self.ingest_status(),
            "audit_remote": self.shipping_status(),
        }

    def shipping_status(self) -> dict[str, Any] | None:
        """Where the audit trail is shipped, and how it goes; None when it is not."""
        shipper = self.audit.shipper
        if shipper is None:
            return None
        stats = shipper.stats
        return {
            "target": shipper.target,
            "connected": stats.connected,
            "sent": stats.sent,
            "dropped": stats.dropped,
            "last_error": stats.last_error,
        }

    def ingest_status(self) -> dict[str, Any]:
        """The telemetry processing: running or halted, and its halts ever recorded."""
        halts = self.archive.ingest_halts()
        return {
            "on_bad_packet": "halt" if self.ingest.halt_on_bad_packet else "drop",
            "halted": self.ingest.halted is not None,
            "halted_reason": self.ingest.halted,
            "halts_recorded": len(halts),
            "halts": halts[:HALTS_SHOWN],
            "rejected_packets": self.ingest.counts["rejected"],
        }

    def link_status(self) -> dict[str, Any]:
        stats = self.link.stats
        return {
            "connected": stats.connected,
            "connected_since": stats.connected_since,
            "address": f"{self.link.host}:{self.link.port}",
            "packets_in": stats.packets_in,
            "packets_out": stats.packets_out,
            "garbage_octets": stats.garbage_octets,
            "rejected_packets": self.ingest.counts["rejected"],
            "processing": (
                "running" if self.ingest.halted is None else f"HALTED ({self.ingest.halted})"
            ),
            "last_error": stats.last_error,
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything the dashboard shows, in one document."""
        latest = self.archive.latest_housekeeping()
        if latest is not None:
            latest["payload_on"] = bool(latest["payload_on"])
        return {
            "housekeeping": latest,
            "age_seconds": self.telemetry_age(),
            "ground_link": self.link_status(),
            "ground_station": self.archive.ground_status(),
            "parameters": self.parameters(),
        }

    def sdls_replies(self) -> dict[str, Any]:
        """The latest SDLS extended-procedure replies, newest first."""
        return {"replies": list(reversed(self.ingest.sdls_replies))}

    def parameters(self) -> dict[str, Any]:
        """The spacecraft's last parameter report (REPORT_PARAMETERS asks for one)."""
        at = self.ingest.parameters_at
        return {
            "received_at": at,
            "age_seconds": None if at is None else round(time.time() - at, 1),
            "parameters": self.ingest.parameters,
        }
