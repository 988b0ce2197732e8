"""The log collector's configuration: /etc/labctl/log-server.yaml, read once at start.

Every key is checked and unknown keys are errors. The commented example is
containers/log-server/log-server.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labctl.range import wiring
from labctl.range.hosts.config import Config, HostConfigError

DEFAULT_PATH: Final = Path(wiring.LOG_SERVER_CONFIG)
TOP_KEYS: Final = {"listen", "store", "max_line", "max_clients", "status_file"}
#: The longest line kept by default (octets, newline excluded); a longer one ends the
#: connection that sent it.
DEFAULT_MAX_LINE: Final = 16 * 1024
MIN_STORE_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class LogServerConfig:
    host: str = "0.0.0.0"
    port: int = wiring.LOG_SERVER_PORT
    #: Where records are appended, one JSON object per line.
    path: Path = Path(wiring.LOG_SERVER_STORE)
    #: The store never grows past this: further records are counted, not kept (it is never
    #: rotated or truncated: append-only).
    max_bytes: int = 64 * 1024 * 1024
    max_line: int = DEFAULT_MAX_LINE
    max_clients: int = 16
    status_file: Path | None = Path("/run/labctl/log-server.json")
    file: str = "<config>"


def _int_in(config: Config, key: str, default: int, low: int, high: int) -> int:
    value = config.get(key, int, default)
    if not low <= value <= high:
        raise HostConfigError(config.file, config.dotted(key), f"{value} not in {low}..{high}")
    return value


def parse_config(config: Config) -> LogServerConfig:
    """Settings from a parsed configuration (HostConfigError naming the key)."""
    config.only(TOP_KEYS)
    for section, keys in (("listen", {"host", "port"}), ("store", {"path", "max_bytes"})):
        if config.raw(section, None) is not None:
            config.only(keys, section)
    listen, store = config.section("listen"), config.section("store")
    defaults = LogServerConfig()
    status = config.get("status_file", str, str(defaults.status_file))
    return LogServerConfig(
        host=listen.get("host", str, defaults.host),
        port=_int_in(listen, "port", defaults.port, 1, 65535),
        path=Path(store.get("path", str, str(defaults.path))),
        max_bytes=_int_in(store, "max_bytes", defaults.max_bytes, MIN_STORE_BYTES, 2**40),
        max_line=_int_in(config, "max_line", defaults.max_line, 256, 1024 * 1024),
        max_clients=_int_in(config, "max_clients", defaults.max_clients, 1, 1024),
        status_file=Path(status) if status else None,
        file=config.file,
    )


def load_config(path: Path = DEFAULT_PATH) -> LogServerConfig:
    return parse_config(Config.load(path))
