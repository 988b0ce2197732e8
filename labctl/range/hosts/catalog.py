"""The mission database: telecommands the spacecraft understands, telemetry it sends.

The spacecraft emulator executes from this table and mission control offers commands
from it, so the two cannot disagree. Data layouts are big-endian, as on the wire.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.sdls import SaState
from labctl.protocols.sdls_ep import (
    CHALLENGE_SIZE,
    KEY_STATE_CODES,
    OTAR_BLOCK_SIZE,
    OTAR_IV_SIZE,
    OTAR_TAG_SIZE,
    VERIFY_REPLY_SIZE,
    EpPdu,
    KeyProcedure,
    SaProcedure,
    ServiceGroup,
)
from labctl.protocols.sdls_ep import decode as decode_pdu
from labctl.protocols.table import SIGNATURE_SIZE

#: APID of the spacecraft platform, for TC and TM.
PLATFORM_APID: Final = 0x064
#: APID of ground-station status packets on the packet service.
GROUND_STATION_APID: Final = 0x7F0
#: Mission-specific PUS service carrying SDLS extended procedures: 129,1 a command PDU,
#: 129,2 a reply PDU (:mod:`labctl.protocols.sdls_ep`).
SDLS_EP_SERVICE: Final = 129
#: Mission-specific PUS service of on-board tables: 130,1 loads a table
#: (:mod:`labctl.protocols.table`).
TABLE_SERVICE: Final = 130
#: Housekeeping structure id of the platform report.
HK_PLATFORM: Final = 1
OPS_MESSAGE_SIZE: Final = 32


class Mode(IntEnum):
    SAFE = 0
    NOMINAL = 1
    SCIENCE = 2


class Function(IntEnum):
    """Function ids of PUS service 8 (function management)."""

    PAYLOAD_ON = 1
    PAYLOAD_OFF = 2
    SET_MODE = 3
    THRUSTER_FIRE = 4
    SAFE_MODE = 5
    REBOOT = 6
    DOWNLINK_ROUTE = 7


class FailureCode(IntEnum):
    """Codes in PUS 1,2 / 1,8 failure reports."""

    ILLEGAL_SERVICE = 1
    ILLEGAL_FUNCTION = 2
    BAD_ARGUMENTS = 3
    NOT_ALLOWED_IN_MODE = 4
    #: Outside the limits table's bounds (a burn too long, the thruster disabled), or a
    #: table load whose signature does not verify.
    REFUSED_BY_TABLE = 5


class Event(IntEnum):
    """Event ids of PUS service 5 reports."""

    BOOT = 1
    MODE_CHANGED = 2
    PAYLOAD_SWITCHED = 3
    THRUSTER_FIRED = 4
    SAFE_MODE_ENTERED = 5
    FARM_LOCKOUT = 6
    SECURITY_ALARM = 7
    PARAMETER_CHANGED = 8
    SA_CHANGED = 9
    DUPLICATE_COMMAND = 10
    UNAUTHENTICATED_COMMAND = 11
    KEY_CHANGED = 12
    TABLE_LOADED = 13


@dataclass(frozen=True)
class Command:
    """One entry of the command database."""

    name: str
    service: int
    subtype: int
    function: Function | None = None
    #: struct format of the arguments after the function id (big-endian), and their names.
    args_format: str = ""
    arg_names: tuple[str, ...] = ()
    hazardous: bool = False
    description: str = ""
    #: An SDLS extended procedure: the data is one EP PDU of ``group``.
    procedure: SaProcedure | KeyProcedure | None = None
    group: ServiceGroup = ServiceGroup.SA_MANAGEMENT

    def octets(self, name: str) -> int | None:
        """How many octets argument ``name`` is when it is octets (format ``Ns``), else None."""
        codes = re.findall(r"(\d*)([a-zA-Z?])", self.args_format)
        for arg, (count, code) in zip(self.arg_names, codes, strict=True):
            if arg == name and code == "s":
                return int(count or 1)
        return None

    def app_data(self, *args: int | bytes) -> bytes:
        """The TC application data for these arguments."""
        if len(args) != len(self.arg_names):
            raise ProtocolError(f"{self.name} takes {len(self.arg_names)} argument(s)")
        try:
            data = struct.pack(">" + self.args_format, *args)
        except struct.error as exc:
            raise ProtocolError(f"{self.name}: bad argument ({exc})") from None
        if self.procedure is not None:
            return EpPdu(self.group, self.procedure, data).encode()
        if self.function is None:
            return data
        return struct.pack(">H", self.function) + data

    def parse_args(self, data: bytes) -> tuple[int | bytes, ...]:
        """Arguments from application data that follow the function id (if any)."""
        try:
            return struct.unpack(">" + self.args_format, data)
        except struct.error:
            raise ProtocolError(f"{self.name}: wrong argument length {len(data)}") from None


COMMANDS: Final[tuple[Command, ...]] = (
    Command("PING", 17, 1, description="Are you alive? The spacecraft answers with 17,2."),
    Command("PAYLOAD_ON", 8, 1, Function.PAYLOAD_ON, description="Switch the payload on."),
    Command("PAYLOAD_OFF", 8, 1, Function.PAYLOAD_OFF, description="Switch the payload off."),
    Command(
        "SET_MODE",
        8,
        1,
        Function.SET_MODE,
        "B",
        ("mode",),
        description="Change mode: 0 SAFE, 1 NOMINAL, 2 SCIENCE.",
    ),
    Command(
        "THRUSTER_FIRE",
        8,
        1,
        Function.THRUSTER_FIRE,
        "H",
        ("duration_ms",),
        hazardous=True,
        description="Fire the thruster: changes the orbit.",
    ),
    Command(
        "SAFE_MODE",
        8,
        1,
        Function.SAFE_MODE,
        hazardous=True,
        description="Force safe mode: the payload stops and the mission pauses.",
    ),
    Command(
        "REBOOT",
        8,
        1,
        Function.REBOOT,
        hazardous=True,
        description="On-board software reset: the spacecraft restarts (FARM-1 at V(R) 0)"
        " and applies the parameters stored with SET_PARAMETER.",
    ),
    Command(
        "DOWNLINK_ROUTE",
        8,
        1,
        Function.DOWNLINK_ROUTE,
        "BB",
        ("vcid", "clear"),
        hazardous=True,
        description="Route the telemetry: the virtual channel its frames go on (0..6), and"
        " clear 1 to send them without the downlink security association (0: through it,"
        " as configured). In RAM only: a reset restores the configured route.",
    ),
    Command(
        "REPORT_PARAMETERS",
        20,
        1,
        description="Report every on-board parameter (20,2): stored value and value in use.",
    ),
    Command(
        "SET_PARAMETER",
        20,
        3,
        None,
        "HI",
        ("parameter", "value"),
        hazardous=True,
        description="Store an on-board parameter (see the parameter table); it takes effect"
        " at the next REBOOT.",
    ),
    *(
        Command(
            name,
            SDLS_EP_SERVICE,
            1,
            None,
            fmt,
            names,
            hazardous=hazardous,
            description=text,
            procedure=procedure,
        )
        for name, procedure, fmt, names, hazardous, text in (
            (
                "SA_START",
                SaProcedure.START,
                "H",
                ("spi",),
                True,
                "SDLS Start SA: a keyed SA becomes operational (a downlink SA then protects"
                " the telemetry).",
            ),
            (
                "SA_STOP",
                SaProcedure.STOP,
                "H",
                ("spi",),
                True,
                "SDLS Stop SA: an operational SA stops processing frames (back to keyed).",
            ),
            (
                "SA_EXPIRE",
                SaProcedure.EXPIRE,
                "H",
                ("spi",),
                True,
                "SDLS Expire SA: a stopped SA loses its key (unkeyed) and cannot be started.",
            ),
            (
                "SA_REKEY",
                SaProcedure.REKEY,
                "HH",
                ("spi", "key_id"),
                True,
                "SDLS Rekey SA: a stopped or expired SA gets an active key of the key store"
                " (keyed, sequence number 0; SA_START it).",
            ),
            (
                "SA_SET_ARSNW",
                SaProcedure.SET_ARSNW,
                "HI",
                ("spi", "window"),
                True,
                "SDLS Set ARSN window: anti-replay accepts last < SN <= last + window"
                " (0 turns anti-replay off).",
            ),
            (
                "SA_SET_ARSN",
                SaProcedure.SET_ARSN,
                "HI",
                ("spi", "arsn"),
                True,
                "SDLS Set ARSN: the SA's anti-replay sequence number.",
            ),
            (
                "SA_READ_ARSN",
                SaProcedure.READ_ARSN,
                "H",
                ("spi",),
                False,
                "SDLS Read ARSN: the SA's sequence number and window (reply 129,2).",
            ),
            (
                "SA_STATUS",
                SaProcedure.STATUS,
                "H",
                ("spi",),
                False,
                "SDLS SA status: the SA's state (reply 129,2).",
            ),
        )
    ),
    *(
        Command(
            name,
            SDLS_EP_SERVICE,
            1,
            None,
            fmt,
            names,
            hazardous=hazardous,
            description=text,
            procedure=procedure,
            group=ServiceGroup.KEY_MANAGEMENT,
        )
        for name, procedure, fmt, names, hazardous, text in (
            (
                "KEY_OTAR",
                KeyProcedure.OTAR,
                f"H{OTAR_IV_SIZE}s{OTAR_BLOCK_SIZE}s{OTAR_TAG_SIZE}s",
                ("master_key_id", "iv", "encrypted_key", "mac"),
                True,
                "SDLS OTAR: a new AES-128 key, encrypted and authenticated under the master"
                " key (octets as hex; labctl.protocols.sdls_ep.seal_otar builds them); stored"
                " pre-active.",
            ),
            (
                "KEY_ACTIVATE",
                KeyProcedure.ACTIVATION,
                "H",
                ("key_id",),
                True,
                "SDLS Key Activation: a pre-active key becomes active (an SA may use it).",
            ),
            (
                "KEY_DEACTIVATE",
                KeyProcedure.DEACTIVATION,
                "H",
                ("key_id",),
                True,
                "SDLS Key Deactivation: an active key no SA uses is retired.",
            ),
            (
                "KEY_DESTROY",
                KeyProcedure.DESTRUCTION,
                "H",
                ("key_id",),
                True,
                "SDLS Key Destruction: a deactivated (or pre-active) key's material is wiped.",
            ),
            (
                "KEY_VERIFY",
                KeyProcedure.VERIFICATION,
                f"H{CHALLENGE_SIZE}s",
                ("key_id", "challenge"),
                False,
                "SDLS Key Verification: the spacecraft encrypts the ground's random challenge"
                " under an active key and answers (reply 129,2), proving it holds the same key"
                " without showing it (MissionControl.verify_key).",
            ),
            (
                "KEY_INVENTORY",
                KeyProcedure.INVENTORY,
                "HH",
                ("first_key_id", "last_key_id"),
                False,
                "SDLS Key Inventory: the key store's ids and states in a range (reply 129,2).",
            ),
        )
    ),
    Command(
        "TABLE_LOAD",
        TABLE_SERVICE,
        1,
        None,
        f"BHHB{SIGNATURE_SIZE}s",
        ("table", "version", "max_burn_ms", "thruster_enabled", "signature"),
        hazardous=True,
        description="Load an on-board table: table 1, the thruster's limits (longest burn in"
        " ms, thruster enabled 0/1), with flight dynamics' Ed25519 signature (hex;"
        " labctl.protocols.table.sign makes it). A spacecraft that verifies loads"
        " (parameter TABLE_VERIFY) applies it only if the signature holds; the table is"
        " kept across resets.",
    ),
    Command("ENABLE_HK", 3, 5, None, "B", ("structure",), description="Enable housekeeping."),
    Command("DISABLE_HK", 3, 6, None, "B", ("structure",), description="Disable housekeeping."),
)

BY_NAME: Final = {c.name: c for c in COMMANDS}


@dataclass(frozen=True)
class Parameter:
    """One on-board parameter (PUS service 20): an id, and the configuration key it sets.

    Values travel as u32; a ``flag`` is 0 or 1. A stored value overrides the key of the
    spacecraft's configuration file from the next on-board reset on, and survives resets
    (the spacecraft keeps it in non-volatile memory: its state directory).
    """

    ident: int
    name: str
    key: str
    flag: bool = True
    minimum: int = 0
    description: str = ""

    def check(self, value: int) -> bool | int:
        """The configuration value for ``value``; ValueError when out of range."""
        if self.flag:
            if value not in (0, 1):
                raise ValueError(f"{self.name} is 0 or 1")
            return bool(value)
        if value < self.minimum:
            raise ValueError(f"{self.name} is at least {self.minimum}")
        return value

    def encode(self, value: object) -> int:
        """The u32 that reports a configuration value."""
        if isinstance(value, bool) or value is None:
            return int(bool(value))
        return int(value) & 0xFFFFFFFF if isinstance(value, int) else 0


PARAMETERS: Final[tuple[Parameter, ...]] = (
    Parameter(
        1,
        "UPLINK_ANTI_REPLAY",
        "sdls.associations.uplink.anti_replay",
        description="1: the uplink SA rejects frames whose sequence number is not fresh"
        " (SDLS anti-replay); 0: any sequence number is accepted.",
    ),
    Parameter(
        2,
        "UPLINK_ARSN_WINDOW",
        "sdls.associations.uplink.window",
        flag=False,
        minimum=1,
        description="Anti-replay window of the uplink SA: accepted when"
        " last < sequence number <= last + window.",
    ),
    Parameter(
        3,
        "UPLINK_PERSIST_SN",
        "sdls.associations.uplink.persist_sequence",
        description="1: the uplink SA's last sequence number survives a reset.",
    ),
    Parameter(
        4,
        "CLEAR_CONTROL_COMMANDS",
        "uplink.clear_control_commands",
        description="1: COP-1 control commands (Unlock, Set V(R)) are accepted without SDLS.",
    ),
    Parameter(
        5,
        "UPLINK_SDLS",
        "uplink.sdls",
        description="1: every uplink frame must pass SDLS; 0: frames without a security"
        " header are accepted too.",
    ),
    Parameter(
        6,
        "TABLE_VERIFY",
        "tables.verify",
        description="1: a table load is applied only if flight dynamics' signature holds, and"
        " a stored table is verified again at every reset (one that fails is discarded for"
        " the table in the configuration); 0: any table load is applied.",
    ),
    Parameter(
        7,
        "TABLE_ANTI_ROLLBACK",
        "tables.anti_rollback",
        description="1: a table load must carry a newer version than the table in use (an"
        " older table, even a signed one, is refused); 0: any version is applied.",
    ),
    Parameter(
        8,
        "CLEAR_ROUTING_COMMANDS",
        "uplink.clear_routing",
        description="1: a frame without SDLS that carries only DOWNLINK_ROUTE commands is"
        " accepted (a contingency path for a spacecraft whose uplink key is lost); 0: every"
        " routing command needs SDLS like any other.",
    ),
)
PARAMETER_BY_ID: Final = {p.ident: p for p in PARAMETERS}
PARAMETER_REPORT_FORMAT: Final = ">HII"  # per parameter: id, stored (or in use), in use


#: Reply layouts of the procedures that answer (129,2), as the spacecraft packs them.
_SA_REPLIES: Final = {
    SaProcedure.READ_ARSN: (">HQI", ("spi", "arsn", "window")),
    SaProcedure.STATUS: (">HB", ("spi", "state")),
}
_SA_STATE_NAMES: Final = {state.value: state.name.lower() for state in SaState}
_KEY_STATE_NAMES: Final = {code: name for name, code in KEY_STATE_CODES.items()}


def describe_reply(raw: bytes) -> dict[str, object]:
    """An SDLS extended-procedure reply (TM 129,2) as fields; ProtocolError when it is not
    a well-formed reply of a procedure that answers. The bytes come off the downlink:
    every length is checked before it is read."""
    pdu = decode_pdu(raw)
    if not pdu.reply:
        raise ProtocolError("an SDLS EP PDU on 129,2 that is not a reply")
    fields: dict[str, object] = {"data": pdu.data.hex()}
    if pdu.group == ServiceGroup.SA_MANAGEMENT and pdu.procedure in set(_SA_REPLIES):
        procedure = SaProcedure(pdu.procedure)
        layout, names = _SA_REPLIES[procedure]
        if len(pdu.data) != struct.calcsize(layout):
            raise ProtocolError(f"{procedure.name} reply of {len(pdu.data)} octets")
        fields.update(zip(names, struct.unpack(layout, pdu.data), strict=True))
        if procedure is SaProcedure.STATUS:
            fields["state"] = _SA_STATE_NAMES.get(int(str(fields["state"])), fields["state"])
        return {"procedure": f"SA_{procedure.name}", **fields}
    if pdu.group == ServiceGroup.KEY_MANAGEMENT and pdu.procedure == KeyProcedure.INVENTORY:
        if len(pdu.data) < 2 or (len(pdu.data) - 2) % 3:
            raise ProtocolError(f"KEY_INVENTORY reply of {len(pdu.data)} octets")
        (count,) = struct.unpack_from(">H", pdu.data)
        if count != (len(pdu.data) - 2) // 3:
            raise ProtocolError(f"KEY_INVENTORY reply lists {count} keys, carries fewer or more")
        keys = [
            struct.unpack_from(">HB", pdu.data, offset) for offset in range(2, len(pdu.data), 3)
        ]
        fields["keys"] = [{"id": i, "state": _KEY_STATE_NAMES.get(c, str(c))} for i, c in keys]
        return {"procedure": "KEY_INVENTORY", **fields}
    if pdu.group == ServiceGroup.KEY_MANAGEMENT and pdu.procedure == KeyProcedure.VERIFICATION:
        if len(pdu.data) != VERIFY_REPLY_SIZE:
            raise ProtocolError(f"KEY_VERIFY reply of {len(pdu.data)} octets")
        fields["key_id"] = struct.unpack_from(">H", pdu.data)[0]
        return {"procedure": "KEY_VERIFY", **fields}
    raise ProtocolError(f"no reply is defined for SDLS procedure {pdu.group}/{pdu.procedure}")


def command_for(
    service: int, subtype: int, app_data: bytes
) -> tuple[Command, tuple[int | bytes, ...]]:
    """Look up a telecommand and parse its arguments. Raises ProtocolError if unknown."""
    function: int | None = None
    data = app_data
    if (service, subtype) == (SDLS_EP_SERVICE, 1):
        pdu = decode_pdu(app_data)
        for command in COMMANDS:
            if command.procedure is not None and (pdu.group, pdu.procedure) == (
                command.group,
                command.procedure,
            ):
                if pdu.reply:
                    break
                return command, command.parse_args(pdu.data)
        raise ProtocolError(f"no SDLS procedure {pdu.group}/{pdu.procedure}")
    if service == 8 and subtype == 1:
        if len(app_data) < 2:
            raise ProtocolError("8,1 needs a function id")
        function, data = struct.unpack(">H", app_data[:2])[0], app_data[2:]
    for command in COMMANDS:
        if (command.service, command.subtype) == (service, subtype) and (
            function is None or command.function == function
        ):
            return command, command.parse_args(data)
    raise ProtocolError(
        f"no command {service},{subtype}" + (f" function {function}" if function else "")
    )


# --- telemetry -----------------------------------------------------------------------------

HK_FORMAT: Final = f">BBBBIHH{OPS_MESSAGE_SIZE}s"


@dataclass(frozen=True)
class Housekeeping:
    """Structure 1 of the 3,25 housekeeping report."""

    mode: Mode
    battery_pct: int
    payload_on: bool
    commands_executed: int
    commands_rejected: int
    frames_rejected: int
    ops_message: str = ""

    def encode(self) -> bytes:
        message = self.ops_message.encode("utf-8")[:OPS_MESSAGE_SIZE]
        return struct.pack(
            HK_FORMAT,
            HK_PLATFORM,
            self.mode,
            self.battery_pct,
            int(self.payload_on),
            self.commands_executed & 0xFFFFFFFF,
            self.commands_rejected & 0xFFFF,
            self.frames_rejected & 0xFFFF,
            message,
        )

    @classmethod
    def decode(cls, data: bytes) -> Housekeeping:
        if len(data) != struct.calcsize(HK_FORMAT):
            raise ProtocolError(f"housekeeping report of {len(data)} octets")
        sid, mode, battery, payload, executed, rejected, frames, message = struct.unpack(
            HK_FORMAT, data
        )
        if sid != HK_PLATFORM or mode not in Mode._value2member_map_:
            raise ProtocolError(f"unknown housekeeping structure {sid} or mode {mode}")
        text = message.rstrip(b"\0").decode("utf-8", "replace")
        return cls(Mode(mode), battery, bool(payload), executed, rejected, frames, text)


def verification_data(tc_packet_id: int, tc_seq_control: int, code: int | None = None) -> bytes:
    """Source data of a service 1 report (code only for failure reports)."""
    if code is None:
        return struct.pack(">HH", tc_packet_id, tc_seq_control)
    return struct.pack(">HHH", tc_packet_id, tc_seq_control, code)
