"""``python3 -m labctl.range.adversary run --timeline FILE --log FILE``: the program's edge.

Exit status 0 when the timeline ran to its end, 2 when the timeline cannot be carried out
(one line on stderr naming the step and the field).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path
from typing import Final

from labctl.range.adversary import LOG_PATH, TIMELINE_ENV, TIMELINE_PATH
from labctl.range.adversary.action import Context
from labctl.range.adversary.runner import AdversaryLog, run
from labctl.range.adversary.timeline import DEFAULT_SILENCE, TimelineError, parse_timeline

WAIT_FOR_S: Final = 30.0


def wait_for_hosts(hosts: list[str], seconds: float) -> list[str]:
    """Wait until every host name resolves; the ones that still do not."""
    deadline = time.monotonic() + seconds
    missing = list(hosts)
    while missing:
        missing = [host for host in missing if not _resolves(host)]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return missing


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m labctl.range.adversary", description="The scripted adversary of a lab."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run", help="carry out a timeline, logging every action")
    go.add_argument("--timeline", type=Path, default=Path(TIMELINE_PATH), help="JSON file")
    go.add_argument("--log", type=Path, default=Path(LOG_PATH), help="JSON lines, appended")
    go.add_argument(
        "--from-env",
        action="store_true",
        help=f"first write the timeline file from ${TIMELINE_ENV}",
    )
    go.add_argument(
        "--silence",
        type=float,
        default=DEFAULT_SILENCE,
        help="seconds without downlink that end a pass (default %(default)s)",
    )
    go.add_argument(
        "--listen-timeout",
        type=float,
        default=120.0,
        help="longest wait for frames to replay or to learn the SCID (default %(default)s)",
    )
    go.add_argument("--until", type=float, default=None, help="stop after this many seconds")
    go.add_argument(
        "--wait-for",
        action="append",
        default=[],
        metavar="HOST",
        help="before starting, wait (at most 30 s) until HOST resolves (its network is there)",
    )
    args = parser.parse_args(argv)
    try:
        if args.from_env:
            args.timeline.parent.mkdir(parents=True, exist_ok=True)
            args.timeline.write_text(os.environ.get(TIMELINE_ENV, ""), encoding="utf-8")
        steps = parse_timeline(args.timeline.read_text(encoding="utf-8"))
        log = AdversaryLog(args.log)
    except TimelineError as exc:
        print(f"adversary: {args.timeline}: {exc}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"adversary: {exc}", file=sys.stderr)
        return 2
    missing = wait_for_hosts(args.wait_for, WAIT_FOR_S)
    if missing:
        print(f"adversary: {', '.join(missing)} not resolvable; starting anyway", flush=True)
    print(f"adversary: {len(steps)} step(s), log {args.log}", flush=True)
    run(
        steps,
        log,
        Context(listen_timeout=args.listen_timeout),
        silence=args.silence,
        until=args.until,
    )
    print("adversary: timeline done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
