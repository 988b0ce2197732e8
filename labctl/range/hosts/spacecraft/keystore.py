"""The spacecraft's key store: session keys delivered over the air, and their states.

SDLS key management (CCSDS 355.1-B-1 §3.3) by telecommand: an OTAR brings a new key
encrypted under the master key (``sdls.master_key`` in the configuration) and stores it
*pre-active*; Key Activation makes it *active*, usable by an SA (SA Rekey); Key
Deactivation retires it (*deactivated*), Key Destruction wipes its material
(*destroyed*: the id is kept, so it cannot be delivered again). Kept in non-volatile
memory (``keystore.json`` in the state directory, mode 0600): keys survive a reboot.

The file is the spacecraft's own: a missing or unreadable one is an empty store (a
corrupt one is not trusted and is left for an operator to see).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from labctl.protocols.sdls import AES_KEY_SIZES

KEYSTORE_FILE: Final = "keystore.json"
#: Keys the store holds at most (destroyed ones count: their ids stay used).
MAX_KEYS: Final = 64


class KeyState(StrEnum):
    PRE_ACTIVE = "pre-active"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DESTROYED = "destroyed"


class KeyRefused(Exception):
    """A key management procedure that cannot run: the message says why."""


@dataclass
class StoredKey:
    state: KeyState
    key: bytes | None


class KeyStore:
    """Key id → state and material, backed by ``keystore.json`` in ``state_dir``."""

    def __init__(self, state_dir: Path, keys: dict[int, StoredKey] | None = None) -> None:
        self.path = state_dir / KEYSTORE_FILE
        self.keys: dict[int, StoredKey] = dict(keys or {})

    @classmethod
    def load(cls, state_dir: Path) -> KeyStore:
        """The store in ``state_dir``; empty when there is none or it cannot be trusted."""
        store = cls(state_dir)
        try:
            document = json.loads(store.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return store
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            return store
        for ident, entry in list(entries.items())[:MAX_KEYS]:
            parsed = _entry(ident, entry)
            if parsed is not None:
                store.keys[parsed[0]] = parsed[1]
        return store

    def save(self) -> None:
        document = {
            "keys": {
                str(ident): {"state": k.state.value, "key": k.key.hex() if k.key else None}
                for ident, k in sorted(self.keys.items())
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(document, sort_keys=True))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- procedures --------------------------------------------------------------------
    def add(self, ident: int, key: bytes, master_id: int | None) -> None:
        """A key delivered by OTAR: stored pre-active."""
        if ident == master_id:
            raise KeyRefused(f"key id {ident} is the master key's")
        if ident in self.keys:
            raise KeyRefused(f"key id {ident} is already in the store ({self.keys[ident].state})")
        if len(self.keys) >= MAX_KEYS:
            raise KeyRefused(f"the key store is full ({MAX_KEYS} keys)")
        self.keys[ident] = StoredKey(KeyState.PRE_ACTIVE, bytes(key))
        self.save()

    def activate(self, ident: int) -> None:
        self._move(ident, {KeyState.PRE_ACTIVE}, KeyState.ACTIVE)

    def deactivate(self, ident: int, in_use: Iterable[int] = ()) -> None:
        if ident in set(in_use):
            raise KeyRefused(f"key {ident} protects an SA: rekey or expire the SA first")
        self._move(ident, {KeyState.ACTIVE}, KeyState.DEACTIVATED)

    def destroy(self, ident: int, in_use: Iterable[int] = ()) -> None:
        if ident in set(in_use):
            raise KeyRefused(f"key {ident} protects an SA: rekey or expire the SA first")
        self._move(ident, {KeyState.PRE_ACTIVE, KeyState.DEACTIVATED}, KeyState.DESTROYED)
        self.keys[ident].key = None
        self.save()

    def active_key(self, ident: int) -> bytes | None:
        entry = self.keys.get(ident)
        return entry.key if entry is not None and entry.state is KeyState.ACTIVE else None

    def inventory(self, first: int, last: int) -> list[tuple[int, KeyState]]:
        return [(i, k.state) for i, k in sorted(self.keys.items()) if first <= i <= last]

    def summary(self) -> list[dict[str, Any]]:
        """Ids and states for the ground truth: never the material."""
        return [{"id": i, "state": k.state.value} for i, k in sorted(self.keys.items())]

    def _move(self, ident: int, allowed: set[KeyState], to: KeyState) -> None:
        entry = self.keys.get(ident)
        if entry is None:
            raise KeyRefused(f"no key {ident} in the store")
        if entry.state not in allowed:
            wanted = " or ".join(sorted(s.value for s in allowed))
            raise KeyRefused(f"key {ident} is {entry.state.value}, not {wanted}")
        entry.state = to
        self.save()


def _entry(ident: Any, entry: Any) -> tuple[int, StoredKey] | None:
    try:
        number = int(ident)
        state = KeyState(entry["state"])
        raw = entry.get("key")
        key = bytes.fromhex(raw) if isinstance(raw, str) else None
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    if not 0 <= number <= 0xFFFF:
        return None
    if state is KeyState.DESTROYED:
        return number, StoredKey(state, None)
    if key is None or len(key) not in AES_KEY_SIZES:
        return None
    return number, StoredKey(state, key)
