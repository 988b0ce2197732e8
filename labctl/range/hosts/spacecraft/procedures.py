"""SDLS extended procedures on board (CCSDS 355.1-B-1, SA management), by telecommand.

Start, Stop and Expire move an SA through its life cycle (keyed → operational → keyed →
unkeyed); Set ARSN window and Set ARSN change its anti-replay; Read ARSN and SA status
answer with a reply PDU (telemetry 129,2). A change takes effect at once and is kept in
non-volatile memory for the next boot (:mod:`.parameters`), after checking that the
configuration it leads to boots. Starting a downlink SA makes it the one that protects
the telemetry; stopping that SA leaves the telemetry in the clear.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl.protocols.sdls import SaState, SecurityAssociation
from labctl.protocols.sdls_ep import SaProcedure
from labctl.range.hosts.config import HostConfigError
from labctl.range.hosts.spacecraft import parameters
from labctl.range.hosts.spacecraft.config import SpacecraftConfig, validate_parameters

Args = tuple[int, ...]
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

    def run(self, procedure: SaProcedure, args: tuple[int, ...]) -> bytes | None:
        """Carry out one procedure; the reply PDU's data, if the procedure has one."""
        name, direction, sa = self._find(args[0])
        if procedure is SaProcedure.READ_ARSN:
            return struct.pack(">HQI", sa.spi, sa.sequence_number, sa.window)
        if procedure is SaProcedure.STATUS:
            return struct.pack(">HB", sa.spi, sa.state)
        handlers = {
            SaProcedure.START: self._start,
            SaProcedure.STOP: self._stop,
            SaProcedure.EXPIRE: self._expire,
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

    def _set_arsnw(self, name: str, _direction: str, sa: SecurityAssociation, args: Args) -> None:
        window = args[1]
        key = f"sdls.associations.{name}"
        self._store({f"{key}.window": max(window, 1), f"{key}.anti_replay": window > 0})
        sa.window = window

    def _set_arsn(self, _name: str, _direction: str, sa: SecurityAssociation, args: Args) -> None:
        if args[1] > sa.max_sequence_number:
            raise ProcedureRefused(f"ARSN {args[1]} beyond the SA's sequence number field")
        sa.sequence_number = args[1]

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
