"""``python -m labctl.range.hosts.groundstation``: the program's edge (argv, logging, exit status).

A bad configuration prints one line on standard error and exits 2; a port that cannot be
bound exits 1; SIGTERM / SIGINT stop the daemon cleanly; SIGHUP stops it cleanly and starts
it again in the same process, reading the configuration again (``labctl-service restart``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from labctl.range.hosts.config import HostConfigError, exit_or_wait, start_again
from labctl.range.hosts.groundstation.daemon import GroundStation
from labctl.range.hosts.groundstation.settings import DEFAULT_CONFIG_PATH, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labctl.range.hosts.groundstation")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.add_argument(
        "--check", action="store_true", help="only read the configuration: 'ok', or its error"
    )
    args = parser.parse_args(argv)
    if args.check:
        try:
            load_settings(args.config)
        except HostConfigError as exc:
            print(f"ground-station: {exc.one_line()}", file=sys.stderr)
            return exc.exit_code
        print(f"ground-station: {args.config}: ok")
        return 0
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s ground-station %(levelname)s %(message)s"
    )
    try:
        settings = load_settings(args.config)
        hangup = asyncio.run(_serve(GroundStation(settings)))
    except HostConfigError as exc:
        print(f"ground-station: {exc.one_line()}", file=sys.stderr)
        return exit_or_wait(exc, args.config, "ground-station")
    except OSError as exc:
        print(f"ground-station: cannot start: {exc}", file=sys.stderr)
        return 1
    if hangup:
        logging.getLogger(__name__).info("SIGHUP: starting again with %s", args.config)
        start_again()
    return 0


async def _serve(station: GroundStation) -> bool:
    """Serve until a signal; True when it was SIGHUP (start again)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    hangup = False

    def restart() -> None:
        nonlocal hangup
        hangup = True
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    loop.add_signal_handler(signal.SIGHUP, restart)
    with contextlib.suppress(asyncio.CancelledError):
        await station.serve_forever()
    return hangup


if __name__ == "__main__":
    sys.exit(main())
