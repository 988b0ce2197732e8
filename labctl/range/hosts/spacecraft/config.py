"""The spacecraft's configuration: /etc/labctl/spacecraft.yaml, read once at start.

Students harden this file, and lab injects rewrite keys in it by dotted path
(``sdls.associations.uplink.anti_replay``), so every key is checked: a typo is an error
naming the key, never a setting silently ignored. The commented example is
containers/spacecraft/spacecraft.yaml.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.protocols.cop1 import DEFAULT_WINDOW
from labctl.protocols.sdls import SecurityAssociation
from labctl.protocols.table import KEY_SIZE, NO_BURN_LIMIT, LimitsTable
from labctl.protocols.tm_frame import TM_MAX_FRAME_SIZE
from labctl.range import wiring
from labctl.range.hosts import sdls_config
from labctl.range.hosts.config import Config, HostConfigError, read_key_file
from labctl.range.hosts.spacecraft import parameters
from labctl.range.hosts.spacecraft.keystore import KeyStore

DEFAULT_PATH: Final = Path(wiring.SPACECRAFT_CONFIG)
#: Octets of the duplicate tag an event carries (the rest is cut).
DUPLICATE_TAG_SIZE: Final = 48
MIN_FRAME_LENGTH: Final = 128  # a housekeeping report plus SDLS overhead must fit one frame
MAX_ID: Final = {"scid": 0x3FF, "uplink.vcid": 0x3F, "downlink.vcid": 6}

TOP_KEYS: Final = {
    "scid",
    "uplink",
    "downlink",
    "housekeeping",
    "sdls",
    "state_dir",
    "truth_file",
    "truth_interval",
    "battery",
    "command_history",
    "tables",
}
TABLES_KEYS: Final = {"verify", "anti_rollback", "public_key_file", "limits"}
LIMITS_KEYS: Final = {"version", "max_burn_ms", "thruster_enabled"}
UPLINK_KEYS: Final = {
    "host",
    "port",
    "vcid",
    "farm_window",
    "sdls",
    "clear_control_commands",
    "clear_routing",
    "queue_size",
}
DOWNLINK_KEYS: Final = {"host", "port", "vcid", "frame_length", "fsr_period", "queue_size"}
HK_KEYS: Final = {
    "enabled",
    "period",
    "ops_message",
    "duplicate_tag",
    "unauthenticated_tag",
    "lockout_tag",
}
SA_KEYS: Final = sdls_config.SA_KEYS | {"direction", "key_file", "persist_sequence", "key_id"}
DIRECTIONS: Final = {"uplink": "uplink", "downlink": "downlink"}


@dataclass(frozen=True)
class UplinkConfig:
    host: str = "0.0.0.0"
    port: int = wiring.UPLINK_AIR
    vcid: int = 0
    farm_window: int = DEFAULT_WINDOW
    sdls: bool = True
    clear_control_commands: bool = True
    #: A frame without SDLS carrying only DOWNLINK_ROUTE commands is accepted (a lab's
    #: weakness: a contingency path left open).
    clear_routing: bool = False
    queue_size: int = 4096


@dataclass(frozen=True)
class DownlinkConfig:
    host: str = wiring.RF_LINK
    port: int = wiring.DOWNLINK_IN
    vcid: int = 0
    frame_length: int = 256
    fsr_period: float = 2.0
    queue_size: int = 256


@dataclass(frozen=True)
class HousekeepingConfig:
    enabled: bool = True
    period: float = 2.0
    ops_message: str = ""
    #: Quoted in the DUPLICATE_COMMAND event when a frame executes a second time.
    duplicate_tag: str = ""
    #: Quoted in the UNAUTHENTICATED_COMMAND event when a command executes that no MAC
    #: vouched for (a plaintext SA, or no SDLS header); empty: no such event.
    unauthenticated_tag: str = ""
    #: Quoted in the FARM_LOCKOUT event when FARM-1 locks out while its V(R) was last set
    #: by a Set V(R) that no MAC vouched for; empty: the event carries V(R) alone.
    lockout_tag: str = ""


@dataclass(frozen=True)
class TablesConfig:
    """On-board tables: whether loads must carry flight dynamics' signature, the public
    key that checks it, and the limits table the spacecraft boots with (the "golden" one,
    in its configuration)."""

    verify: bool = True
    #: A load must carry a newer version than the table in use (no rollback to an older,
    #: perhaps signed, table).
    anti_rollback: bool = True
    #: Flight dynamics' Ed25519 public key; None: no key, so a verifying spacecraft
    #: applies no table load at all.
    public_key: bytes | None = None
    limits: LimitsTable = field(default_factory=LimitsTable)


@dataclass(frozen=True)
class SaConfig:
    """One configured security association and what the file says around it."""

    name: str
    direction: str  # "uplink" or "downlink"
    sa: SecurityAssociation
    key: bytes | None
    persist_sequence: bool
    #: The key store's key the SA uses (``key_id``, after an SA Rekey); None: ``key_file``.
    store_key_id: int | None = None


@dataclass(frozen=True)
class SpacecraftConfig:
    scid: int = 0x42
    uplink: UplinkConfig = UplinkConfig()
    downlink: DownlinkConfig = DownlinkConfig()
    housekeeping: HousekeepingConfig = HousekeepingConfig()
    associations: tuple[SaConfig, ...] = ()
    downlink_sa: str | None = None
    #: The master key OTAR delivers keys under: (key id, key); None: no OTAR.
    master_key: tuple[int, bytes] | None = None
    state_dir: Path = Path("/var/lib/labctl")
    truth_file: Path = Path(wiring.TRUTH_FILE)
    truth_interval: float = 0.1
    battery: float = 80.0
    #: Executed commands kept in the ground truth; the history file holds at most twice.
    command_history: int = 500
    tables: TablesConfig = TablesConfig()
    file: str = "<config>"

    @property
    def sequence_file(self) -> Path:
        return self.state_dir / "sdls-sequence.json"

    def associations_for(self, direction: str) -> list[SaConfig]:
        return [a for a in self.associations if a.direction == direction]

    def downlink_association(self) -> SaConfig | None:
        return next((a for a in self.associations if a.name == self.downlink_sa), None)


def load_config(path: Path = DEFAULT_PATH) -> SpacecraftConfig:
    """Read and check the file, then apply the on-board parameters stored by telecommand
    (:mod:`.parameters`); any problem is one :class:`HostConfigError`."""
    cfg = Config.load(path)
    config = parse_config(cfg, base=path.parent)
    stored = parameters.with_parameters(cfg, config.state_dir)
    if stored is None:
        return config
    try:
        return parse_config(stored, base=path.parent)
    except HostConfigError as exc:  # the file changed since: boot on the file alone
        print(f"spacecraft: stored parameters not applied: {exc.one_line()}", file=sys.stderr)
        return config


def validate_parameters(path: Path, values: Mapping[str, Any]) -> SpacecraftConfig:
    """The configuration file at ``path`` with ``values`` applied, checked."""
    cfg = Config.load(path)
    return parse_config(
        Config(parameters.overlay(parameters.data_of(cfg), values), cfg.file), base=path.parent
    )


def parse_config(cfg: Config, base: Path = Path(".")) -> SpacecraftConfig:
    """Build the typed configuration; relative key files resolve against ``base``."""
    cfg.only(TOP_KEYS, "")
    scid = _ranged(cfg, "scid", 0x42, MAX_ID["scid"])
    state_dir = Path(cfg.get("state_dir", str, "/var/lib/labctl"))
    associations = _associations(cfg, base, state_dir)
    downlink_sa = _downlink_sa(cfg, associations)
    return SpacecraftConfig(
        scid=scid,
        uplink=_uplink(cfg),
        downlink=_downlink(cfg),
        housekeeping=_housekeeping(cfg),
        associations=associations,
        downlink_sa=downlink_sa,
        master_key=_master_key(cfg, base),
        state_dir=state_dir,
        truth_file=Path(cfg.get("truth_file", str, wiring.TRUTH_FILE)),
        truth_interval=_positive(cfg, "truth_interval", 0.1),
        battery=min(100.0, max(0.0, cfg.get("battery", float, 80.0))),
        command_history=_ranged(cfg, "command_history", 500, 10_000, 100),
        tables=_tables(cfg, base),
        file=cfg.file,
    )


def _tables(cfg: Config, base: Path) -> TablesConfig:
    cfg.only(TABLES_KEYS, "tables")
    cfg.only(LIMITS_KEYS, "tables.limits")
    value = cfg.get("tables.public_key_file", str, "")
    public = None
    if value:
        path = Path(value) if Path(value).is_absolute() else base / value
        public = read_key_file(path, (KEY_SIZE,))
    limits = LimitsTable(
        version=_ranged(cfg, "tables.limits.version", 1, 0xFFFF),
        max_burn_ms=_ranged(cfg, "tables.limits.max_burn_ms", NO_BURN_LIMIT, 0xFFFF),
        thruster_enabled=cfg.get("tables.limits.thruster_enabled", bool, True),
    )
    return TablesConfig(
        verify=cfg.get("tables.verify", bool, True),
        anti_rollback=cfg.get("tables.anti_rollback", bool, True),
        public_key=public,
        limits=limits,
    )


def _ranged(cfg: Config, key: str, default: int, maximum: int, minimum: int = 0) -> int:
    value = cfg.get(key, int, default)
    if not minimum <= value <= maximum:
        raise HostConfigError(cfg.file, key, f"must be {minimum}..{maximum}, got {value}")
    return value


def _positive(cfg: Config, key: str, default: float) -> float:
    value = cfg.get(key, float, default)
    if value <= 0:
        raise HostConfigError(cfg.file, key, f"must be > 0, got {value}")
    return value


def _uplink(cfg: Config) -> UplinkConfig:
    cfg.only(UPLINK_KEYS, "uplink")
    window = _ranged(cfg, "uplink.farm_window", DEFAULT_WINDOW, 254, 2)
    if window % 2:
        raise HostConfigError(cfg.file, "uplink.farm_window", "must be even (232.1-B-2 §6.1.8.2)")
    return UplinkConfig(
        host=cfg.get("uplink.host", str, "0.0.0.0"),
        port=_ranged(cfg, "uplink.port", wiring.UPLINK_AIR, 65535),
        vcid=_ranged(cfg, "uplink.vcid", 0, MAX_ID["uplink.vcid"]),
        farm_window=window,
        sdls=cfg.get("uplink.sdls", bool, True),
        clear_control_commands=cfg.get("uplink.clear_control_commands", bool, True),
        clear_routing=cfg.get("uplink.clear_routing", bool, False),
        queue_size=_ranged(cfg, "uplink.queue_size", 4096, 1 << 20, 1),
    )


def _downlink(cfg: Config) -> DownlinkConfig:
    cfg.only(DOWNLINK_KEYS, "downlink")
    return DownlinkConfig(
        host=cfg.get("downlink.host", str, wiring.RF_LINK),
        port=_ranged(cfg, "downlink.port", wiring.DOWNLINK_IN, 65535),
        vcid=_ranged(cfg, "downlink.vcid", 0, MAX_ID["downlink.vcid"]),
        frame_length=_ranged(
            cfg, "downlink.frame_length", 256, TM_MAX_FRAME_SIZE, MIN_FRAME_LENGTH
        ),
        fsr_period=_positive(cfg, "downlink.fsr_period", 2.0),
        queue_size=_ranged(cfg, "downlink.queue_size", 256, 1 << 16, 1),
    )


def _housekeeping(cfg: Config) -> HousekeepingConfig:
    cfg.only(HK_KEYS, "housekeeping")
    return HousekeepingConfig(
        enabled=cfg.get("housekeeping.enabled", bool, True),
        period=_positive(cfg, "housekeeping.period", 2.0),
        ops_message=cfg.get("housekeeping.ops_message", str, ""),
        duplicate_tag=cfg.get("housekeeping.duplicate_tag", str, "")[:DUPLICATE_TAG_SIZE],
        unauthenticated_tag=cfg.get("housekeeping.unauthenticated_tag", str, "")[
            :DUPLICATE_TAG_SIZE
        ],
        lockout_tag=cfg.get("housekeeping.lockout_tag", str, "")[:DUPLICATE_TAG_SIZE],
    )


def _master_key(cfg: Config, base: Path) -> tuple[int, bytes] | None:
    if cfg.raw("sdls.master_key", None) is None:
        return None
    cfg.only({"id", "key_file"}, "sdls.master_key")
    ident = _ranged(cfg, "sdls.master_key.id", 0, 0xFFFF)
    value = cfg.get("sdls.master_key.key_file", str)
    path = Path(value) if Path(value).is_absolute() else base / value
    return ident, read_key_file(path, (16, 32))


def _associations(cfg: Config, base: Path, state_dir: Path) -> tuple[SaConfig, ...]:
    cfg.only({"associations", "downlink_sa", "master_key"}, "sdls")
    names = cfg.section("sdls.associations").keys()
    loaded: list[KeyStore] = []  # read once, and only when an SA names a stored key

    def stored_key(ident: int) -> bytes | None:
        if not loaded:
            loaded.append(KeyStore.load(state_dir))
        return loaded[0].active_key(ident)

    result = tuple(
        _association(cfg, f"sdls.associations.{name}", name, base, stored_key) for name in names
    )
    seen: dict[tuple[str, int], str] = {}
    for item in result:
        other = seen.setdefault((item.direction, item.sa.spi), item.name)
        if other != item.name:
            raise HostConfigError(
                cfg.file, f"sdls.associations.{item.name}.spi", f"SPI also used by {other!r}"
            )
    return result


def _association(
    cfg: Config, key: str, name: str, base: Path, stored_key: Callable[[int], bytes | None]
) -> SaConfig:
    cfg.only(SA_KEYS, key)
    section = cfg.section(key)
    sa = sdls_config.association(section)
    store_key_id = None
    if section.raw("key_id", None) is None:
        material = sdls_config.key(section, sa, base)
    else:  # a key delivered over the air (SA Rekey): from the on-board key store
        ident = section.get("key_id", int)
        if not 0 <= ident <= 0xFFFF:
            raise HostConfigError(cfg.file, f"{key}.key_id", f"must be 0..65535, got {ident}")
        store_key_id = ident
        material = stored_key(ident)
        if material is None:
            raise HostConfigError(
                cfg.file, f"{key}.key_id", f"key {ident} is not an active key of the key store"
            )
    return SaConfig(
        name=name,
        direction=section.choice("direction", DIRECTIONS, "uplink"),
        sa=sa,
        key=material,
        persist_sequence=section.get("persist_sequence", bool, True),
        store_key_id=store_key_id,
    )


def _downlink_sa(cfg: Config, associations: tuple[SaConfig, ...]) -> str | None:
    value = cfg.raw("sdls.downlink_sa", None)
    if value is None or (isinstance(value, str) and value.lower() in {"", "none"}):
        return None
    match = [a for a in associations if a.name == value]
    if not match:
        raise HostConfigError(cfg.file, "sdls.downlink_sa", f"no association named {value!r}")
    if match[0].direction != "downlink":
        raise HostConfigError(cfg.file, "sdls.downlink_sa", f"{value!r} is not a downlink SA")
    return str(value)
