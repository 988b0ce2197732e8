"""One TCP connect, for the reachability checks: ``python3 -m labctl.range.vantage.connect
HOST PORT TIMEOUT`` prints ``{"open": bool, "detail": str}``.

``port_closed`` runs it in the grader vantage (where the attacker sits); ``port_open`` in
one of the instance's own hosts, through the engine. ``open`` is whether the connect was
accepted; otherwise ``detail`` starts with the class name of the exception the connect
raised (``ConnectionRefusedError``, ``TimeoutError``, ``gaierror``, ``OSError: [Errno
113] ...``), from which the checks tell a closed port from a host they cannot observe
(graders/checks/network.py): keep that form.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Sequence


def connect(host: str, port: int, timeout: float) -> dict[str, object]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return {"open": True, "detail": "connection accepted"}
    except OSError as exc:
        return {"open": False, "detail": f"{type(exc).__name__}: {str(exc)[:120]}"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: python3 -m labctl.range.vantage.connect HOST PORT TIMEOUT", file=sys.stderr)
        return 2
    try:
        port, timeout = int(args[1]), float(args[2])
    except ValueError:
        print("PORT is a number, TIMEOUT seconds", file=sys.stderr)
        return 2
    print(json.dumps(connect(args[0], port, timeout)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
