"""The ground station's configuration: ``/etc/labctl/ground-station.yaml`` as typed settings.

Read once at start. Every value is checked here, so the daemon never runs half
configured: a bad value is one :class:`HostConfigError` line naming the file and the
dotted key (the same key a lab inject addresses, e.g. ``uplink.sa.key_file``). Unknown
keys are errors too: a misspelt hardening setting must not be silently ignored.
The commented example is ``containers/ground-station/ground-station.yaml``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.sdls import (
    Keyring,
    SdlsEngine,
    SecurityAssociation,
    load_sequence_numbers,
    save_sequence_numbers,
)
from labctl.protocols.station_access import NAME as ACCESS_NAME
from labctl.range import wiring
from labctl.range.hosts import sdls_config
from labctl.range.hosts.config import Config, HostConfigError, read_key_file

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH: Final = Path(wiring.GROUND_STATION_CONFIG)
#: Downlink anti-replay default: any forward jump is accepted (telemetry keeps flowing
#: after a long gap between passes), anything at or below the last number is a replay.
FORWARD_ONLY_WINDOW: Final = 1 << 32

NO_SA: Final = frozenset({None, "none", False})

TOP_KEYS: Final = {"scid", "packet_service", "uplink", "downlink", "status_file", "status_interval"}
SERVICE_KEYS: Final = {
    "address",
    "port",
    "max_clients",
    "allowed_clients",
    "idle_timeout",
    "partial_timeout",
    "max_send_buffer",
    "access",
}
ACCESS_KEYS: Final = {"enabled", "period", "timeout", "customers"}
CUSTOMER_KEYS: Final = {"secret_file", "windows", "revoked"}
WINDOW_KEYS: Final = {"every", "offset", "length"}
#: Customers a shared station knows at most.
MAX_CUSTOMERS: Final = 16
HOST_NAME: Final = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$")
UPLINK_KEYS: Final = {"rf_link", "bind_address", "vcid", "map_id", "bypass", "fop", "sa"}
DOWNLINK_KEYS: Final = {"address", "port", "vcid", "sa"}
SA_KEYS: Final = sdls_config.SA_KEYS | {"key_file", "sequence_file", "protect_control"}


@dataclass(frozen=True)
class SaSettings:
    """One security association as the ground station uses it, with its key."""

    association: SecurityAssociation
    key: bytes | None
    sequence_file: Path | None = None
    protect_control: bool = False

    @property
    def spi(self) -> int:
        return self.association.spi

    def engine(self) -> SdlsEngine:
        """An engine with a private copy of the SA: its sequence number is the caller's."""
        keys = Keyring({self.association.key_id: self.key} if self.key is not None else {})
        return SdlsEngine.of([replace(self.association)], keys)

    def restore(self, engine: SdlsEngine, key: str) -> None:
        """Load the persisted sequence number into ``engine`` (no file yet: keep 0)."""
        if self.sequence_file is None:
            return
        try:
            load_sequence_numbers(self.sequence_file, engine.associations)
        except ProtocolError as exc:
            raise HostConfigError(str(self.sequence_file), key, str(exc)) from None

    def persist(self, engine: SdlsEngine) -> None:
        """Save the engine's sequence number so a restart neither reuses nor replays one."""
        if self.sequence_file is None:
            return
        try:
            save_sequence_numbers(self.sequence_file, engine.associations.values())
        except OSError as exc:
            log.error("cannot persist the SDLS sequence number to %s: %s", self.sequence_file, exc)


@dataclass(frozen=True)
class Window:
    """A booked window that repeats: open while ``(t - offset) mod every < length``
    (``t`` in Unix seconds, as the station's clock reads it)."""

    every: float
    offset: float
    length: float

    def open(self, unix_time: float) -> bool:
        return (unix_time - self.offset) % self.every < self.length


@dataclass(frozen=True)
class Customer:
    """A customer of a shared station: the secret its rolling passwords are made with,
    the windows it booked (none: any time) and whether its access was revoked."""

    name: str
    secret: bytes = field(repr=False)
    windows: tuple[Window, ...] = ()
    revoked: bool = False

    def booked(self, unix_time: float) -> bool:
        return not self.windows or any(w.open(unix_time) for w in self.windows)


@dataclass(frozen=True)
class AccessSettings:
    """``packet_service.access``: clients must prove a customer's rolling password first."""

    period: float = 60.0
    customers: tuple[Customer, ...] = ()
    #: Seconds a client has to send its access request before it is disconnected.
    timeout: float = 5.0

    def customer(self, name: str) -> Customer | None:
        return next((c for c in self.customers if c.name == name), None)


@dataclass(frozen=True)
class PacketServiceSettings:
    address: str = "0.0.0.0"
    port: int = 10025
    max_clients: int = 4
    allowed_clients: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: Host names allowed too (e.g. ``mission-control``), looked up when a client connects.
    allowed_names: tuple[str, ...] = ()
    idle_timeout: float = 600.0  # seconds without an octet from a client; 0 = never
    partial_timeout: float = 10.0  # an incomplete packet held longer is garbage
    max_send_buffer: int = 1 << 20  # octets queued to a slow client before dropping it
    #: None: any client that may connect may send (a station of one mission).
    access: AccessSettings | None = None


