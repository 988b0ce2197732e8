"""Sending telecommands: policy, PUS-C packet building, sequence counting, the record.

Every attempt is audited, refused ones included. A command is recorded as ``sent`` just
before its packet is written, so a verification report that races the write still finds
it; the report's TC packet id and sequence control identify the command.

Under the two-person rule (``policy.two_person.enabled``) a hazardous command is held,
not sent: it waits, in memory, until a second user who may send hazardous commands
approves it (then it goes out as the requester's command) or anyone who may rejects it,
or until it lapses (``policy.two_person.expiry_s``). The requester can never approve
their own. A restart of mission control drops what is waiting: nothing goes out that
nobody approved since.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc
from labctl.protocols.spacepacket import SEQ_COUNT_MASK, PacketType, SequenceFlags
from labctl.range.hosts import catalog
from labctl.range.hosts.groundstation.conventions import DIRECTIVE_SERVICE, Directive
from labctl.range.hosts.missioncontrol.audit import AuditLog
from labctl.range.hosts.missioncontrol.auth import Session
from labctl.range.hosts.missioncontrol.db import Archive, Row
from labctl.range.hosts.missioncontrol.groundlink import GroundLink, LinkDown
from labctl.range.hosts.missioncontrol.settings import Policy

#: First two octets of our TC packets: version 0, type TC, secondary header, APID.
TC_PACKET_ID: Final = (PacketType.TC << 12) | (1 << 11) | catalog.PLATFORM_APID
#: Hazardous commands waiting for a second person, at most (the oldest lapses first).
MAX_PENDING: Final = 32


class CommandError(Exception):
    """A command cannot be sent; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str, command_id: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.command_id = command_id


@dataclass(frozen=True)
class CommandRequest:
    """Who asks for what, and from where (for the audit trail)."""

    session: Session
    name: str
    args: dict[str, Any]
    remote: str = ""


def describe(command: catalog.Command) -> dict[str, Any]:
    """A catalog entry as the API and the UI show it."""
    return {
        "name": command.name,
        "service": command.service,
        "subtype": command.subtype,
        "function": None if command.function is None else int(command.function),
        "args": list(command.arg_names),
        # arguments that are octets (given as hex text): their length in octets
        "octets": {
            name: size for name in command.arg_names if (size := command.octets(name)) is not None
        },
        "hazardous": command.hazardous,
        "description": command.description,
    }


def public(row: Row) -> Row:
    """A sent-command record as the API returns it."""
    keys = ("id", "created_at", "updated_at", "username", "name", "status", "failure_code")
    out = {key: row[key] for key in keys}
    out.update(args=json.loads(row["args"]), hazardous=bool(row["hazardous"]))
    out["seq_count"] = row["seq_count"]
    return out


@dataclass(frozen=True)
class PendingCommand:
    """A hazardous command held for a second person's approval (two-person rule)."""

    ident: int
    request: CommandRequest
    app_data: bytes
    requested_at: float

    def public(self, expiry_s: float) -> dict[str, Any]:
        """As the API and the UI show it."""
        return {
            "id": self.ident,
            "name": self.request.name,
            "args": self.request.args,
            "requested_by": self.request.session.username,
            "requested_at": self.requested_at,
            "expires_at": self.requested_at + expiry_s,
        }


@dataclass(frozen=True)
class DirectiveRequest:
    """A COP-1 directive for the ground station: ``unlock`` or ``set_vr`` (with ``vr``)."""

    session: Session
    name: str
    vr: int | None
    remote: str


