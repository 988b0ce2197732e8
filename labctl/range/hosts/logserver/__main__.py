"""``python -m labctl.range.hosts.logserver``: the program's edge (arguments, signals, exit)."""

from __future__ import annotations

import sys

# Nothing in this process speaks TLS (see labctl.range.hosts.rflink.__main__).
sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
from pathlib import Path  # noqa: E402

from labctl.range.hosts.config import HostConfigError, exit_or_wait  # noqa: E402
from labctl.range.hosts.logserver.config import DEFAULT_PATH, LogServerConfig, load_config  # noqa: E402
from labctl.range.hosts.logserver.service import LogServer  # noqa: E402


async def _run(config: LogServerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await LogServer(config).serve(stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labctl.range.hosts.logserver",
        description="The remote, append-only log collector.",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_PATH, help="YAML file")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        logging.basicConfig(level=logging.INFO, format="log-server: %(levelname)s %(message)s")
        asyncio.run(_run(config))
    except HostConfigError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exit_or_wait(exc, args.config, "log-server")
    except OSError as exc:
        print(f"log-server: cannot open its socket or store: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
