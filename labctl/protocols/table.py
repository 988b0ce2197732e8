"""On-board tables and their signatures: the limits table, signed with Ed25519.

A table load carries the table's fields and a signature over them. Flight dynamics holds
the private key on the ground; the spacecraft holds only the public key and, when it
verifies loads, applies a table only if the signature holds. What is signed is the
table's encoding: the table id, then its fields, big-endian (:meth:`LimitsTable.encode`),
so a signature for one table cannot be reused for another table or other values.

    seed = bytes.fromhex(key_hex)                   # 32 octets: the private key
    table = LimitsTable(version=2, max_burn_ms=4000, thruster_enabled=True)
    signature = sign(seed, table)                   # 64 octets
    verify(public_key(seed), table, signature)      # True

The values come off the uplink (the spacecraft) or from a student's file (the tools):
every length is checked, and a signature that does not verify is False, never an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labctl.errors import ProtocolError

#: The limits table's id (the first argument of TABLE_LOAD).
LIMITS_TABLE: Final = 1
#: Fields after the table id: version, longest thruster burn (ms), thruster enabled.
LIMITS_FORMAT: Final = ">HHB"
SIGNATURE_SIZE: Final = 64
KEY_SIZE: Final = 32
#: No burn limit below what THRUSTER_FIRE can ask (its duration is 16 bits).
NO_BURN_LIMIT: Final = 0xFFFF


@dataclass(frozen=True)
class LimitsTable:
    """Table 1: the thruster's limits, which the spacecraft enforces on THRUSTER_FIRE."""

    version: int = 1
    max_burn_ms: int = NO_BURN_LIMIT
    thruster_enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.version <= 0xFFFF or not 0 <= self.max_burn_ms <= 0xFFFF:
            raise ProtocolError("limits table: version and max_burn_ms are 0..65535")

    def encode(self) -> bytes:
        """What a signature covers: the table id, then the fields."""
        fields = struct.pack(
            LIMITS_FORMAT, self.version, self.max_burn_ms, int(self.thruster_enabled)
        )
        return bytes([LIMITS_TABLE]) + fields

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "version": self.version,
            "max_burn_ms": self.max_burn_ms,
            "thruster_enabled": self.thruster_enabled,
        }


def _private(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != KEY_SIZE:
        raise ProtocolError(f"an Ed25519 private key is {KEY_SIZE} octets, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(seed: bytes) -> bytes:
    """The 32-octet public key of a 32-octet private key (seed)."""
    return _private(seed).public_key().public_bytes_raw()


def sign(seed: bytes, table: LimitsTable) -> bytes:
    """Flight dynamics' signature of ``table`` (64 octets)."""
    return _private(seed).sign(table.encode())


def verify(public: bytes, table: LimitsTable, signature: bytes) -> bool:
    """Whether ``signature`` is the holder of ``public``'s signature of ``table``."""
    if len(public) != KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, table.encode())
    except (InvalidSignature, ValueError):
        return False
    return True
