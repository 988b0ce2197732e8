"""Mission control's configuration: /etc/labctl/mission-control.yaml, read once at start.

Everything a student hardens lives here: the users and how their passwords are stored,
who may send which commands, how long a session lives. A bad value stops the program
with one :class:`~labctl.range.hosts.config.HostConfigError` line naming the file and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, Final

from labctl.protocols.station_access import NAME as ACCESS_NAME
from labctl.range import wiring
from labctl.range.hosts import catalog
from labctl.range.hosts.config import Config, HostConfigError, read_key_file
from labctl.range.hosts.missioncontrol.audit import DEFAULT_MAX_BYTES, MIN_MAX_BYTES
from labctl.range.hosts.missioncontrol.db import Retention
from labctl.range.hosts.missioncontrol.groundlink import StationAccess
from labctl.range.hosts.missioncontrol.passwords import check_hash_format
from labctl.range.hosts.passes import orbit_schedule
from labctl.range.orbit import PassSchedule

DEFAULT_CONFIG_PATH: Final = Path(wiring.MISSION_CONTROL_CONFIG)
USERNAME_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_PASSWORD_LENGTH: Final = 256
#: The fewest rows a table may keep: what the API lists at most, and the graders read.
MIN_KEEP: Final = 500


class Role(IntEnum):
    """Operator roles, ordered: a role may do everything the roles below it may."""

    VIEWER = 1
    OPERATOR = 2
    FLIGHT_DIRECTOR = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its label (``flight-director``); ValueError if unknown."""
        for role in cls:
            if role.label == text.strip().lower():
                return role
        raise ValueError(f"unknown role {text!r}; expected one of {', '.join(cls.labels())}")

    @classmethod
    def labels(cls) -> list[str]:
        return [role.label for role in cls]


@dataclass(frozen=True)
class User:
    """One operator account. Exactly one of ``password`` (plaintext) or ``password_hash``."""

    name: str
    role: Role
    password: str | None = field(default=None, repr=False)
    password_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Policy:
    """Who may do what. Labs inject weak values (any role sends hazardous commands)."""

    commands_require: Role = Role.OPERATOR
    hazardous_requires: Role = Role.FLIGHT_DIRECTOR
    audit_requires: Role = Role.FLIGHT_DIRECTOR
    #: COP-1 directives to the ground station (Unlock, Set V(R)): they move the spacecraft's
    #: FARM-1, so the least role is the one that may send hazardous commands.
    directives_require: Role = Role.FLIGHT_DIRECTOR
    lockout_attempts: int = 0  # 0: no lockout after failed logins
    lockout_seconds: float = 300.0
    #: Two-person rule: a hazardous command waits until a second user approves it.
    two_person: bool = False
    #: A request nobody approved in this time lapses.
    two_person_expiry_s: float = 600.0


TOP_KEYS: Final = frozenset(
    {
        "listen",
        "users",
        "policy",
        "sessions",
        "ground_station",
        "database",
        "audit_log",
        "operations",
        "notes",
        "passes",
        "telemetry",
    }
)
#: The longest shift note (characters).
MAX_NOTE: Final = 500


SECTION_KEYS: Final = {
    "listen": {"host", "port"},
    "sessions": {"lifetime_s", "cookie_secure"},
    "ground_station": {
        "host",
        "port",
        "reconnect_min_s",
        "reconnect_max_s",
        "idle_timeout_s",
        "access",
    },
    "ground_station.access": {"customer", "secret_file", "period_s"},
    "database": {"path", "keep"},
    "audit_log": {"enabled", "path", "max_bytes", "remote"},
    "audit_log.remote": {"host", "port"},
    "policy": {
        "commands_require",
        "hazardous_requires",
        "audit_requires",
        "directives_require",
        "login_lockout",
        "two_person",
    },
    "policy.login_lockout": {"attempts", "seconds"},
    "policy.two_person": {"enabled", "expiry_s"},
    "telemetry": {"on_bad_packet"},
}
#: What the telemetry processing does with a packet it cannot decode.
ON_BAD_PACKET: Final = ("drop", "halt")


