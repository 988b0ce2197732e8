"""The spacecraft's on-board tables: the limits table in use, loads, and what survives a reset.

The table in use is the configuration's (``tables.limits``, the one the spacecraft boots
with) until a TABLE_LOAD applies another. An applied load is kept in non-volatile memory
(``tables.json`` in the state directory) and used again after a reset, but only after it
passes the same check as a load: a spacecraft that verifies (``tables.verify``) discards a
kept table whose signature does not hold and boots with the configuration's. So turning
verification on and resetting removes a table nobody signed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.table import LIMITS_TABLE, SIGNATURE_SIZE, LimitsTable, verify
from labctl.range.hosts.spacecraft.config import TablesConfig

TABLES_FILE: Final = "tables.json"


class TableRefused(Exception):
    """A load the spacecraft does not apply: why, in a few words."""


@dataclass(frozen=True)
class ActiveTable:
    table: LimitsTable
    #: "configuration" (booted with) or "load" (applied from a TABLE_LOAD).
    source: str = "configuration"
    signature: bytes = b""
    #: Whether the signature held when it was applied (None: the configuration's table).
    verified: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.table.as_dict(),
            "source": self.source,
            "signature": self.signature.hex(),
            "verified": self.verified,
        }


class OnboardTables:
    def __init__(self, config: TablesConfig, state_dir: Path) -> None:
        self.config = config
        self.path = state_dir / TABLES_FILE
        #: What happened to the kept table at boot: "", "restored" or "discarded".
        self.boot_note = ""
        self.limits = ActiveTable(config.limits)
        kept = self._kept()
        if kept is not None:
            table, signature = kept
            if self._acceptable(table, signature):
                self.limits = self._active(table, signature)
                self.boot_note = "restored"
            else:
                self.boot_note = "discarded"

    def load(self, table_id: int, table: LimitsTable, signature: bytes) -> ActiveTable:
        """Apply a TABLE_LOAD, or raise :class:`TableRefused`."""
        if table_id != LIMITS_TABLE:
            raise TableRefused(f"no table {table_id}")
        if not self._acceptable(table, signature):
            raise TableRefused("signature does not verify")
        if self.config.anti_rollback and table.version <= self.limits.table.version:
            raise TableRefused(f"version {table.version} is not newer")
        self.limits = self._active(table, signature)
        self._keep(table, signature)
        return self.limits

    def allows_burn(self, duration_ms: int) -> bool:
        limits = self.limits.table
        return limits.thruster_enabled and duration_ms <= limits.max_burn_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "verify": self.config.verify,
            "anti_rollback": self.config.anti_rollback,
            "public_key": self.config.public_key.hex() if self.config.public_key else None,
            "limits": self.limits.as_dict(),
            "boot": self.boot_note,
        }

    def _acceptable(self, table: LimitsTable, signature: bytes) -> bool:
        if not self.config.verify:
            return True
        key = self.config.public_key
        return key is not None and verify(key, table, signature)

    def _active(self, table: LimitsTable, signature: bytes) -> ActiveTable:
        key = self.config.public_key
        verified = key is not None and verify(key, table, signature)
        return ActiveTable(table, "load", signature, verified)

    def _kept(self) -> tuple[LimitsTable, bytes] | None:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            limits = document["limits"]
            table = LimitsTable(
                int(limits["version"]), int(limits["max_burn_ms"]), bool(limits["thruster_enabled"])
            )
            signature = bytes.fromhex(str(limits["signature"]))
        except (OSError, ValueError, KeyError, TypeError, ProtocolError):
            return None
        return (table, signature) if len(signature) == SIGNATURE_SIZE else None

    def _keep(self, table: LimitsTable, signature: bytes) -> None:
        document = {"limits": {**table.as_dict(), "signature": signature.hex()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)
