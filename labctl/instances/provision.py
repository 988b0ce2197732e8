"""Files every new instance needs before its first start: per-instance SDLS keys; and
the attacker workstation's SSH host key.

Keys are never baked into images (a key in an image is a finding: SPARTA RD-0003.02).
Each instance gets fresh random keys, the same on the spacecraft and on its ground
stations, written as hex text (containers/ground-station/keys/README) readable by the
service user only. A lab's per-student parameters (the scenario engine) may overwrite
them afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from labctl.backends.base import FileSpec
from labctl.backends.profiles import SERVICE_UID
from labctl.range import wiring

KEY_DIR: Final = wiring.KEY_DIR
KEY_NAMES: Final = ("uplink", "downlink")
KEY_OCTETS: Final = 16
#: Roles whose programs hold the SDLS keys.
KEYED_ROLES: Final = frozenset({"spacecraft", "ground-station"})


def sdls_keys() -> dict[str, bytes]:
    """Fresh AES-128 keys, one per security association, as hex text."""
    return {name: secrets.token_hex(KEY_OCTETS).encode() + b"\n" for name in KEY_NAMES}


def initial_files(roles: Mapping[str, str]) -> dict[str, dict[str, FileSpec]]:
    """Host name → files to write before start, for hosts (name → role) that need any."""
    keys = sdls_keys()
    owner = {"uid": SERVICE_UID, "gid": SERVICE_UID}
    files = {KEY_DIR: FileSpec(None, mode=0o700, **owner)}
    for name, key in keys.items():
        files[f"{KEY_DIR}/{name}.key"] = FileSpec(key, mode=0o600, **owner)
    return {host: dict(files) for host, role in roles.items() if role in KEYED_ROLES}


def ssh_host_key() -> str:
    """A new Ed25519 private key in OpenSSH's format (an SSH server's host key)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
