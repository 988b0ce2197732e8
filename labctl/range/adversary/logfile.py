"""Reading the adversary's log back: JSON lines, of which only well-formed entries count.

The log sits in the adversary's container, which runs on the instance's networks, so its
contents are treated as untrusted: lines that are not a JSON object with the fields of an
entry are skipped, never trusted to have a type.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

#: Fields every entry has; `frames` and the other facts are optional.
REQUIRED: Final = ("t", "step", "repeat", "action", "outcome")
MAX_LINE: Final = 256 * 1024


def parse_log(text: str) -> list[dict[str, Any]]:
    """The well-formed entries of the log, in order."""
    entries = []
    for line in text.splitlines():
        if not line.startswith("{") or len(line) > MAX_LINE:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and well_formed(entry):
            entries.append(entry)
    return entries


def well_formed(entry: dict[str, Any]) -> bool:
    if any(key not in entry for key in REQUIRED):
        return False
    if not isinstance(entry["action"], str) or entry["outcome"] not in {"done", "failed"}:
        return False
    return entry_time(entry) is not None and entry.get("success") in {True, False, None}


def entry_time(entry: dict[str, Any]) -> float | None:
    """Unix seconds of an entry's ``t`` (ISO 8601), None if it is not a time."""
    text = entry.get("t")
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def sent_frames(entry: dict[str, Any]) -> list[tuple[int, int]]:
    """(SPI, SN) of each frame an entry says it sent, where both are known."""
    frames = entry.get("frames")
    pairs = []
    for frame in frames if isinstance(frames, list) else []:
        if not isinstance(frame, dict):
            continue
        spi, sn = frame.get("spi"), frame.get("sn")
        if type(spi) is int and type(sn) is int:
            pairs.append((spi, sn))
    return pairs
