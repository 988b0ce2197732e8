"""``labctl serve`` as an instructor runs it (the command, as a subprocess): TLS with a
self-signed certificate whose fingerprint it prints, the first instructor's login it
prints once, a student login over HTTPS, and ``labctl portal add-instructor``."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from portal_live import password_of

from labctl.core.api import Core
from labctl.portal.portal import Portal
from labctl.portal.server import fingerprint

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _with_password(
    argv: list[str], password: str, folder: Path
) -> subprocess.CompletedProcess[str]:
    """Run the real OpenSSH client with ``password`` (through SSH_ASKPASS, no terminal)."""
    askpass = folder / "askpass.sh"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$LABCTL_TEST_PASSWORD"\n')
    askpass.chmod(0o700)
    env = {
        **os.environ,
        "SSH_ASKPASS": str(askpass),
        "SSH_ASKPASS_REQUIRE": "force",
        "DISPLAY": ":0",
        "LABCTL_TEST_PASSWORD": password,
    }
    return subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def test_serve_runs_the_portal_over_tls_for_a_session(
    klass: tuple[Core, str, list[str]], portal: Portal
) -> None:
    core, session, (ana, _) = klass
    assert core.settings.state_file is not None
    home = core.settings.state_file.parent
    env = {**os.environ, "LABCTL_HOME": str(home), "LABCTL_LABS_DIR": str(REPO / "labs")}
    port, ssh_port = _free_port(), _free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labctl",
            "serve",
            "--session",
            session,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--ssh-port",
            str(ssh_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert serve.stdout is not None
        while not any("open https://" in line for line in lines):
            line = serve.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        printed = re.search(r"SHA-256 fingerprint ([0-9A-F:]{95})", text)
        assert printed, text
        cert = home / "portal" / "portal-cert.pem"
        assert fingerprint(cert.read_bytes()) == printed.group(1)
        deadline = time.monotonic() + 20
        trusted = ssl.create_default_context(cafile=str(cert))
        client = httpx.Client(verify=trusted, base_url=f"https://127.0.0.1:{port}")
        while True:
            try:
                page = client.get("/login")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert page.status_code == 200
        assert "Log in" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        login = client.post(
            "/login", data={"login": ana, "password": password_of(portal, session, ana)}
        )
        assert login.status_code == 303
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
        assert "SameSite=lax" in cookie
        assert client.get("/lab").status_code == 200
        client.close()
        assert f"ssh -p {ssh_port}" in text

        ssh = [
            "ssh",
            "-p",
            str(ssh_port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "NumberOfPasswordPrompts=1",
            f"{ana}@127.0.0.1",
        ]
        good = _with_password(
            [*ssh, "echo gate-$((2*21)); hostname"], password_of(portal, session, ana), home
        )
        assert good.returncode == 0, good.stdout + good.stderr
        assert "gate-42" in good.stdout
        assert "attacker" in good.stdout  # Ana's own workstation
        failed = _with_password([*ssh, "true"], "wrong-password", home)
        assert failed.returncode == 255
        assert "Permission denied" in failed.stderr
        status = _with_password([*ssh, "exit 3"], password_of(portal, session, ana), home)
        assert status.returncode == 3

        key = home / "ana_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        by_key = [
            *ssh[:7],  # ssh -p PORT and the two host-key options
            "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes",
            "-i", str(key), ssh[-1], "echo key-$((4*4))",
        ]  # fmt: skip
        refused = _with_password(by_key, "unused", home)
        assert refused.returncode == 255  # not registered yet
        portal.add_key(ana, (home / "ana_ed25519.pub").read_text())
        keyed = _with_password(by_key, "unused", home)
        assert keyed.returncode == 0, keyed.stdout + keyed.stderr
        assert "key-16" in keyed.stdout
    finally:
        serve.terminate()
        serve.wait(10)

    added = subprocess.run(
        [sys.executable, "-m", "labctl", "portal", "add-instructor", "maria", "--password-stdin"],
        env=env,
        input="a-long-password\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert portal.authenticate("maria", "a-long-password") is not None
    short = subprocess.run(
        [sys.executable, "-m", "labctl", "portal", "add-instructor", "kim", "--password-stdin"],
        env=env,
        input="short\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert short.returncode != 0
    assert "at least 10 characters" in short.stdout + short.stderr
    assert "Traceback" not in short.stdout + short.stderr
