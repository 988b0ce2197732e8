"""``python -m labctl.range.hosts.missioncontrol [--config FILE] [--hash-password]``.

The program's edge: reads the configuration, runs uvicorn, and turns a configuration
error into one line on standard error and exit status 2. ``--check`` only reads the
configuration; SIGHUP stops the server cleanly and starts it again in the same process,
reading the configuration again (``labctl-service restart``).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
from pathlib import Path

from labctl.range.hosts.config import HostConfigError, exit_or_wait, start_again
from labctl.range.hosts.missioncontrol.settings import DEFAULT_CONFIG_PATH, load_settings


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labctl.range.hosts.missioncontrol",
        description="Mission control: operators' web UI and API for the emulated ground segment.",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH, help="YAML file")
    parser.add_argument("--host", help="listen address (overrides listen.host)")
    parser.add_argument("--port", type=int, help="listen port (overrides listen.port)")
    parser.add_argument(
        "--check", action="store_true", help="only read the configuration: 'ok', or its error"
    )
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password (prompt or stdin) and print a password_hash for the config",
    )
    return parser.parse_args(argv)


def _hash_password() -> int:
    from labctl.range.hosts.missioncontrol.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("error: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.hash_password:
        return _hash_password()
    try:
        settings = load_settings(args.config)
    except HostConfigError as exc:
        print(f"mission-control: {exc}", file=sys.stderr)
        if args.check:
            return exc.exit_code
        return exit_or_wait(exc, args.config, "mission-control")
    if args.check:
        print(f"mission-control: {args.config}: ok")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import uvicorn

    from labctl.range.hosts.missioncontrol.app import create_app
    from labctl.range.hosts.missioncontrol.server import UVICORN_OPTIONS, quiet_repeated_warnings

    quiet_repeated_warnings()

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=args.host or settings.listen_host,
            port=args.port or settings.listen_port,
            server_header=False,
            access_log=False,
            proxy_headers=False,
            **UVICORN_OPTIONS,
        )
    )
    hangup: list[bool] = []

    def restart(_signum: int, _frame: object) -> None:
        hangup.append(True)
        server.should_exit = True

    signal.signal(signal.SIGHUP, restart)  # uvicorn handles SIGINT and SIGTERM itself
    server.run()
    if hangup:
        logging.getLogger(__name__).info("SIGHUP: starting again with %s", args.config)
        start_again()
    return 0


if __name__ == "__main__":
    sys.exit(main())