@dataclass(frozen=True)
class Operations:
    """A flight-operations script: every ``period`` seconds the next of ``commands`` goes
    out, recorded and audited under ``user`` (not an account: nobody logs in as it)."""

    enabled: bool = False
    user: str = "flight-ops-script"
    period: float = 20.0
    commands: tuple[str, ...] = ("PING",)


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one mission-control server."""

    users: dict[str, User]
    policy: Policy = Policy()
    listen_host: str = "0.0.0.0"
    listen_port: int = wiring.MISSION_CONTROL_PORT
    ground_host: str = "ground-station"
    ground_port: int = 10025
    reconnect_min: float = 0.5
    reconnect_max: float = 10.0
    #: The ground station's ``packet_service.idle_timeout``: a connection test goes out
    #: every third of it, and a station silent for all of it is left; 0 = neither.
    ground_idle_timeout: float = 600.0
    #: A shared station's customer credentials (``ground_station.access``); None: none sent.
    ground_access: StationAccess | None = None
    database: Path = Path("/var/lib/labctl/mission-control.db")
    #: The newest rows each growing table keeps (``database.keep``).
    retention: Retention = field(default_factory=Retention)
    audit_log: Path = Path("/var/log/labctl/mission-control-audit.jsonl")
    #: The JSON-lines file is rotated to ``<path>.1`` before it passes this size.
    audit_max_bytes: int = DEFAULT_MAX_BYTES
    #: False: no action is recorded anywhere (a lab's "no audit trail" weakness).
    audit_enabled: bool = True
    #: The remote log collector every record is also sent to (``audit_log.remote``).
    audit_remote: tuple[str, int] | None = None
    #: Nominal operations: a script that sends routine commands (``operations``).
    operations: Operations = Operations()
    #: Shift notes per role: each shown to the accounts of that role and above (``notes``).
    notes: dict[Role, str] = field(default_factory=dict)
    #: The contact windows, from the spacecraft's orbit (``passes.orbit``: the block the
    #: rf-link's ``channel.passes.orbit`` has); None: no pass plan shown.
    passes: PassSchedule | None = None
    #: ``telemetry.on_bad_packet``: "drop" (count it, go on) or "halt" (the legacy
    #: processing stops until a restart: a lab's weakness).
    on_bad_packet: str = "drop"
    session_lifetime: float = 3600.0
    cookie_secure: bool = False
    config_file: str = "<config>"


def _station_access(cfg: Config, base: Path) -> StationAccess | None:
    """The customer name and rolling-password secret for a shared station, if any."""
    if not cfg.keys():
        return None
    customer = cfg.get("customer", str)
    if not ACCESS_NAME.match(customer):
        raise HostConfigError(cfg.file, cfg.dotted("customer"), "1-32 of A-Z a-z 0-9 - _")
    path = Path(cfg.get("secret_file", str))
    secret_file = path if path.is_absolute() else base / path
    try:
        secret = read_key_file(secret_file, (16, 24, 32))
    except HostConfigError as exc:
        raise HostConfigError(cfg.file, cfg.dotted("secret_file"), str(exc)) from None
    period = _positive(cfg, "period_s", 60.0)
    if period < 5.0:
        raise HostConfigError(cfg.file, cfg.dotted("period_s"), "at least 5 s")
    return StationAccess(customer, secret, period)


def load_settings(path: Path = DEFAULT_CONFIG_PATH) -> Settings:
    """Read and check the configuration file; raise HostConfigError on the first problem."""
    return settings_from(Config.load(path))


def settings_from(config: Config) -> Settings:
    """Settings from an already parsed configuration mapping."""
    config.only(TOP_KEYS)  # a misspelt key must not be silently ignored
    for section, keys in SECTION_KEYS.items():
        if config.raw(section, None) is not None:
            config.only(keys, section)
    listen, ground = config.section("listen"), config.section("ground_station")
    sessions = config.section("sessions")
    return Settings(
        users=_users(config),
        policy=_policy(config.section("policy")),
        listen_host=listen.get("host", str, "0.0.0.0"),
        listen_port=_port(listen, "port", wiring.MISSION_CONTROL_PORT),
        ground_host=ground.get("host", str, "ground-station"),
        ground_port=_port(ground, "port", 10025),
        reconnect_min=_positive(ground, "reconnect_min_s", 0.5),
        reconnect_max=_positive(ground, "reconnect_max_s", 10.0),
        ground_idle_timeout=_not_negative(ground, "idle_timeout_s", 600.0),
        ground_access=_station_access(ground.section("access"), Path(config.file).parent),
        database=Path(config.section("database").get("path", str, str(Settings.database))),
        retention=_retention(config.section("database").section("keep")),
        audit_log=Path(config.section("audit_log").get("path", str, str(Settings.audit_log))),
        audit_max_bytes=_at_least(
            config.section("audit_log"), "max_bytes", DEFAULT_MAX_BYTES, MIN_MAX_BYTES
        ),
        audit_enabled=config.section("audit_log").get("enabled", bool, True),
        audit_remote=_remote(config.section("audit_log").section("remote")),
        operations=_operations(config.section("operations")),
        notes=_notes(config),
        passes=_passes(config),
        on_bad_packet=_choice(config.section("telemetry"), "on_bad_packet", ON_BAD_PACKET),
        session_lifetime=_positive(sessions, "lifetime_s", 3600.0),
        cookie_secure=sessions.get("cookie_secure", bool, False),
        config_file=config.file,
    )


def _remote(config: Config) -> tuple[str, int] | None:
    """``audit_log.remote``: the collector's host and TCP port; no host (or "") = none."""
    host = config.get("host", str, "").strip()
    port = _port(config, "port", wiring.LOG_SERVER_PORT)
    if not host:
        return None
    if any(c.isspace() or c in "/:@[]" for c in host) or len(host) > 253:
        raise HostConfigError(config.file, config.dotted("host"), f"not a host name: {host!r}")
    return host, port