@dataclass(frozen=True)
class UplinkSettings:
    rf_link_address: str = wiring.RF_LINK
    rf_link_port: int = wiring.UPLINK_IN
    bind_address: str = "0.0.0.0"
    vcid: int = 0
    map_id: int = 0
    bypass: bool = False
    fop_window: int = 10
    fop_timeout: float = 2.0
    fop_transmission_limit: int = 3
    fop_auto_recover: bool = True
    sa: SaSettings | None = None


@dataclass(frozen=True)
class DownlinkSettings:
    address: str = "0.0.0.0"
    port: int = wiring.DOWNLINK_AIR
    vcid: int = 0
    sa: SaSettings | None = None


@dataclass(frozen=True)
class GroundStationSettings:
    scid: int
    packet_service: PacketServiceSettings = field(default_factory=PacketServiceSettings)
    uplink: UplinkSettings = field(default_factory=UplinkSettings)
    downlink: DownlinkSettings = field(default_factory=DownlinkSettings)
    status_file: Path | None = None
    status_interval: float = 5.0
    file: str = "<config>"


def load_settings(path: Path = DEFAULT_CONFIG_PATH) -> GroundStationSettings:
    """Read and check the YAML file; raises :class:`HostConfigError` (one line)."""
    return settings_from_config(Config.load(path), base=path.parent)


def settings_from_mapping(data: Mapping[str, Any], base: Path = Path(".")) -> GroundStationSettings:
    """Settings from an in-memory mapping (tests, in-process instances)."""
    return settings_from_config(Config(data, "<config>"), base)


def settings_from_config(config: Config, base: Path = Path(".")) -> GroundStationSettings:
    _only(config, TOP_KEYS)
    return GroundStationSettings(
        scid=_int(config, "scid", 0, 0x3FF),
        packet_service=_packet_service(config.section("packet_service"), base),
        uplink=_uplink(config.section("uplink"), base),
        downlink=_downlink(config.section("downlink"), base),
        status_file=_path(config, "status_file", base),
        status_interval=_seconds(config, "status_interval", 5.0, minimum=0.1),
        file=config.file,
    )


def _packet_service(cfg: Config, base: Path) -> PacketServiceSettings:
    _only(cfg, SERVICE_KEYS)
    return PacketServiceSettings(
        address=cfg.get("address", str, "0.0.0.0"),
        port=_int(cfg, "port", 0, 0xFFFF, 10025),
        max_clients=_int(cfg, "max_clients", 1, 64, 4),
        allowed_clients=_networks(cfg, "allowed_clients"),
        allowed_names=_names(cfg, "allowed_clients"),
        idle_timeout=_seconds(cfg, "idle_timeout", 600.0, minimum=0.0),
        partial_timeout=_seconds(cfg, "partial_timeout", 10.0, minimum=0.1),
        max_send_buffer=_int(cfg, "max_send_buffer", 4096, 1 << 30, 1 << 20),
        access=_access(cfg.section("access"), base),
    )


def _access(cfg: Config, base: Path) -> AccessSettings | None:
    """Customers and their rolling-password secrets; None when access control is off."""
    _only(cfg, ACCESS_KEYS)
    enabled = cfg.get("enabled", bool, False)
    period = _seconds(cfg, "period", 60.0, minimum=5.0)
    timeout = _seconds(cfg, "timeout", 5.0, minimum=0.5)
    section = cfg.section("customers")
    names = section.keys()
    if not enabled:
        return None
    if not names:
        raise HostConfigError(cfg.file, cfg.dotted("customers"), "access is on: name a customer")
    if len(names) > MAX_CUSTOMERS:
        raise HostConfigError(cfg.file, cfg.dotted("customers"), f"at most {MAX_CUSTOMERS}")
    customers = []
    for name in names:
        entry = section.section(name)
        _only(entry, CUSTOMER_KEYS)
        if not ACCESS_NAME.match(name):
            raise HostConfigError(cfg.file, section.dotted(name), "name: 1-32 of A-Z a-z 0-9 - _")
        secret_file = _path(entry, "secret_file", base)
        if secret_file is None:
            raise HostConfigError(cfg.file, entry.dotted("secret_file"), "missing")
        try:
            secret = read_key_file(secret_file, (16, 24, 32))
        except HostConfigError as exc:
            raise HostConfigError(cfg.file, entry.dotted("secret_file"), str(exc)) from None
        windows = tuple(_window(entry, i) for i in range(_count(entry, "windows")))
        customers.append(Customer(name, secret, windows, entry.get("revoked", bool, False)))
    return AccessSettings(period, tuple(customers), timeout)


