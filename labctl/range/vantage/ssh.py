"""Ask an SSH server which authentication methods it offers, and try a password, from a
grader vantage (``python3 -m labctl.range.vantage.ssh --host H --username U``).

What any client sees: the ``none`` method is refused with the list of methods the server
would accept (RFC 4252 §5.2). When ``password`` is on that list the password given is
tried (the vantage is the graders' own container: no student sees its processes); so is
``keyboard-interactive``, through which PAM takes a password too. The last output line is
JSON: ``{"methods": [...], "password": true|false|null, "keyboard_interactive": ...}``
(null: the method is not offered) or ``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any, Final

import paramiko  # type: ignore[import-untyped]

TIMEOUT_S: Final = 10.0


def _transport(host: str, port: int) -> paramiko.Transport:
    sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = TIMEOUT_S
    transport.auth_timeout = TIMEOUT_S
    transport.start_client(timeout=TIMEOUT_S)
    return transport


def offered_methods(host: str, port: int, username: str) -> list[str]:
    """The methods the server lists after refusing ``none``."""
    transport = _transport(host, port)
    try:
        transport.auth_none(username)
    except paramiko.BadAuthenticationType as exc:
        return sorted(exc.allowed_types)
    except paramiko.AuthenticationException:
        return []
    finally:
        transport.close()
    return ["none"]  # the server let us in without any credential


def try_password(host: str, port: int, username: str, password: str) -> bool:
    transport = _transport(host, port)
    try:
        transport.auth_password(username, password)
    except paramiko.AuthenticationException:
        return False
    finally:
        transport.close()
    return True


def try_keyboard_interactive(host: str, port: int, username: str, password: str) -> bool:
    def answer(_title: str, _instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
        return [password for _ in prompts]

    transport = _transport(host, port)
    try:
        transport.auth_interactive(username, answer)
    except paramiko.AuthenticationException:
        return False
    finally:
        transport.close()
    return True


def probe(host: str, port: int, username: str, password: str) -> dict[str, Any]:
    methods = offered_methods(host, port, username)
    result: dict[str, Any] = {"methods": methods, "password": None, "keyboard_interactive": None}
    if "password" in methods:
        result["password"] = try_password(host, port, username, password)
    if "keyboard-interactive" in methods:
        result["keyboard_interactive"] = try_keyboard_interactive(host, port, username, password)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vantage_ssh", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", default="")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = probe(args.host, args.port, args.username, args.password)
    except (OSError, paramiko.SSHException, EOFError) as exc:
        print(json.dumps({"error": f"{args.host}:{args.port}: {exc or type(exc).__name__}"}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