def _passes(config: Config) -> PassSchedule | None:
    if config.raw("passes", None) is not None:
        config.only({"orbit"}, "passes")
    return orbit_schedule(config, "passes.orbit")


def upcoming_passes(settings: Settings, now: float, count: int = 4) -> list[dict[str, Any]]:
    """The pass under way and the next ones, for operators: UTC times, seconds until AOS
    and LOS, duration, highest elevation."""
    if settings.passes is None:
        return []
    rows = []
    for contact in settings.passes.upcoming(now, count):
        rows.append(
            {
                "aos": datetime.fromtimestamp(contact.aos, UTC).isoformat(timespec="seconds"),
                "los": datetime.fromtimestamp(contact.los, UTC).isoformat(timespec="seconds"),
                "in_s": max(0.0, round(contact.aos - now, 1)),
                "until_los_s": round(contact.los - now, 1),
                "duration_s": round(contact.duration, 1),
                "max_elevation": round(contact.max_elevation, 1),
                "now": contact.aos <= now < contact.los,
            }
        )
    return rows


def _notes(config: Config) -> dict[Role, str]:
    if not isinstance(config.raw("notes", {}), dict):
        raise HostConfigError(config.file, "notes", "a mapping of role to text")
    section = config.section("notes")
    section.only(set(Role.labels()))
    notes = {}
    for role in Role:
        text = section.get(role.label, str, "")
        if len(text) > MAX_NOTE:
            raise HostConfigError(
                config.file, section.dotted(role.label), f"text of at most {MAX_NOTE} characters"
            )
        notes[role] = text
    return notes


def notes_for(settings: Settings, role: Role) -> list[str]:
    """The shift notes an account of ``role`` may read, lowest role first."""
    return [text for r, text in sorted(settings.notes.items()) if r <= role and text]


def _operations(config: Config) -> Operations:
    config.only({"enabled", "user", "period_s", "commands"})
    commands = config.raw("commands", ["PING"])
    if not isinstance(commands, list) or not commands:
        raise HostConfigError(config.file, config.dotted("commands"), "a list of command names")
    for name in commands:
        known = catalog.BY_NAME.get(name) if isinstance(name, str) else None
        if known is None or known.arg_names:
            raise HostConfigError(
                config.file,
                config.dotted("commands"),
                f"{name!r}: not a command without arguments of the mission database",
            )
    user = config.get("user", str, Operations.user)
    if not USERNAME_RE.match(user):
        raise HostConfigError(config.file, config.dotted("user"), "1-64 of A-Z a-z 0-9 _ . -")
    return Operations(
        enabled=config.get("enabled", bool, False),
        user=user,
        period=max(2.0, _positive(config, "period_s", 20.0)),
        commands=tuple(commands),
    )


