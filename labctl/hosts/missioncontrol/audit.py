"""The audit trail: every security-relevant action, in the archive and as JSON lines.

The JSON-lines file is what a lab ships to a remote log collector (so an insider who
wipes the database still leaves a trace elsewhere). It is opened for each record in
append mode, so a deleted or rotated file is simply created again. A disabled trail
(``audit_log.enabled: false``) records nothing at all, in neither place.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Final

from labctl.hosts.missioncontrol.db import Archive, Row

LOG: Final = logging.getLogger("labctl.missioncontrol.audit")
MAX_FIELD: Final = 200


def _clip(value: Any) -> Any:
    """Bound what a client controls (user names, arguments) before it is stored."""
    if isinstance(value, str):
        return value[:MAX_FIELD]
    if isinstance(value, dict):
        return {str(k)[:MAX_FIELD]: _clip(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_clip(v) for v in value[:20]]
    return value


class AuditLog:
    """Records actions to the ``audit`` table and to a JSON-lines file (unless disabled)."""

    def __init__(self, archive: Archive, path: Path, enabled: bool = True) -> None:
        self._archive = archive
        self.path = path
        self.enabled = enabled
        if enabled:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, actor: str, action: str, outcome: str, remote: str = "", **detail: Any) -> Row:
        """Store one action. ``outcome`` is ``ok``, ``refused`` or ``failed``. A disabled
        trail stores nothing and returns the row without an ``id``."""
        row: Row = {
            "at": time.time(),
            "actor": _clip(actor),
            "action": action,
            "outcome": outcome,
            "remote": _clip(remote),
            "detail": json.dumps(_clip(detail), sort_keys=True),
        }
        if not self.enabled:
            return row
        row["id"] = self._archive.add_audit(row)
        self._append({**row, "detail": _clip(detail)})
        return row

    def _append(self, row: Row) -> None:
        line = json.dumps(row, sort_keys=True, ensure_ascii=True) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
        except OSError as exc:
            # The database row exists; a broken log file must not stop operations.
            LOG.error("cannot append to audit log %s: %s", self.path, exc)
