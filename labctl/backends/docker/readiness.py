"""Whether a host is ready: its readiness test, run cheaply.

Every lab image's test is ``labctl-listening PROTO PORT ...`` (containers/runtime): the
host is ready when each socket is bound in its network namespace. Run through the
engine, one test is a ``docker exec``: about 0.15 CPU-seconds of dockerd, containerd,
the shim, runc and the test itself (measured on the reference machine, docs/benchmarks.md),
so the engine's own periodic health checks of 35 instances kept half of a 2-core machine
busy at idle, and polling them while a class started cost more than starting it.

When the engine runs on this machine, the same test is answered from ``/proc`` instead:
``/proc/<pid>/net/{tcp,udp}[6]`` of the container's first process lists the sockets of
its network namespace, world-readable, as the script reads them from inside. That is a
file read, no process at all. It is used only when ``/proc/<pid>/cgroup`` names the
container (same PID namespace, the PID not reused); otherwise, and for any other test,
the caller runs the test in the container.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

LISTENING: Final = "labctl-listening"
#: Socket state in /proc/net: TCP LISTEN, UDP bound ("closed" for a bound, unconnected UDP
#: socket); the same as the labctl-listening script.
_STATE: Final = {"tcp": "0A", "udp": "07"}
PROC: Final = Path("/proc")


def listening_sockets(argv: Sequence[str]) -> list[tuple[str, int]] | None:
    """``labctl-listening tcp 22 udp 5100`` → [("tcp", 22), ("udp", 5100)]; None for any
    other command or a malformed one (the caller then runs it in the container)."""
    if not argv or argv[0].rsplit("/", 1)[-1] != LISTENING:
        return None
    words = list(argv[1:])
    if not words or len(words) % 2:
        return None
    sockets = []
    for proto, port in zip(words[::2], words[1::2], strict=True):
        if proto not in _STATE or not port.isdigit() or not 0 < int(port) < 65536:
            return None
        sockets.append((proto, int(port)))
    return sockets


def bound(table: str, port: int, proto: str) -> bool:
    """Whether a /proc/net/{tcp,udp}[6] ``table`` has a socket on local ``port`` in the
    listening (TCP) or bound (UDP) state."""
    wanted = f":{port:04X}"
    state = _STATE[proto]
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == state:
            return True
    return False


def ready_here(pid: int, container_id: str, argv: Sequence[str], proc: Path = PROC) -> bool | None:
    """The answer of the readiness test ``argv`` for the container whose first process is
    ``pid`` on this machine, from /proc; None when it cannot be answered here (another
    test, another machine or PID namespace, the process gone)."""
    sockets = listening_sockets(argv)
    if sockets is None or pid <= 0 or not container_id:
        return None
    base = proc / str(pid)
    try:
        if container_id not in (base / "cgroup").read_text(encoding="ascii", errors="replace"):
            return None
        for proto, port in sockets:
            tables = [base / "net" / proto, base / "net" / f"{proto}6"]
            if not any(bound(_read(t), port, proto) for t in tables):
                return False
    except OSError:
        return None
    return True


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:  # no IPv6 in the namespace
        return ""