def _count(cfg: Config, key: str) -> int:
    value = cfg.raw(key, [])
    if not isinstance(value, list) or len(value) > 8:
        raise HostConfigError(cfg.file, cfg.dotted(key), "expected a list of at most 8")
    return len(value)


def _window(cfg: Config, index: int) -> Window:
    raw = cfg.raw("windows")[index]
    if not isinstance(raw, Mapping):
        raise HostConfigError(cfg.file, cfg.dotted(f"windows.{index}"), "expected a mapping")
    entry = Config(raw, cfg.file, cfg.dotted(f"windows.{index}"))
    _only(entry, WINDOW_KEYS)
    every = _seconds(entry, "every", 60.0, minimum=1.0)
    length = _seconds(entry, "length", every, minimum=1.0)
    if length > every:
        raise HostConfigError(cfg.file, entry.dotted("length"), f"longer than every ({every:g} s)")
    return Window(every, _seconds(entry, "offset", 0.0, minimum=0.0), length)


def _uplink(cfg: Config, base: Path) -> UplinkSettings:
    _only(cfg, UPLINK_KEYS)
    rf_link = cfg.section("rf_link")
    _only(rf_link, {"address", "port"})
    fop = cfg.section("fop")
    _only(fop, {"window", "timeout", "transmission_limit", "auto_recover"})
    return UplinkSettings(
        rf_link_address=rf_link.get("address", str, wiring.RF_LINK),
        rf_link_port=_int(rf_link, "port", 1, 0xFFFF, wiring.UPLINK_IN),
        bind_address=cfg.get("bind_address", str, "0.0.0.0"),
        vcid=_int(cfg, "vcid", 0, 63, 0),
        map_id=_int(cfg, "map_id", 0, 63, 0),
        bypass=cfg.get("bypass", bool, False),
        fop_window=_int(fop, "window", 1, 127, 10),
        fop_timeout=_seconds(fop, "timeout", 2.0, minimum=0.01),
        fop_transmission_limit=_int(fop, "transmission_limit", 1, 100, 3),
        fop_auto_recover=fop.get("auto_recover", bool, True),
        sa=_sa(cfg, "sa", base, window_default=64),
    )


def _downlink(cfg: Config, base: Path) -> DownlinkSettings:
    _only(cfg, DOWNLINK_KEYS)
    return DownlinkSettings(
        address=cfg.get("address", str, "0.0.0.0"),
        port=_int(cfg, "port", 0, 0xFFFF, wiring.DOWNLINK_AIR),
        vcid=_int(cfg, "vcid", 0, 6, 0),
        sa=_sa(cfg, "sa", base, window_default=FORWARD_ONLY_WINDOW),
    )


def _sa(parent: Config, key: str, base: Path, window_default: int) -> SaSettings | None:
    value = parent.raw(key, None)
    if isinstance(value, str | bool | None) and value in NO_SA:
        return None
    cfg = parent.section(key)
    _only(cfg, SA_KEYS)
    association = sdls_config.association(cfg, window_default)
    return SaSettings(
        association,
        sdls_config.key(cfg, association, base),
        _path(cfg, "sequence_file", base),
        cfg.get("protect_control", bool, False),
    )


# --- typed readers that name the key ---------------------------------------------------------


def _dotted(cfg: Config, key: str) -> str:
    # Config keeps its section's dotted prefix private; see the report's request for a
    # public accessor. The message must name the key exactly as an inject would.
    return cfg.dotted(key).rstrip(".")


def _only(cfg: Config, allowed: set[str] | frozenset[str]) -> None:
    cfg.only(allowed)


def _int(cfg: Config, key: str, low: int, high: int, default: int | Any = ...) -> int:
    value: int = cfg.get(key, int, default)
    if not low <= value <= high:
        raise HostConfigError(cfg.file, _dotted(cfg, key), f"{value} outside {low}..{high}")
    return value


def _seconds(cfg: Config, key: str, default: float, minimum: float) -> float:
    value = cfg.get(key, float, default)
    if not minimum <= value <= 86_400:
        raise HostConfigError(cfg.file, _dotted(cfg, key), f"{value} outside {minimum}..86400 s")
    return value


def _path(cfg: Config, key: str, base: Path) -> Path | None:
    value = cfg.get(key, str, "") if cfg.raw(key, None) is not None else ""
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path


def _networks(cfg: Config, key: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The addresses and networks of a list that may also name hosts (:func:`_names`)."""
    value = cfg.raw(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise HostConfigError(cfg.file, _dotted(cfg, key), "expected a list of addresses")
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            if not HOST_NAME.match(item) or item.replace(".", "").isdigit():
                raise HostConfigError(cfg.file, _dotted(cfg, key), str(exc)) from None
    return tuple(networks)


def _names(cfg: Config, key: str) -> tuple[str, ...]:
    """The host names of an address list (what is not an address or a network)."""
    names = []
    for item in cfg.raw(key, []):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            names.append(item)
    return tuple(names)