class Commander:
    """Checks the policy, builds the packet, records and sends it."""

    def __init__(
        self,
        archive: Archive,
        link: GroundLink,
        policy: Policy,
        audit: AuditLog,
        clock: Callable[[], float] = time.time,
    ):
        self._archive, self._link, self._policy, self._audit = archive, link, policy, audit
        self._clock = clock
        self._pending: OrderedDict[int, PendingCommand] = OrderedDict()
        self._next_pending = 1
        last = archive.last_seq_count()
        # Continue after the last recorded count so reports never match an older command.
        self._next_seq = 0 if last is None else (last + 1) & SEQ_COUNT_MASK

    def allowed(self, session: Session, command: catalog.Command) -> bool:
        """May this session's role send this command under the configured policy?"""
        if session.role < self._policy.commands_require:
            return False
        return not command.hazardous or session.role >= self._policy.hazardous_requires

    def held(self, command: catalog.Command) -> bool:
        """Whether this command waits for a second person (the two-person rule) when sent."""
        return command.hazardous and self._policy.two_person

    async def send(self, request: CommandRequest) -> Row:
        """Send and record the command; raise CommandError (audited) when it cannot go."""
        command = catalog.BY_NAME.get(request.name)
        if command is None:
            raise self._refuse(request, 404, f"no command named {request.name[:40]!r}")
        if not self.allowed(request.session, command):
            why = "hazardous command needs" if command.hazardous else "sending commands needs"
            needed = max(self._policy.commands_require, self._policy.hazardous_requires)
            role = needed if command.hazardous else self._policy.commands_require
            raise self._refuse(request, 403, f"{why} role {role.label}")
        app_data = self._app_data(request, command)
        if self.held(command):
            return self._hold(request, app_data)
        return await self._transmit(request, command, app_data)

    # -- two-person rule ------------------------------------------------------------------
    def pending(self) -> list[dict[str, Any]]:
        """Hazardous commands waiting for a second person, oldest first."""
        self._lapse()
        expiry = self._policy.two_person_expiry_s
        return [p.public(expiry) for p in self._pending.values()]

    async def approve(self, ident: int, session: Session, remote: str) -> Row:
        """A second person approves a held command: it is sent, as the requester's.
        CommandError (audited) when this session may not, or nothing waits under ``ident``."""
        held = self._waiting(ident, session, remote, "command.approve")
        if session.username == held.request.session.username:
            raise self._refuse_decision(
                ("command.approve", ident, session, remote),
                403,
                "two-person rule: a second person must approve this command, not its requester",
            )
        del self._pending[ident]
        self._audit.record(
            session.username, "command.approve", "ok", remote,
            pending=ident, command=held.request.name, requested_by=held.request.session.username,
        )  # fmt: skip
        command = catalog.BY_NAME[held.request.name]
        return await self._transmit(held.request, command, held.app_data)

    def reject(self, ident: int, session: Session, remote: str) -> dict[str, Any]:
        """Reject (or, for its requester, withdraw) a held command; CommandError (audited)
        when this session may not, or nothing waits under ``ident``."""
        held = self._waiting(ident, session, remote, "command.reject")
        del self._pending[ident]
        self._audit.record(
            session.username, "command.reject", "ok", remote,
            pending=ident, command=held.request.name, requested_by=held.request.session.username,
        )  # fmt: skip
        return held.public(self._policy.two_person_expiry_s)

    def _hold(self, request: CommandRequest, app_data: bytes) -> Row:
        self._lapse()
        while len(self._pending) >= MAX_PENDING:
            _, oldest = self._pending.popitem(last=False)
            self._audit_lapsed(oldest, "too many commands waiting")
        ident, self._next_pending = self._next_pending, self._next_pending + 1
        self._pending[ident] = PendingCommand(ident, request, app_data, self._clock())
        self._audit.record(
            request.session.username, "command.send", "pending", request.remote,
            command=request.name, args=request.args, pending=ident,
            reason="two-person rule: waiting for a second person's approval",
        )  # fmt: skip
        return {"id": None, "pending_id": ident, "status": "pending", "seq_count": None}

    def _waiting(self, ident: int, session: Session, remote: str, action: str) -> PendingCommand:
        if session.role < self._policy.hazardous_requires:
            role = self._policy.hazardous_requires.label
            raise self._refuse_decision(
                (action, ident, session, remote),
                403,
                f"deciding on hazardous commands needs role {role}",
            )
        self._lapse()
        held = self._pending.get(ident)
        if held is None:
            raise self._refuse_decision(
                (action, ident, session, remote),
                404,
                f"no command {ident} waits for approval (approved, rejected or lapsed)",
            )
        return held

    def _lapse(self) -> None:
        """Drop (and audit) the held commands older than the expiry."""
        oldest = self._clock() - self._policy.two_person_expiry_s
        for ident in [i for i, p in self._pending.items() if p.requested_at < oldest]:
            self._audit_lapsed(self._pending.pop(ident), "nobody approved it in time")

    def _audit_lapsed(self, held: PendingCommand, why: str) -> None:
        self._audit.record(
            held.request.session.username, "command.lapse", "ok", held.request.remote,
            pending=held.ident, command=held.request.name, reason=why,
        )  # fmt: skip

    def _refuse_decision(
        self, asked: tuple[str, int, Session, str], status: int, message: str
    ) -> CommandError:
        """Audit a refused approval or rejection (``asked``: action, pending id, session,
        remote address); the error the API answers with."""
        action, ident, session, remote = asked
        self._audit.record(
            session.username, action, "refused", remote, pending=ident, reason=message
        )
        return CommandError(status, message)

    def directives_allowed(self, session: Session) -> bool:
        """May this session's role send COP-1 directives to the ground station?"""
        return session.role >= self._policy.directives_require

    async def directive(self, request: DirectiveRequest) -> None:
        """Send a COP-1 directive to the ground station (128,1 Unlock; 128,2 Set V(R));
        raise CommandError (audited) when it cannot go. Every directive is audited."""
        detail: dict[str, Any] = {"directive": request.name}
        if request.vr is not None:
            detail["vr"] = request.vr
        user, remote = request.session.username, request.remote

        def refuse(status: int, message: str) -> CommandError:
            self._audit.record(
                user, "station.directive", "refused", remote, reason=message, **detail
            )
            return CommandError(status, message)

        if not self.directives_allowed(request.session):
            role = self._policy.directives_require.label
            raise refuse(403, f"COP-1 directives need role {role}")
        if request.name == "unlock":
            subtype, data = Directive.UNLOCK, b""
        elif request.name == "set_vr" and request.vr is not None and 0 <= request.vr <= 0xFF:
            subtype, data = Directive.SET_VR, bytes([request.vr])
        else:
            raise refuse(422, "directive: 'unlock', or 'set_vr' with vr 0..255")
        if not self._link.stats.connected:
            raise refuse(503, "ground link down: the ground station is not connected")
        seq, self._next_seq = self._next_seq, (self._next_seq + 1) & SEQ_COUNT_MASK
        packet = PusTc(catalog.GROUND_STATION_APID, DIRECTIVE_SERVICE, subtype, data, seq)
        try:
            await self._link.send(packet.encode())
        except LinkDown as exc:
            self._audit.record(
                user, "station.directive", "failed", remote, reason=str(exc), **detail
            )
            raise CommandError(503, str(exc)) from None
        self._audit.record(user, "station.directive", "ok", remote, **detail)

    def _app_data(self, request: CommandRequest, command: catalog.Command) -> bytes:
        names = set(request.args)
        if names != set(command.arg_names):
            expected = ", ".join(command.arg_names) or "none"
            raise self._refuse(request, 422, f"{command.name} arguments: expected {expected}")
        values: list[int | bytes] = []
        for name in command.arg_names:
            value, size = request.args[name], command.octets(name)
            if size is None:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise self._refuse(request, 422, f"{command.name} {name} must be an integer")
                values.append(value)
                continue
            octets = _hex(value)
            if octets is None or len(octets) != size:
                raise self._refuse(
                    request, 422, f"{command.name} {name} must be {size} octets as hex text"
                )
            values.append(octets)
        try:
            return command.app_data(*values)
        except ProtocolError as exc:
            raise self._refuse(request, 422, str(exc)) from None

    async def _transmit(
        self, request: CommandRequest, command: catalog.Command, app_data: bytes
    ) -> Row:
        if not self._link.stats.connected:
            raise self._refuse(
                request, 503, "ground link down: the ground station is not connected"
            )
        seq, self._next_seq = self._next_seq, (self._next_seq + 1) & SEQ_COUNT_MASK
        tc = PusTc(catalog.PLATFORM_APID, command.service, command.subtype, app_data, seq)
        command_id = self._record(request, command, seq)
        try:
            await self._link.send(tc.encode())
        except LinkDown as exc:
            self._archive.set_command_status(command_id, "failed")
            self._audit_send(request, "failed", command_id, seq, str(exc))
            raise CommandError(503, str(exc), command_id) from None
        self._audit_send(request, "ok", command_id, seq)
        row = self._archive.command(command_id)
        assert row is not None
        return row

    def _record(self, request: CommandRequest, command: catalog.Command, seq: int) -> int:
        """Archive the command as ``sent`` with what its verification reports will quote."""
        return self._archive.add_command(
            {
                "username": request.session.username,
                "name": command.name,
                "args": json.dumps(request.args, sort_keys=True),
                "hazardous": command.hazardous,
                "seq_count": seq,
                "packet_id": TC_PACKET_ID,
                "seq_control": (SequenceFlags.UNSEGMENTED << 14) | seq,
                "status": "sent",
            }
        )

    def _audit_send(
        self, request: CommandRequest, outcome: str, command_id: int, seq: int, reason: str = ""
    ) -> None:
        detail: dict[str, Any] = {"command": request.name, "args": request.args, "id": command_id}
        detail.update(seq_count=seq, **({"reason": reason} if reason else {}))
        self._audit.record(
            request.session.username, "command.send", outcome, request.remote, **detail
        )

    def _refuse(self, request: CommandRequest, status: int, message: str) -> CommandError:
        self._audit.record(
            request.session.username,
            "command.send",
            "refused",
            request.remote,
            command=request.name,
            args=request.args,
            role=request.session.role.label,
            reason=message,
        )
        return CommandError(status, message)


def _hex(value: object) -> bytes | None:
    """Octets from hex text (spaces and colons allowed between them); None otherwise."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    try:
        return bytes.fromhex(value.replace(":", " "))
    except ValueError:
        return None
