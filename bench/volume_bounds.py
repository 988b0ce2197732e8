"""Disk figures: what the emulated hosts keep on one instance's volumes, at their bounds.

    python bench/volume_bounds.py [--rounds 2]

Drives every file a student can make grow from outside, with the default configuration,
``--rounds`` times past its bound and with the largest rows or records a client can
cause, in a temporary folder; prints each file's size beside its documented worst case
(docs/ground-segment.md, "Disk budget"), and the sum per instance:

- mission control's archive: all four tables at once (telemetry, events, commands, audit);
- mission control's audit trail file and its ``.1``;
- the spacecraft's command history;
- the rf-link's pcap and its ``.1`` (the rotation is exercised with frames of 2 KB).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labctl.range.hosts.missioncontrol.audit import DEFAULT_MAX_BYTES, AuditLog  # noqa: E402
from labctl.range.hosts.missioncontrol.db import Archive, Retention  # noqa: E402
from labctl.range.hosts.rflink.config import PcapConfig  # noqa: E402
from labctl.range.hosts.rflink.pcap import PcapWriter  # noqa: E402
from labctl.range.hosts.spacecraft.state import COMMAND_LOG_SIZE, CommandHistory  # noqa: E402

MIB = 1024 * 1024
#: docs/ground-segment.md's figures, MiB.
DOCUMENTED = {"archive": 72, "trail": 16, "history": 0.3, "pcap": 95.4}
HUGE = 10**4000


def housekeeping(i: int) -> dict[str, object]:
    return {
        "received_at": time.time(), "apid": 100, "seq_count": i & 0x3FFF,
        "spacecraft_time": "2026-12-04 15:57:13.123", "mode": "NOMINAL", "battery_pct": 100,
        "payload_on": 1, "commands_executed": 2**32 - 1, "commands_rejected": 65535,
        "frames_rejected": 65535, "ops_message": "\ufffd" * 32,
    }  # fmt: skip


def command(i: int) -> dict[str, object]:
    return {
        "username": "u" * 64, "name": "THRUSTER_FIRE", "args": '{"duration_ms": 65535}',
        "hazardous": True, "seq_count": i & 0x3FFF, "packet_id": 0x1864,
        "seq_control": 0xC000 | (i & 0x3FFF), "status": "sent",
    }  # fmt: skip


def refused_command(i: int) -> dict[str, object]:
    """The largest audit detail a client can cause (a refused command with junk args)."""
    args = {f"{'k' * 62}{j:02}": HUGE + i for j in range(16)}
    return {"command": "C" * 64, "args": args, "role": "operator", "reason": "r" * 300}


def fill_mission_control(folder: Path, rounds: int) -> dict[str, int]:
    keep = Retention()
    archive = Archive(folder / "mission-control.db")
    trail = AuditLog(archive, folder / "mission-control-audit.jsonl")
    for i in range(rounds * keep.telemetry):
        archive.add_housekeeping(housekeeping(i))
    for _ in range(rounds * keep.events):
        archive.add_event(4, 0xFFFF, "EVENT_65535", bytes(range(64)))
    for i in range(rounds * keep.commands):
        archive.add_command(command(i))
    i = 0
    # Past the table's bound, then on until the file is about to rotate (both files full).
    while i < rounds * keep.audit or trail.path.stat().st_size < DEFAULT_MAX_BYTES - 8192:
        i += 1
        trail.record(
            "\U0001f600" * 200, "command.send", "refused", "10.1.2.3:45678", **refused_command(i)
        )
    archive.close()
    return {p.name: p.stat().st_size for p in folder.iterdir()}


def fill_history(folder: Path, rounds: int) -> int:
    history = CommandHistory(folder / "command-history.jsonl")
    entry = {
        "time": time.time(), "service": 8, "subtype": 1, "name": "THRUSTER_FIRE",
        "function": 4, "args": {"duration_ms": 65535}, "hazardous": True,
        "source_id": 65535, "spi": 65535, "sequence_number": 2**32 - 1, "frame_seq": 255,
        "bypass": True, "result": "completed",
    }  # fmt: skip
    for _ in range(rounds * 2 * COMMAND_LOG_SIZE):
        history.append(dict(entry))
    return (folder / "command-history.jsonl").stat().st_size


def fill_pcap(folder: Path, rounds: int) -> int:
    defaults = PcapConfig()
    writer = PcapWriter(folder / "rf-link.pcap", defaults.max_bytes, defaults.rotate)
    frame, i = bytes(2048), 0
    # Rotated ``rounds`` times, then on until the next record would rotate it again.
    while writer.rotations < rounds or writer.size + 2 * len(frame) <= defaults.max_bytes:
        i += 1
        writer.record(float(i), ("10.0.0.1", 40000), ("10.0.0.255", 5101), frame)
    writer.close()
    return sum(p.stat().st_size for p in folder.glob("rf-link.pcap*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times past each bound")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("mc", "sc", "rf"):
            (folder / name).mkdir()
        started = time.monotonic()
        mc = fill_mission_control(folder / "mc", args.rounds)
        figures = {
            "archive": sum(v for k, v in mc.items() if k.startswith("mission-control.db")),
            "trail": sum(v for k, v in mc.items() if "audit" in k),
            "history": fill_history(folder / "sc", args.rounds),
            "pcap": fill_pcap(folder / "rf", args.rounds),
        }
        seconds = time.monotonic() - started
    print(json.dumps(mc, indent=1, sort_keys=True))
    print(f"{'store':10} {'measured MiB':>13} {'documented MiB':>15}")
    for name, size in figures.items():
        print(f"{name:10} {size / MIB:13.2f} {DOCUMENTED[name]:15}")
    total = sum(figures.values())
    print(f"{'instance':10} {total / MIB:13.2f} {sum(DOCUMENTED.values()):15}")
    print(f"({seconds:.0f} s, {args.rounds} x past each bound)")


if __name__ == "__main__":
    main()
