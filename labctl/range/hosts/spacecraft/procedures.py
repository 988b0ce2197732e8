"""SDLS extended procedures on board (CCSDS 355.1-B-1), by telecommand.

SA management: Start, Stop and Expire move an SA through its life cycle (keyed →
operational → keyed → unkeyed); Rekey gives a stopped (or expired) SA an active key of the
key store, with its sequence number back at zero; Set ARSN window and Set ARSN change its
anti-replay; Read ARSN and SA status answer with a reply PDU (telemetry 129,2). A change
takes effect at once and is kept in non-volatile memory for the next boot
(:mod:`.parameters`), after checking that the configuration it leads to boots. Starting a
downlink SA makes it the one that protects the telemetry; stopping that SA leaves the
telemetry in the clear.

Key management (:mod:`.keystore`): OTAR (a new key, encrypted and authenticated under
the master key), Key Activation, Deactivation, Destruction, Verification (the challenge
encrypted under the key, reply 129,2) and Inventory (reply 129,2).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.errors import ProtocolError
from labctl.protocols.sdls import Keyring, SaState, SecurityAssociation
from labctl.protocols.sdls_ep import (
    KEY_STATE_CODES,
    OTAR_IV_SIZE,
    KeyProcedure,
    Otar,
    SaProcedure,
    answer_challenge,
    open_otar,
)
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.spacecraft import parameters
from labctl.range.hosts.spacecraft.config import SpacecraftConfig, validate_parameters
from labctl.range.hosts.spacecraft.keystore import KeyRefused, KeyStore

Args = tuple[int | bytes, ...]
#: Engine key ids of keys from the key store (positional ids of configured keys are below).
STORE_KEY_BASE = 0x10000
#: Entries an inventory reply lists at most (3 octets each).
MAX_INVENTORY = 64
STATE_NAMES = {
    SaState.UNKEYED: "unkeyed",
    SaState.KEYED: "keyed",
    SaState.OPERATIONAL: "operational",
}


class ProcedureRefused(Exception):
    """The procedure cannot run: ``state`` is True when the SA's state forbids it (the SPI
    exists), False when the arguments are wrong (no such SA, a value out of range)."""

    def __init__(self, message: str, state: bool = False) -> None:
        super().__init__(message)
        self.state = state


@dataclass
class SaManagement:
    """The SAs of one flight-software instance, and how to change the telemetry's SA."""

    config: SpacecraftConfig
    uplink: Mapping[str, SecurityAssociation]
    downlink: Mapping[str, SecurityAssociation]
    use_for_telemetry: Callable[[SpacecraftConfig], None]
    #: The SDLS engines' keyrings by direction (a rekeyed SA's key goes there).
    keyrings: Mapping[str, Keyring] = field(default_factory=dict)
    #: Writes the persisted SAs' sequence numbers of a direction (after a rekey).
    save_sequences: Callable[[str], None] = lambda _direction: None
    keystore: KeyStore = field(init=False)
    #: SA name → the key store's key it uses.
    key_ids: dict[str, int] = field(init=False)
    #: Random octets (the verification's IVs); tests give their own.
    random: Callable[[int], bytes] = os.urandom
    #: The key the last key management procedure changed (for its event).
    changed_key: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.keystore = KeyStore.load(self.config.state_dir)
        self.key_ids = {
            a.name: a.store_key_id for a in self.config.associations if a.store_key_id is not None
        }

    def run(self, procedure: SaProcedure, args: Args) -> bytes | None:
        """Carry out one procedure; the reply PDU's data, if the procedure has one."""
        name, direction, sa = self._find(_int(args[0]))
        if procedure is SaProcedure.READ_ARSN:
            return struct.pack(">HQI", sa.spi, sa.sequence_number, sa.window)
        if procedure is SaProcedure.STATUS:
            return struct.pack(">HB", sa.spi, sa.state)
        handlers = {
            SaProcedure.START: self._start,
            SaProcedure.STOP: self._stop,
            SaProcedure.EXPIRE: self._expire,
            SaProcedure.REKEY: self._rekey,
            SaProcedure.SET_ARSNW: self._set_arsnw,
            SaProcedure.SET_ARSN: self._set_arsn,
        }
        handler = handlers.get(procedure)
        if handler is None:
            raise ProcedureRefused(f"procedure {procedure.name} is not implemented on board")
        handler(name, direction, sa, args)
        return None

    def _start(self, name: str, direction: str, sa: SecurityAssociation, _: Args) -> None:
        self._need(sa, {SaState.KEYED, SaState.OPERATIONAL}, "keyed")
        changes: dict[str, Any] = {f"sdls.associations.{name}.state": "operational"}
        if direction == "downlink":
            changes[parameters.DOWNLINK_SA_KEY] = name
        config = self._store(changes)
        sa.state = SaState.OPERATIONAL
        if direction == "downlink":
            self.use_for_telemetry(config)

    def _stop(self, name: str, direction: str, sa: SecurityAssociation, _: Args) -> None:
        self._need(sa, {SaState.OPERATIONAL}, "operational")
        changes: dict[str, Any] = {f"sdls.associations.{name}.state": "keyed"}
        telemetry = direction == "downlink" and self.config.downlink_sa == name
        if telemetry:
            changes[parameters.DOWNLINK_SA_KEY] = "none"
        config = self._store(changes)
        sa.state = SaState.KEYED
        if telemetry:
            self.use_for_telemetry(config)

    def _expire(self, name: str, _direction: str, sa: SecurityAssociation, _: Args) -> None:
        self._need(sa, {SaState.KEYED}, "keyed (stop it first)")
        self._store({f"sdls.associations.{name}.state": "unkeyed"})
        sa.state = SaState.UNKEYED

    def _rekey(self, name: str, direction: str, sa: SecurityAssociation, args: Args) -> None:
        self._need(sa, {SaState.KEYED, SaState.UNKEYED}, "keyed or unkeyed (stop it first)")
        ident = _int(args[1])
        key = self.keystore.active_key(ident)
        if key is None:
            raise ProcedureRefused(f"key {ident} is not an active key of the key store")
        self._store(
            {
                f"sdls.associations.{name}.key_id": ident,
                f"sdls.associations.{name}.state": "keyed",
            }
        )
        engine_id = STORE_KEY_BASE + ident
        self.keyrings[direction].add(engine_id, key)
        sa.key_id = engine_id
        sa.state = SaState.KEYED
        sa.sequence_number = 0
        self.key_ids[name] = ident
        self.save_sequences(direction)

    # -- key management ---------------------------------------------------------------------
    def run_key(self, procedure: KeyProcedure, args: Args) -> bytes | None:
        """Carry out one key management procedure; the reply PDU's data, if any."""
        self.changed_key = None
        try:
            if procedure is KeyProcedure.OTAR:
                self._otar(args)
                return None
            if procedure is KeyProcedure.INVENTORY:
                entries = self.keystore.inventory(_int(args[0]), _int(args[1]))[:MAX_INVENTORY]
                body = b"".join(struct.pack(">HB", i, KEY_STATE_CODES[s]) for i, s in entries)
                return struct.pack(">H", len(entries)) + body
            ident = _int(args[0])
            if procedure is KeyProcedure.VERIFICATION:
                return self._verify(ident, _bytes(args[1]))
            self.changed_key = ident
            if procedure is KeyProcedure.ACTIVATION:
                self.keystore.activate(ident)
            elif procedure is KeyProcedure.DEACTIVATION:
                self.keystore.deactivate(ident, self._keys_in_use())
            elif procedure is KeyProcedure.DESTRUCTION:
                self.keystore.destroy(ident, self._keys_in_use())
            else:
                raise ProcedureRefused(f"procedure {procedure.name} is not implemented on board")
        except KeyRefused as refused:
            raise ProcedureRefused(str(refused), state=True) from None
        return None

    def _verify(self, ident: int, challenge: bytes) -> bytes:
        key = self.keystore.active_key(ident)
        if key is None:
            raise ProcedureRefused(f"key {ident} is not an active key of the key store")
        try:
            return answer_challenge(key, ident, challenge, self.random(OTAR_IV_SIZE))
        except ProtocolError as exc:
            raise ProcedureRefused(str(exc)) from None

    def _otar(self, args: Args) -> None:
        if self.config.master_key is None:
            raise ProcedureRefused("no master key on board: OTAR is not possible")
        master_id, master = self.config.master_key
        otar = Otar(_int(args[0]), _bytes(args[1]), _bytes(args[2]), _bytes(args[3]))
        if otar.master_key_id != master_id:
            raise ProcedureRefused(f"no master key {otar.master_key_id} on board")
        try:
            ident, key = open_otar(otar, master)
        except ProtocolError as exc:
            raise ProcedureRefused(str(exc)) from None
        self.keystore.add(ident, key, master_id)
        self.changed_key = ident

    def _keys_in_use(self) -> set[int]:
        """Key store keys an SA that is keyed or operational uses."""
        states = {SaState.KEYED, SaState.OPERATIONAL}
        sas = {**self.uplink, **self.downlink}
        return {k for name, k in self.key_ids.items() if name in sas and sas[name].state in states}

    def _set_arsnw(self, name: str, _direction: str, sa: SecurityAssociation, args: Args) -> None:
        window = _int(args[1])
        key = f"sdls.associations.{name}"
        self._store({f"{key}.window": max(window, 1), f"{key}.anti_replay": window > 0})
        sa.window = window

    def _set_arsn(self, _name: str, _direction: str, sa: SecurityAssociation, args: Args) -> None:
        arsn = _int(args[1])
        if arsn > sa.max_sequence_number:
            raise ProcedureRefused(f"ARSN {arsn} beyond the SA's sequence number field")
        sa.sequence_number = arsn

    def _find(self, spi: int) -> tuple[str, str, SecurityAssociation]:
        for direction, sas in (("uplink", self.uplink), ("downlink", self.downlink)):
            for name, sa in sas.items():
                if sa.spi == spi:
                    return name, direction, sa
        raise ProcedureRefused(f"no security association with SPI {spi}")

    @staticmethod
    def _need(sa: SecurityAssociation, states: set[SaState], wanted: str) -> None:
        if sa.state not in states:
            raise ProcedureRefused(
                f"SA {sa.spi} is {STATE_NAMES[SaState(sa.state)]}, not {wanted}", state=True
            )

    def _store(self, changes: Mapping[str, Any]) -> SpacecraftConfig:
        path = Path(self.config.file)
        try:
            config = parameters.store_keys(
                self.config.state_dir, changes, lambda values: validate_parameters(path, values)
            )
        except (HostConfigError, OSError) as exc:
            raise ProcedureRefused(f"the SA change would not boot: {exc}") from None
        self.config = config
        return config


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ProcedureRefused("an argument that should be a number is not")
    return value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProcedureRefused("an argument that should be octets is not")
    return value
