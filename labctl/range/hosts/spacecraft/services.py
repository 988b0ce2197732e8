"""On-board PUS services: execute telecommands from the mission database.

ECSS-E-ST-70-41C services: 1 request verification (1,1 / 1,2 acceptance, 1,7 / 1,8
completion; success reports as the TC's acknowledgement flags ask, failure reports
always, §6.1.3), 3 housekeeping (3,5 / 3,6 enable and disable, 3,25 report), 5 event
reporting (5,1-5,4 by severity), 8 function management (8,1), 17 test (17,1 / 17,2) and
20 on-board parameter management (20,1 report / 20,2, 20,3 set; :mod:`.parameters`).
What a command means is :mod:`labctl.range.hosts.catalog`; this module only carries it out.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls_ep import EpPdu, KeyProcedure, SaProcedure, ServiceGroup
from labctl.protocols.spacepacket import IDLE_APID
from labctl.protocols.table import LimitsTable
from labctl.range.hosts import catalog
from labctl.range.hosts.catalog import (
    COMMANDS,
    HK_PLATFORM,
    PLATFORM_APID,
    Command,
    Event,
    FailureCode,
    Mode,
    command_for,
    verification_data,
)
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.spacecraft import parameters
from labctl.range.hosts.spacecraft.config import SpacecraftConfig, validate_parameters
from labctl.range.hosts.spacecraft.procedures import ProcedureRefused, SaManagement
from labctl.range.hosts.spacecraft.state import OnboardState
from labctl.range.hosts.spacecraft.tables import OnboardTables, TableRefused

ACK_ACCEPTANCE: Final = 0b1000
#: The highest virtual channel telemetry may be routed to (7 carries idle frames only).
MAX_DOWNLINK_VCID: Final = 6
ACK_COMPLETION: Final = 0b0001
#: Event report subtype (severity) per event: 1 informative .. 4 high severity.
EVENT_SEVERITY: Final = {
    Event.BOOT: 1,
    Event.MODE_CHANGED: 1,
    Event.PAYLOAD_SWITCHED: 1,
    Event.THRUSTER_FIRED: 2,
    Event.SAFE_MODE_ENTERED: 3,
    Event.FARM_LOCKOUT: 3,
    Event.SECURITY_ALARM: 4,
    Event.PARAMETER_CHANGED: 2,
    Event.SA_CHANGED: 2,
    Event.DUPLICATE_COMMAND: 2,
    Event.UNAUTHENTICATED_COMMAND: 4,
    Event.KEY_CHANGED: 2,
    Event.TABLE_LOADED: 2,
}

SendTm = Callable[[int, int, bytes], None]
RaiseEvent = Callable[[Event, bytes], None]


@dataclass(frozen=True)
class FrameContext:
    """Where a telecommand came from: the ground truth graders reason about."""

    spi: int | None
    sequence_number: int | None
    bypass: bool
    frame_seq: int
    frame_digest: str = ""


class CommandFailed(Exception):
    """Execution refused; carries the PUS failure code."""

    def __init__(self, code: FailureCode) -> None:
        self.code = code
        super().__init__(code.name)


@dataclass(frozen=True)
class Onboard:
    """What the reset and parameter services reach: the configuration in use, the file it
    came from, and the reset itself (the program restarts the flight software)."""

    config: SpacecraftConfig
    reboot: Callable[[], None]
    sdls: SaManagement | None = None
    tables: OnboardTables | None = None
    #: Route the telemetry (virtual channel, in the clear or not) until the next reset.
    route: Callable[[int, bool], None] | None = None

    @property
    def path(self) -> Path:
        return Path(self.config.file)


class PusServices:
    """Telecommand execution against the on-board state."""

    def __init__(
        self,
        state: OnboardState,
        send_tm: SendTm,
        raise_event: RaiseEvent,
        onboard: Onboard | None = None,
    ) -> None:
        self.state = state
        self.send_tm = send_tm
        self.raise_event = raise_event
        self.onboard = onboard
        self._functions: dict[str, Callable[[tuple[int, ...]], None]] = {
            "PING": self._ping,
            "PAYLOAD_ON": self._payload_on,
            "PAYLOAD_OFF": self._payload_off,
            "SET_MODE": self._set_mode,
            "THRUSTER_FIRE": self._thruster_fire,
            "SAFE_MODE": self._safe_mode,
            "ENABLE_HK": self._enable_hk,
            "DISABLE_HK": self._disable_hk,
            "REBOOT": self._reboot,
            "DOWNLINK_ROUTE": self._downlink_route,
            "REPORT_PARAMETERS": self._report_parameters,
            "SET_PARAMETER": self._set_parameter,
        }

    def handle_packet(self, raw: bytes, context: FrameContext) -> bool:
        """Verify, accept and execute one TC packet; True when it executed successfully."""
        try:
            tc = PusTc.decode(raw)
        except ProtocolError:
            self.state.counters.commands_rejected += 1  # header untrustworthy: no report
            return False
        if tc.apid == IDLE_APID:
            return False
        ids = struct.unpack(">HH", raw[:4])
        if tc.apid != PLATFORM_APID:
            self.state.counters.commands_rejected += 1
            return False
        try:
            command, args = command_for(tc.service, tc.subtype, tc.app_data)
        except ProtocolError:
            self._fail(1, 2, ids, _acceptance_failure(tc))
            return False
        if tc.ack_flags & ACK_ACCEPTANCE:
            self.send_tm(1, 1, _verification(ids))
        return self._execute(tc, command, args, ids, context)

    def _execute(
        self,
        tc: PusTc,
        command: Command,
        args: tuple[int | bytes, ...],
        ids: tuple[int, int],
        context: FrameContext,
    ) -> bool:
        try:
            if command.procedure is not None:
                self._ep_procedure(command, args)
            elif command.name == "TABLE_LOAD":
                self._table_load(args)
            else:
                self._functions[command.name](_numbers(args))
        except CommandFailed as failed:
            self._log(tc, command, args, context, f"failed: {failed.code.name}")
            self._fail(1, 8, ids, failed.code)
            return False
        self.state.counters.commands_executed += 1
        self._log(tc, command, args, context, "completed")
        if tc.ack_flags & ACK_COMPLETION:
            self.send_tm(1, 7, _verification(ids))
        return True

    def _fail(self, service: int, subtype: int, ids: tuple[int, int], code: FailureCode) -> None:
        self.state.counters.commands_rejected += 1
        self.send_tm(service, subtype, _verification(ids, code))

    def _log(
        self,
        tc: PusTc,
        command: Command,
        args: tuple[int | bytes, ...],
        context: FrameContext,
        result: str,
    ) -> None:
        entry: dict[str, Any] = {
            "time": self.state.wallclock(),
            "service": tc.service,
            "subtype": tc.subtype,
            "name": command.name,
            "function": int(command.function) if command.function is not None else None,
            "args": {  # octets as hex: the log is JSON (the ground truth)
                name: value.hex() if isinstance(value, bytes) else value
                for name, value in zip(command.arg_names, args, strict=True)
            },
            "hazardous": command.hazardous,
            "source_id": tc.source_id,
            "spi": context.spi,
            "sequence_number": context.sequence_number,
            "frame_seq": context.frame_seq,
            "frame_digest": context.frame_digest,
            "bypass": context.bypass,
            "result": result,
        }
        self.state.command_log.append(entry)

    # -- functions ------------------------------------------------------------------------
    def _ping(self, _args: tuple[int, ...]) -> None:
        self.send_tm(17, 2, b"")

    def _payload_on(self, _args: tuple[int, ...]) -> None:
        if self.state.mode is Mode.SAFE:
            raise CommandFailed(FailureCode.NOT_ALLOWED_IN_MODE)
        self._switch_payload(True)

    def _payload_off(self, _args: tuple[int, ...]) -> None:
        self._switch_payload(False)

    def _switch_payload(self, on: bool) -> None:
        self.state.advance()
        changed = self.state.payload_on != on
        self.state.payload_on = on
        if changed:
            self.raise_event(Event.PAYLOAD_SWITCHED, bytes([on]))

    def _set_mode(self, args: tuple[int, ...]) -> None:
        if args[0] not in Mode._value2member_map_:
            raise CommandFailed(FailureCode.BAD_ARGUMENTS)
        self._enter_mode(Mode(args[0]), Event.MODE_CHANGED)

    def _safe_mode(self, _args: tuple[int, ...]) -> None:
        self._enter_mode(Mode.SAFE, Event.SAFE_MODE_ENTERED)

    def _enter_mode(self, mode: Mode, event: Event) -> None:
        previous = self.state.mode
        if mode is Mode.SAFE:
            self._switch_payload(False)
        self.state.mode = mode
        if previous is not mode or event is Event.SAFE_MODE_ENTERED:
            self.raise_event(event, bytes([previous, mode]))

    def _thruster_fire(self, args: tuple[int, ...]) -> None:
        (duration_ms,) = args
        tables = self.onboard.tables if self.onboard is not None else None
        if tables is not None and not tables.allows_burn(duration_ms):
            raise CommandFailed(FailureCode.REFUSED_BY_TABLE)
        self.state.fire_thruster(duration_ms)
        self.raise_event(Event.THRUSTER_FIRED, struct.pack(">H", duration_ms))

    def _enable_hk(self, args: tuple[int, ...]) -> None:
        self._housekeeping(args, True)

    def _disable_hk(self, args: tuple[int, ...]) -> None:
        self._housekeeping(args, False)

    def _housekeeping(self, args: tuple[int, ...], enabled: bool) -> None:
        if args[0] != HK_PLATFORM:
            raise CommandFailed(FailureCode.BAD_ARGUMENTS)
        self.state.hk_enabled = enabled

    def _ep_procedure(self, command: Command, args: tuple[int | bytes, ...]) -> None:
        procedure = command.procedure
        if self.onboard is None or self.onboard.sdls is None or procedure is None:
            raise CommandFailed(FailureCode.ILLEGAL_SERVICE)
        sdls = self.onboard.sdls
        keys = command.group is ServiceGroup.KEY_MANAGEMENT
        try:
            if keys:
                reply = sdls.run_key(KeyProcedure(procedure), args)
            else:
                reply = sdls.run(SaProcedure(procedure), args)
        except ProcedureRefused as refused:
            self.raise_event(Event.SECURITY_ALARM, b"EP:" + str(refused).encode()[:56])
            code = FailureCode.NOT_ALLOWED_IN_MODE if refused.state else FailureCode.BAD_ARGUMENTS
            raise CommandFailed(code) from None
        if reply is not None:
            pdu = EpPdu(command.group, procedure, reply, reply=True)
            self.send_tm(catalog.SDLS_EP_SERVICE, 2, pdu.encode())
        elif keys:
            ident = sdls.changed_key if sdls.changed_key is not None else 0
            self.raise_event(Event.KEY_CHANGED, struct.pack(">HB", ident, procedure))
        else:
            spi = args[0] if isinstance(args[0], int) else 0
            self.raise_event(Event.SA_CHANGED, struct.pack(">HB", spi, procedure))

    def _table_load(self, args: tuple[int | bytes, ...]) -> None:
        tables = self.onboard.tables if self.onboard is not None else None
        if tables is None:
            raise CommandFailed(FailureCode.ILLEGAL_SERVICE)
        table_id, version, max_burn_ms, enabled, signature = args
        if not isinstance(signature, bytes) or enabled not in (0, 1):
            raise CommandFailed(FailureCode.BAD_ARGUMENTS)
        try:
            table = LimitsTable(int(version), int(max_burn_ms), bool(enabled))
            active = tables.load(int(table_id), table, signature)
        except ProtocolError:
            raise CommandFailed(FailureCode.BAD_ARGUMENTS) from None
        except TableRefused as refused:
            self.raise_event(Event.SECURITY_ALARM, b"TABLE:" + str(refused).encode()[:56])
            raise CommandFailed(FailureCode.REFUSED_BY_TABLE) from None
        except OSError:
            raise CommandFailed(FailureCode.BAD_ARGUMENTS) from None
        verified = 2 if active.verified is None else int(active.verified)
        self.raise_event(
            Event.TABLE_LOADED, struct.pack(">BHB", int(table_id), table.version, verified)
        )

    def _downlink_route(self, args: tuple[int, ...]) -> None:
        vcid, clear = args
        if self.onboard is None or self.onboard.route is None:
            raise CommandFailed(FailureCode.ILLEGAL_FUNCTION)
        if not 0 <= vcid <= MAX_DOWNLINK_VCID or clear not in (0, 1):
            raise CommandFailed(FailureCode.BAD_ARGUMENTS)
        self.onboard.route(vcid, bool(clear))

    def _reboot(self, _args: tuple[int, ...]) -> None:
        if self.onboard is None:
            raise CommandFailed(FailureCode.ILLEGAL_FUNCTION)
        self.onboard.reboot()

    def _in_use(self) -> dict[str, Any]:
        """The configuration values in use, per parameter key (None where it does not apply)."""
        if self.onboard is None:
            raise CommandFailed(FailureCode.ILLEGAL_SERVICE)
        config = self.onboard.config
        uplink_sa = next((a for a in config.associations if a.name == "uplink"), None)
        values: dict[str, Any] = {
            "uplink.clear_control_commands": config.uplink.clear_control_commands,
            "uplink.sdls": config.uplink.sdls,
            "uplink.clear_routing": config.uplink.clear_routing,
            "tables.verify": config.tables.verify,
            "tables.anti_rollback": config.tables.anti_rollback,
        }
        if uplink_sa is not None:
            values["sdls.associations.uplink.anti_replay"] = uplink_sa.sa.window > 0
            values["sdls.associations.uplink.window"] = uplink_sa.sa.window
            values["sdls.associations.uplink.persist_sequence"] = uplink_sa.persist_sequence
        return values

    def _report_parameters(self, _args: tuple[int, ...]) -> None:
        in_use = self._in_use()
        assert self.onboard is not None
        kept = parameters.stored(self.onboard.config.state_dir)
        report = b""
        for parameter in catalog.PARAMETERS:
            if parameter.key not in in_use:
                continue
            now = in_use[parameter.key]
            report += struct.pack(
                catalog.PARAMETER_REPORT_FORMAT,
                parameter.ident,
                parameter.encode(kept.get(parameter.key, now)),
                parameter.encode(now),
            )
        self.send_tm(20, 2, report)

    def _set_parameter(self, args: tuple[int, ...]) -> None:
        ident, raw = args
        parameter = catalog.PARAMETER_BY_ID.get(ident)
        if parameter is None or parameter.key not in self._in_use():
            raise CommandFailed(FailureCode.BAD_ARGUMENTS)
        onboard = self.onboard
        assert onboard is not None
        try:
            value = parameter.check(raw)
            parameters.store(
                onboard.config.state_dir,
                parameter,
                value,
                lambda values: validate_parameters(onboard.path, values),
            )
        except (ValueError, HostConfigError, OSError):
            raise CommandFailed(FailureCode.BAD_ARGUMENTS) from None
        self.raise_event(Event.PARAMETER_CHANGED, struct.pack(">HI", ident, raw))


def _numbers(args: tuple[int | bytes, ...]) -> tuple[int, ...]:
    """The arguments of a command that takes numbers only (the catalogue's formats)."""
    if not all(isinstance(a, int) for a in args):
        raise CommandFailed(FailureCode.BAD_ARGUMENTS)
    return tuple(a for a in args if isinstance(a, int))


def _verification(ids: tuple[int, int], code: FailureCode | None = None) -> bytes:
    """Service 1 source data: TC packet id, sequence control (and failure code)."""
    return verification_data(ids[0], ids[1], None if code is None else int(code))


def _acceptance_failure(tc: PusTc) -> FailureCode:
    """Why command_for refused: unknown service, unknown function or bad arguments."""
    known = [c for c in COMMANDS if (c.service, c.subtype) == (tc.service, tc.subtype)]
    if not known:
        return FailureCode.ILLEGAL_SERVICE
    if tc.service == 8 and tc.subtype == 1 and len(tc.app_data) >= 2:
        function = struct.unpack(">H", tc.app_data[:2])[0]
        if all(c.function != function for c in known):
            return FailureCode.ILLEGAL_FUNCTION
    return FailureCode.BAD_ARGUMENTS
