"""``python -m labctl.range.hosts.groundstation``: the program's edge (argv, logging, exit status).

A bad configuration prints one line on standard error and exits 2; a port that cannot be
bound exits 1; SIGTERM / SIGINT stop the daemon cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from labctl.range.hosts.config import HostConfigError, exit_or_wait
from labctl.range.hosts.groundstation.daemon import GroundStation
from labctl.range.hosts.groundstation.settings import DEFAULT_CONFIG_PATH, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labctl.range.hosts.groundstation")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s ground-station %(levelname)s %(message)s"
    )
    try:
        settings = load_settings(args.config)
        asyncio.run(_serve(GroundStation(settings)))
    except HostConfigError as exc:
        print(f"ground-station: {exc.one_line()}", file=sys.stderr)
        return exit_or_wait(exc, args.config, "ground-station")
    except OSError as exc:
        print(f"ground-station: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(station: GroundStation) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await station.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