def _port(config: Config, key: str, default: int) -> int:
    value = config.get(key, int, default)
    if not 1 <= value <= 65535:
        raise HostConfigError(config.file, config.dotted(key), f"port {value} not in 1..65535")
    return value


def _positive(config: Config, key: str, default: float) -> float:
    value = config.get(key, float, default)
    if value <= 0:
        raise HostConfigError(config.file, config.dotted(key), f"must be > 0, got {value}")
    return value


def _not_negative(config: Config, key: str, default: float) -> float:
    value = config.get(key, float, default)
    if not 0 <= value < float("inf"):
        raise HostConfigError(config.file, config.dotted(key), f"must be >= 0, got {value}")
    return value


def _at_least(config: Config, key: str, default: int, minimum: int) -> int:
    value = config.get(key, int, default)
    if value < minimum:
        raise HostConfigError(config.file, config.dotted(key), f"must be >= {minimum}")
    return value


def _retention(config: Config) -> Retention:
    """``database.keep``: rows kept per table, each at least :data:`MIN_KEEP`."""
    defaults, tables = Retention(), [f.name for f in fields(Retention)]
    config.only(tables)
    return Retention(
        **{table: _at_least(config, table, getattr(defaults, table), MIN_KEEP) for table in tables}
    )


def _role(config: Config, key: str, default: Role) -> Role:
    text = config.get(key, str, default.label)
    try:
        return Role.parse(text)
    except ValueError as exc:
        raise HostConfigError(config.file, config.dotted(key), str(exc)) from None


def _policy(config: Config) -> Policy:
    lockout = config.section("login_lockout")
    two_person = config.section("two_person")
    attempts = lockout.get("attempts", int, 0)
    if attempts < 0:
        raise HostConfigError(config.file, lockout.dotted("attempts"), "must be >= 0")
    return Policy(
        commands_require=_role(config, "commands_require", Role.OPERATOR),
        hazardous_requires=_role(config, "hazardous_requires", Role.FLIGHT_DIRECTOR),
        audit_requires=_role(config, "audit_requires", Role.FLIGHT_DIRECTOR),
        directives_require=_role(config, "directives_require", Role.FLIGHT_DIRECTOR),
        lockout_attempts=attempts,
        lockout_seconds=_positive(lockout, "seconds", 300.0),
        two_person=two_person.get("enabled", bool, False),
        two_person_expiry_s=_positive(two_person, "expiry_s", 600.0),
    )


def _users(config: Config) -> dict[str, User]:
    users = config.section("users")
    names = users.keys()
    if not names:
        raise HostConfigError(config.file, "users", "at least one user is needed")
    return {name: _user(users.section(name), name) for name in names}


def _user(config: Config, name: str) -> User:
    if not USERNAME_RE.match(name):
        raise HostConfigError(
            config.file, config.dotted("")[:-1], "user names are 1-64 of A-Z a-z 0-9 _ . -"
        )
    password = _optional_str(config, "password")
    hashed = _optional_str(config, "password_hash")
    if (password is None) == (hashed is None):
        raise HostConfigError(
            config.file, config.dotted("password"), "give exactly one of password, password_hash"
        )
    if hashed is not None:
        try:
            check_hash_format(hashed)
        except ValueError as exc:
            raise HostConfigError(config.file, config.dotted("password_hash"), str(exc)) from None
    return User(name, _role(config, "role", Role.VIEWER), password, hashed)


def _optional_str(config: Config, key: str) -> str | None:
    if config.raw(key, None) is None:
        return None
    value = config.get(key, str)
    if len(value) > MAX_PASSWORD_LENGTH:
        raise HostConfigError(config.file, config.dotted(key), "longer than 256 characters")
    return value


def _choice(section: Config, key: str, allowed: tuple[str, ...]) -> str:
    value = section.get(key, str, allowed[0])
    if value not in allowed:
        raise HostConfigError(
            section.file, section.dotted(key), f"is {value!r}; use one of {', '.join(allowed)}"
        )
    return value
