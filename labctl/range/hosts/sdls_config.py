"""Security associations as the hosts' configuration files describe them.

The spacecraft and the ground station read the same SA keys with the same defaults
through this one module, so the two ends of the link agree unless a file says
otherwise — and a student's hardening edit means the same thing on both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from labctl.protocols.sdls import (
    DEFAULT_LENGTHS,
    MacAlgorithm,
    SaState,
    SecurityAssociation,
    ServiceType,
)
from labctl.range.hosts.config import Config, HostConfigError, read_key_file

log = logging.getLogger(__name__)

SERVICES: Final = {
    "plaintext": ServiceType.PLAINTEXT,
    "authentication": ServiceType.AUTHENTICATION,
    "authenticated_encryption": ServiceType.AUTHENTICATED_ENCRYPTION,
}
STATES: Final = {s.name.lower(): s for s in SaState}
MAC_ALGORITHMS: Final = {"aes_cmac": MacAlgorithm.AES_CMAC, "hmac_sha256": MacAlgorithm.HMAC_SHA256}
#: The keys :func:`association` reads; hosts add their own (key file, persistence, ...).
SA_KEYS: Final = frozenset(
    {
        "spi",
        "service",
        "state",
        "mac_algorithm",
        "iv_len",
        "sn_len",
        "pl_len",
        "mac_len",
        "anti_replay",
        "window",
        "vcids",
    }
)
DEFAULT_WINDOW: Final = 64


def association(cfg: Config, window_default: int = DEFAULT_WINDOW) -> SecurityAssociation:
    """The SA described by section ``cfg``. ``anti_replay: false`` is window 0 (no check)."""
    service = cfg.choice("service", SERVICES, "authenticated_encryption")
    iv_len, sn_len, mac_len = DEFAULT_LENGTHS[service]
    algorithm = MacAlgorithm.AES_GCM
    if service is ServiceType.AUTHENTICATION:
        algorithm = cfg.choice("mac_algorithm", MAC_ALGORITHMS, "aes_cmac")
    try:
        return SecurityAssociation(
            spi=_int(cfg, "spi", 0, 0xFFFF),
            service=service,
            state=cfg.choice("state", STATES, "operational"),
            iv_len=_int(cfg, "iv_len", 0, 16, iv_len),
            sn_len=_int(cfg, "sn_len", 0, 8, sn_len),
            pl_len=_int(cfg, "pl_len", 0, 2, 0),
            mac_len=_int(cfg, "mac_len", 0, 32, mac_len),
            window=_window(cfg, window_default),
            mac_algorithm=algorithm,
            vcids=_vcids(cfg),
        )
    except ValueError as exc:
        raise HostConfigError(cfg.file, cfg.dotted("spi").rsplit(".", 1)[0], str(exc)) from None


def key(cfg: Config, sa: SecurityAssociation, base: Path) -> bytes | None:
    """The SA's key from ``key_file`` (hex text); optional for plaintext and unkeyed SAs."""
    needed = sa.service is not ServiceType.PLAINTEXT and sa.state is not SaState.UNKEYED
    value = cfg.get("key_file", str, "") if cfg.raw("key_file", None) is not None else ""
    if not value:
        if needed:
            raise HostConfigError(cfg.file, cfg.dotted("key_file"), "missing (the SA needs a key)")
        return None
    path = Path(value) if Path(value).is_absolute() else base / value
    material = read_key_file(path)
    try:
        if path.stat().st_mode & 0o077:
            log.warning("key file %s is readable by other users (chmod 0600)", path)
    except OSError:
        pass
    return material


def _window(cfg: Config, default: int) -> int:
    window = _int(cfg, "window", 0, 1 << 64, default)
    if not cfg.get("anti_replay", bool, True):
        return 0
    if window < 1:
        raise HostConfigError(cfg.file, cfg.dotted("window"), "must be >= 1 when anti_replay is on")
    return window


def _vcids(cfg: Config) -> frozenset[int]:
    value = cfg.raw("vcids", [])
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 64 for v in value
    ):
        raise HostConfigError(cfg.file, cfg.dotted("vcids"), "expected a list of VC ids (0-63)")
    return frozenset(value)


def _int(cfg: Config, key: str, low: int, high: int, default: int | None = None) -> int:
    value = cfg.get(key, int) if default is None else cfg.get(key, int, default)
    if not low <= value <= high:
        raise HostConfigError(cfg.file, cfg.dotted(key), f"{value} outside {low}..{high}")
    return value
