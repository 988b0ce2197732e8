"""The rf-link's configuration: /etc/labctl/rf-link.yaml, read once at start.

Lab injects change the channel by dotted path (``channel.jamming.uplink: true``,
``channel.loss: 0.3``), so every key is checked and unknown keys are errors. The
commented example is containers/rf-link/rf-link.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from labctl.range import wiring
from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.passes import orbit_schedule
from labctl.range.hosts.rflink.channel import ChannelSettings

DEFAULT_PATH: Final = Path(wiring.RF_LINK_CONFIG)
MAX_DATAGRAM: Final = 2048  # the longest TM frame (132.0-B-3); TC frames are <= 1024
TOP_KEYS: Final = {
    "uplink",
    "downlink",
    "channel",
    "pcap",
    "status_file",
    "status_interval",
    "max_datagram",
}
LINK_KEYS: Final = {"host", "port", "air", "air_port", "queue_size"}
CHANNEL_KEYS: Final = {
    "passes",
    "delay_ms",
    "loss",
    "bit_error_rate",
    "jamming",
    "seed",
    "queue_size",
}
DEFAULT_PORTS: Final = {
    "uplink": (wiring.UPLINK_IN, wiring.UPLINK_AIR),
    "downlink": (wiring.DOWNLINK_IN, wiring.DOWNLINK_AIR),
}
#: Noise datagrams per second that jam the uplink (far above any ground station's rate).
NOISE_THRESHOLD: Final = 500


@dataclass(frozen=True)
class LinkConfig:
    """One direction: where frames come in, and where the air is."""

    host: str
    port: int
    air: tuple[str, ...]
    air_port: int
    queue_size: int = 4096


@dataclass(frozen=True)
class PcapConfig:
    path: Path | None = Path(wiring.RF_LINK_PCAP)
    max_bytes: int = 50_000_000
    rotate: bool = True


@dataclass(frozen=True)
class RfLinkConfig:
    uplink: LinkConfig = LinkConfig("0.0.0.0", wiring.UPLINK_IN, ("broadcast",), wiring.UPLINK_AIR)
    downlink: LinkConfig = LinkConfig(
        "0.0.0.0", wiring.DOWNLINK_IN, ("broadcast",), wiring.DOWNLINK_AIR
    )
    channel: ChannelSettings = field(default_factory=ChannelSettings)
    seed: int | None = None
    delay_queue: int = 1024
    pcap: PcapConfig = field(default_factory=PcapConfig)
    status_file: Path | None = Path(wiring.RF_LINK_STATUS)
    status_interval: float = 1.0
    max_datagram: int = MAX_DATAGRAM
    file: str = "<config>"


def load_config(path: Path = DEFAULT_PATH) -> RfLinkConfig:
    return parse_config(Config.load(path))


def parse_config(cfg: Config) -> RfLinkConfig:
    cfg.only(TOP_KEYS, "")
    uplink, downlink = _link(cfg, "uplink"), _link(cfg, "downlink")
    inputs = {uplink.port, downlink.port} - {0}
    for name, link in (("uplink", uplink), ("downlink", downlink)):
        if link.air_port in inputs:
            raise HostConfigError(cfg.file, f"{name}.air_port", "must differ from input ports")
    cfg.only(CHANNEL_KEYS, "channel")
    seed = cfg.raw("channel.seed", None)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise HostConfigError(cfg.file, "channel.seed", f"expected int or null, got {seed!r}")
    return RfLinkConfig(
        uplink=uplink,
        downlink=downlink,
        channel=_channel(cfg),
        seed=seed,
        delay_queue=_int(cfg, "channel.queue_size", 1024, 1, 1 << 20),
        pcap=_pcap(cfg),
        status_file=_optional_path(cfg, "status_file", wiring.RF_LINK_STATUS),
        status_interval=_number(cfg, "status_interval", 1.0, 0.01, 3600.0),
        max_datagram=_int(cfg, "max_datagram", MAX_DATAGRAM, 16, 65507),
        file=cfg.file,
    )


def _int(cfg: Config, key: str, default: int, low: int, high: int) -> int:
    value = cfg.get(key, int, default)
    if not low <= value <= high:
        raise HostConfigError(cfg.file, key, f"must be {low}..{high}, got {value}")
    return value


def _number(cfg: Config, key: str, default: float, low: float, high: float) -> float:
    value = cfg.get(key, float, default)
    if not low <= value <= high:
        raise HostConfigError(cfg.file, key, f"must be {low}..{high}, got {value}")
    return value


def _optional_path(cfg: Config, key: str, default: str) -> Path | None:
    value = cfg.raw(key, default)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise HostConfigError(cfg.file, key, f"expected a path or empty, got {value!r}")
    return Path(value)


def _link(cfg: Config, name: str) -> LinkConfig:
    cfg.only(LINK_KEYS, name)
    port, air_port = DEFAULT_PORTS[name]
    air = cfg.raw(f"{name}.air", ["broadcast"])
    if isinstance(air, str):
        air = [air]
    if not isinstance(air, list) or not air or not all(isinstance(a, str) for a in air):
        raise HostConfigError(cfg.file, f"{name}.air", "expected a non-empty list of strings")
    return LinkConfig(
        host=cfg.get(f"{name}.host", str, "0.0.0.0"),
        port=_int(cfg, f"{name}.port", port, 0, 65535),
        air=tuple(air),
        air_port=_int(cfg, f"{name}.air_port", air_port, 1, 65535),
        queue_size=_int(cfg, f"{name}.queue_size", 4096, 1, 1 << 20),
    )


def _channel(cfg: Config) -> ChannelSettings:
    cfg.only({"period", "duration", "offset", "orbit"}, "channel.passes")
    cfg.only({"uplink", "downlink", "noise_threshold"}, "channel.jamming")
    period = _number(cfg, "channel.passes.period", 0.0, 0.0, 1e7)
    duration = _number(cfg, "channel.passes.duration", 0.0, 0.0, 1e7)
    if period and not duration:
        raise HostConfigError(cfg.file, "channel.passes.duration", "must be > 0 with a period")
    schedule = orbit_schedule(cfg, "channel.passes.orbit")
    if schedule is not None and period:
        raise HostConfigError(
            cfg.file, "channel.passes", "give either an orbit or a period, not both"
        )
    return ChannelSettings(
        pass_period=period,
        pass_duration=duration,
        pass_offset=cfg.get("channel.passes.offset", float, 0.0),
        delay=_number(cfg, "channel.delay_ms", 0.0, 0.0, 60_000.0) / 1000,
        loss=_number(cfg, "channel.loss", 0.0, 0.0, 1.0),
        bit_error_rate=_number(cfg, "channel.bit_error_rate", 0.0, 0.0, 1.0),
        jam_uplink=cfg.get("channel.jamming.uplink", bool, False),
        jam_downlink=cfg.get("channel.jamming.downlink", bool, False),
        noise_threshold=_int(cfg, "channel.jamming.noise_threshold", NOISE_THRESHOLD, 0, 1 << 20),
        schedule=schedule,
    )


def _pcap(cfg: Config) -> PcapConfig:
    cfg.only({"path", "max_bytes", "rotate"}, "pcap")
    return PcapConfig(
        path=_optional_path(cfg, "pcap.path", wiring.RF_LINK_PCAP),
        max_bytes=_int(cfg, "pcap.max_bytes", 50_000_000, 4096, 1 << 40),
        rotate=cfg.get("pcap.rotate", bool, True),
    )
