"""The class's one SSH entry point: ``ssh -p 2222 ana.lima@labhost`` lands on Ana's own
workstation, with her portal login (the password on her handout), for students who prefer
their own terminal.

An asyncssh server on one port checks the login against the portal's accounts (students
only, rate-limited per account and per address like the web login), then opens an SSH
session to that student's workstation with the student's own credentials and relays it:
a shell with a pty (window changes follow), or a command (``ssh … 'ls'``), with its exit
status. Port forwarding, agent forwarding, X11 and SFTP are refused. The host key is made
on first start and kept (``$LABCTL_HOME/portal/ssh-host-key``), so students can pin it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import asyncssh

from labctl.portal.access import StudentTarget
from labctl.portal.auth import RateLimit

HOST_KEY_FILE: Final = "ssh-host-key"
CHUNK: Final = 16 * 1024

Authenticate = Callable[[str, str], Awaitable[StudentTarget | None]]
AuthenticateKey = Callable[[str, asyncssh.SSHKey], Awaitable[StudentTarget | None]]
#: Told that the student behind a target typed something (called in a worker thread).
Activity = Callable[[StudentTarget], None]
#: How often typing is told as activity (the portal writes it at most once a minute).
ACTIVITY_EVERY_S: Final = 30.0


def host_key(folder: Path) -> asyncssh.SSHKey:
    """The entry point's host key (Ed25519), made on first use and kept (mode 0600)."""
    path = folder / HOST_KEY_FILE
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
        path.chmod(0o600)
    return asyncssh.read_private_key(str(path))


class _Gate(asyncssh.SSHServer):
    def __init__(
        self, authenticate: Authenticate, limits: RateLimit, by_key: AuthenticateKey | None
    ) -> None:
        self.authenticate = authenticate
        self.by_key = by_key
        self.limits = limits
        self.address = "?"
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return self.by_key is not None

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        keys = (f"ssh:{username}", f"ssh-addr:{self.address}")
        if self.by_key is None or self.limits.blocked(*keys):
            return False
        target = await self.by_key(username, key)
        if target is None:
            return False  # an unknown key is only an offer, not a failed login
        if self.conn is not None:
            self.conn.set_extra_info(labctl_target=target)
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        keys = (f"ssh:{username}", f"ssh-addr:{self.address}")
        if self.limits.blocked(*keys):
            return False
        target = await self.authenticate(username, password)
        if target is None:
            self.limits.failed(*keys)
            return False
        self.limits.succeeded(keys[0])
        if self.conn is not None:
            self.conn.set_extra_info(labctl_target=target)
        return True


async def _relay(
    process: asyncssh.SSHServerProcess[bytes], activity: Activity | None = None
) -> None:
    target: StudentTarget | None = process.get_extra_info("labctl_target")
    if target is None:
        process.exit(1)
        return
    term = process.get_terminal_type()
    width, height, _, _ = process.get_terminal_size()
    try:
        upstream = await asyncssh.connect(
            target.ssh_host,
            target.ssh_port,
            username=target.ssh_user,
            password=target.ssh_password,
            known_hosts=None,
            client_keys=None,
        )
    except (OSError, asyncssh.Error) as exc:
        process.stderr.write(f"your workstation cannot be reached: {exc}\r\n".encode())
        process.exit(1)
        return
    async with upstream:
        remote = await upstream.create_process(
            process.command,
            term_type=term,
            term_size=(width, height) if term else None,
            encoding=None,
        )
        pumps = [
            asyncio.create_task(_copy(remote.stdout, process.stdout)),
            asyncio.create_task(_copy(remote.stderr, process.stderr)),
        ]
        seen = (lambda: activity(target)) if activity is not None else None
        inbound = asyncio.create_task(_feed(process, remote, seen))
        await remote.wait_closed()
        await asyncio.gather(*pumps, return_exceptions=True)
        inbound.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await inbound
        process.exit(remote.exit_status if remote.exit_status is not None else 0)


async def _copy(source: asyncssh.SSHReader[bytes], sink: asyncssh.SSHWriter[bytes]) -> None:
    while data := await source.read(CHUNK):
        sink.write(data)


async def _feed(
    process: asyncssh.SSHServerProcess[bytes],
    remote: asyncssh.SSHClientProcess[bytes],
    activity: Callable[[], None] | None = None,
) -> None:
    """The student's keys to the workstation; what they type is activity (said at most
    every ACTIVITY_EVERY_S, in a worker thread: it may write the state file)."""
    said = -1e18
    while True:
        try:
            data = await process.stdin.read(CHUNK)
        except asyncssh.TerminalSizeChanged as change:
            remote.change_terminal_size(change.width, change.height)
            continue
        except asyncssh.BreakReceived:
            continue
        if not data:
            remote.stdin.write_eof()
            return
        remote.stdin.write(data)
        if activity is not None and time.monotonic() - said > ACTIVITY_EVERY_S:
            said = time.monotonic()
            await asyncio.to_thread(activity)


async def start_gate(
    host: str,
    port: int,
    authenticate: Authenticate,
    folder: Path,
    *,
    limits: RateLimit | None = None,
    by_key: AuthenticateKey | None = None,
    activity: Activity | None = None,
) -> asyncssh.SSHAcceptor:
    """Listen on ``host:port``; ``authenticate(login, password)`` (and ``by_key(login,
    key)``, for the keys students registered) gives the student's target (None:
    refused); ``activity(target)`` hears that the student types (the idle clock)."""
    rate = limits or RateLimit()
    return await asyncssh.create_server(
        lambda: _Gate(authenticate, rate, by_key),
        host,
        port,
        server_host_keys=[host_key(folder)],
        process_factory=functools.partial(_relay, activity=activity),
        encoding=None,
        allow_scp=False,
        sftp_factory=None,
        agent_forwarding=False,
        x11_forwarding=False,
        line_editor=False,
    )
