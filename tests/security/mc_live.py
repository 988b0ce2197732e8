"""Mission control's real program on a loopback port, for the campaign's attacks on it.

``python -m labctl.range.hosts.missioncontrol`` (uvicorn with the limits of
``labctl.range.hosts.missioncontrol.limits``) runs in a subprocess with a configuration in a
temporary folder; its output goes to a file the tests read. Everything is on 127.0.0.1:
the ground station is a port the test chooses (a fake one, or nobody).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

#: Plaintext passwords, so that a login costs no scrypt.
USERS = {
    "admin": {"role": "flight-director", "password": "admin"},
    "op": {"role": "operator", "password": "op-secret"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def login(self, user: str = "admin") -> dict[str, str]:
        """A bearer-token header for ``user``."""
        body = json.dumps({"username": user, "password": USERS[user]["password"]}).encode()
        request = urllib.request.Request(
            self.base_url + "/api/login", body, {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return {"Authorization": f"Bearer {json.load(response)['token']}"}

    def peak_rss(self) -> int:
        """The process's peak resident memory (VmHWM), in octets."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def mission_control(folder: Path, ground_port: int | None = None) -> Iterator[Server]:
    """The program, started and answering /api/health; terminated afterwards."""
    port = free_port()
    config = {
        "users": USERS,
        "ground_station": {
            "host": "127.0.0.1",
            "port": ground_port or free_port(),
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 1,
        },
        "database": {"path": str(folder / "mc.db")},
        "audit_log": {"path": str(folder / "audit.jsonl")},
    }
    (folder / "mc.yaml").write_text(yaml.safe_dump(config))
    log = folder / "mc.log"
    command = [sys.executable, "-m", "labctl.range.hosts.missioncontrol", "--config",
               str(folder / "mc.yaml"), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ)
    server = Server(process, port, log)
    try:
        _wait_until_answering(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.alive():
        try:
            if server.get("/api/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"mission control did not start:\n{server.output()[-2000:]}")
