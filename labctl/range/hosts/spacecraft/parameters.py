"""On-board parameters (PUS service 20): stored by telecommand, applied at the next reset.

A flight director changes the spacecraft in orbit the way operators do: SET_PARAMETER
(20,3) stores a value from the parameter table (:data:`catalog.PARAMETERS`) in
non-volatile memory (``parameters.json`` in the state directory), REBOOT (8,1 function 6)
resets the on-board software, and the configuration then in use is the configuration
file with every stored parameter applied over it. REPORT_PARAMETERS (20,1) answers with
20,2: per parameter its id, the stored value (else the value in use) and the value in use.

A value is stored only if the configuration it leads to is valid (else the command fails
with BAD_ARGUMENTS), so a telecommand can never leave the spacecraft unable to boot.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from labctl.range.hosts.catalog import PARAMETER_BY_ID, Parameter
from labctl.range.hosts.config import Config

T = TypeVar("T")

PARAMETERS_FILE: Final = "parameters.json"
#: What SDLS extended procedures store for the next boot: an SA's state, window, anti-replay,
#: the key-store key it uses since an SA Rekey, and which SA protects the telemetry.
SA_KEY: Final = re.compile(
    r"^sdls\.associations\.[A-Za-z0-9_-]{1,64}\.(state|window|anti_replay|key_id)$"
)
DOWNLINK_SA_KEY: Final = "sdls.downlink_sa"


def stored(state_dir: Path) -> dict[str, Any]:
    """The stored parameters as {configuration key: value}; {} when none or unreadable."""
    try:
        document = json.loads((state_dir / PARAMETERS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    known = {p.key for p in PARAMETER_BY_ID.values()}
    return {
        key: value
        for key, value in document.items()
        if (key in known and isinstance(value, bool | int))
        or (SA_KEY.match(key) and isinstance(value, bool | int | str))
        or (key == DOWNLINK_SA_KEY and isinstance(value, str))
    }


def overlay(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of configuration ``data`` with each dotted key of ``values`` set, where the
    section it belongs to exists (a parameter of an SA this lab does not have is left out)."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for key, value in values.items():
        *path, last = key.split(".")
        node: Any = result
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[last] = value
    return result


def store(
    state_dir: Path,
    parameter: Parameter,
    value: bool | int,
    validate: Callable[[Mapping[str, Any]], object],
) -> None:
    """Store one value after ``validate(values)`` accepted the configuration it leads to
    (it raises HostConfigError otherwise). Written atomically."""
    store_keys(state_dir, {parameter.key: value}, validate)


def store_keys(
    state_dir: Path,
    changes: Mapping[str, Any],
    validate: Callable[[Mapping[str, Any]], T],
) -> T:
    """Store configuration keys after ``validate`` accepted the configuration they lead to;
    returns what ``validate`` returned. Written atomically."""
    values = stored(state_dir)
    values.update(changes)
    result = validate(values)
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / PARAMETERS_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(values, sort_keys=True), encoding="utf-8")
    os.replace(temporary, target)
    return result


def with_parameters(cfg: Config, state_dir: Path) -> Config | None:
    """``cfg`` with the stored parameters applied, or None when nothing is stored."""
    values = stored(state_dir)
    if not values:
        return None
    return Config(overlay(data_of(cfg), values), cfg.file)


def data_of(cfg: Config) -> dict[str, Any]:
    """The whole mapping behind a top-level :class:`Config`."""
    return {key: cfg.raw(key) for key in cfg}
