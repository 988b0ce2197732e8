"""An operations engineer's SSH session on a ground host, for scripts on the workstation.

What a student does by hand (``ssh ops@ground-station``, ``sudoedit``, ``sudo
labctl-service restart``), a reference remediation does through the same account with
paramiko: no shell the student does not have, no Docker. Edits go through ``sudoedit``
with :mod:`labctl.range.yamledit` as the editor, so the sudo rules the lab grants are the
only thing that lets them through.

    from labctl.range.opsclient import OpsSession
    with OpsSession.from_file("ground-station") as ops:    # ~/ground-station.txt
        ops.edit("/etc/labctl/ground-station.yaml", {"uplink.sa.protect_control": True})
        ops.sudo("labctl-service", "restart")
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import paramiko  # type: ignore[import-untyped]

TIMEOUT: Final = 30.0


class OpsError(Exception):
    """A command on the host failed, or the login did not work."""


@dataclass
class OpsSession:
    """One SSH connection as an operations engineer."""

    host: str
    username: str
    password: str
    port: int = 22
    _client: paramiko.SSHClient | None = field(default=None, repr=False)

    @classmethod
    def from_file(cls, name: str, home: Path | None = None) -> OpsSession:
        """Read ``~/<name>.txt``: ``host:``, ``user:`` and ``password:`` lines."""
        path = (home or Path.home()) / f"{name}.txt"
        fields: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in {"host", "user", "password"}:
                fields[key.strip().lower()] = value.strip()
        if {"host", "user", "password"} - fields.keys():
            raise OpsError(f"{path}: needs 'host:', 'user:' and 'password:' lines")
        return cls(fields["host"], fields["user"], fields["password"])

    def __enter__(self) -> OpsSession:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            client.connect(
                self.host,
                self.port,
                self.username,
                self.password,
                timeout=TIMEOUT,
                allow_agent=False,
                look_for_keys=False,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise OpsError(f"ssh {self.username}@{self.host}: {exc}") from None
        self._client = client
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, *argv: str, env: Mapping[str, str] | None = None) -> str:
        """Run a command; its output. Raises OpsError (with the output) on a non-zero exit."""
        out, err = self._exec(argv, env)
        return out + err

    def _exec(self, argv: tuple[str, ...], env: Mapping[str, str] | None) -> tuple[str, str]:
        """(standard output, standard error) of a command that exited 0."""
        if self._client is None:
            raise OpsError("not connected: use 'with OpsSession(...) as ops'")
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        command = f"{prefix} {shlex.join(argv)}".strip()
        _, stdout, stderr = self._client.exec_command(command, timeout=TIMEOUT)
        out = str(stdout.read().decode("utf-8", "replace"))
        err = str(stderr.read().decode("utf-8", "replace"))
        status = stdout.channel.recv_exit_status()
        if status != 0:
            raise OpsError(f"{command}: exit {status}: {(out + err).strip()}")
        return out, err

    def sudo(self, *argv: str, env: Mapping[str, str] | None = None) -> str:
        """Run a command with sudo (no password: only what the lab's rules allow)."""
        return self.run("sudo", "-n", *argv, env=env)

    def edit(self, path: str, settings: Mapping[str, Any]) -> str:
        """Set dotted keys in a YAML file through ``sudoedit`` (comments kept)."""
        pairs = " ".join(shlex.quote(f"{k}={json.dumps(v)}") for k, v in settings.items())
        editor = f"python3 -m labctl.range.yamledit {pairs}"
        return str(self.run("sudoedit", "-n", path, env={"SUDO_EDITOR": editor}))

    def read(self, path: str) -> str:
        """A file the sudo rules let you edit, read through ``sudoedit`` (nothing changes)."""
        out, _ = self._exec(("sudoedit", "-n", path), {"SUDO_EDITOR": "cat"})
        return out

    def write(self, path: str, text: str) -> str:
        """Replace a file the sudo rules let you edit with ``text``, through ``sudoedit``
        (its owner and mode stay; a new file gets root's). The text goes up by SFTP
        into a private file of your home first."""
        if self._client is None:
            raise OpsError("not connected: use 'with OpsSession(...) as ops'")
        upload = f".labctl-upload-{secrets.token_hex(6)}"
        with self._client.open_sftp() as sftp:
            with sftp.open(upload, "w") as handle:
                handle.chmod(0o600)
                handle.write(text.encode("utf-8"))
            home = sftp.normalize(".")
        try:
            editor = f"cp {home}/{upload}"
            return str(self.run("sudoedit", "-n", path, env={"SUDO_EDITOR": editor}))
        finally:
            self.run("rm", "-f", "--", f"{home}/{upload}")

    def download(self, path: str) -> bytes:
        """A file your account can read, by SFTP (binary, as it is)."""
        if self._client is None:
            raise OpsError("not connected: use 'with OpsSession(...) as ops'")
        try:
            with self._client.open_sftp() as sftp, sftp.open(path, "rb") as handle:
                return bytes(handle.read())
        except (OSError, paramiko.SSHException) as exc:
            raise OpsError(f"sftp get {path}: {exc}") from None

    def publish(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Replace ``path`` in a directory your account may write: upload next to it by
        SFTP, then rename over it, so nobody ever reads half a file."""
        if self._client is None:
            raise OpsError("not connected: use 'with OpsSession(...) as ops'")
        upload = f"{path}.upload-{secrets.token_hex(4)}"
        try:
            with self._client.open_sftp() as sftp:
                with sftp.open(upload, "wb") as handle:
                    handle.write(data)
                sftp.chmod(upload, mode)
                sftp.posix_rename(upload, path)
        except (OSError, paramiko.SSHException) as exc:
            raise OpsError(f"sftp put {path}: {exc}") from None
