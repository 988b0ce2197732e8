"""Reference remediation for gs-ssh-keys on the ground station: run as root, then restart
the station.

1. SSH keys only: a drop-in that sorts before the lab's (sshd keeps the first value it
   reads), the lab's own drop-in corrected too, the configuration tested, sshd reloaded.
2. Key hygiene and rotation: the compromised key is retired. The station switches to the
   spare key set (key and SPI delivered to its protected store, /etc/labctl/keys, 0700),
   copied to /etc/labctl/keys/uplink.key (0600, owner labctl); the world-readable copy
   is overwritten and removed.
3. COP-1: a restarted station starts FOP-1 at V(S) = 0, so it first sets the
   spacecraft's V(R) to 0 too (directive 128,2 through its own packet service) and both
   ends restart in step.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from labctl.protocols.pus import PusTc
from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/ground-station.yaml")
KEYS = Path("/etc/labctl/keys")
EXPOSED = Path("/etc/labctl/uplink.key")
SPARE_KEY, SPARE_SPI, NEW_KEY = KEYS / "spare.key", KEYS / "spare.spi", KEYS / "uplink.key"
SSHD_DROP_IN = Path("/etc/ssh/sshd_config.d/00-keys-only.conf")
LAB_DROP_IN = Path("/etc/ssh/sshd_config.d/50-lab.conf")
STATION_APID, SET_VR = 0x7F0, (128, 2)


def keys_only() -> None:
    SSHD_DROP_IN.write_text(
        "# Keys only: no password can be guessed or replayed.\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"
    )
    SSHD_DROP_IN.chmod(0o644)
    if LAB_DROP_IN.exists():
        text = LAB_DROP_IN.read_text().replace(
            "PasswordAuthentication yes", "PasswordAuthentication no"
        )
        LAB_DROP_IN.write_text(text)
    subprocess.run(["/usr/sbin/sshd", "-t"], check=True)
    pid = Path("/run/sshd.pid").read_text().strip()
    subprocess.run(["kill", "-HUP", pid], check=True)
    print("sshd: keys only, reloaded")


def rotate() -> int:
    spi = int(SPARE_SPI.read_text().strip())
    shutil.copyfile(SPARE_KEY, NEW_KEY)
    shutil.chown(NEW_KEY, "labctl", "labctl")
    NEW_KEY.chmod(0o600)
    KEYS.chmod(0o700)
    text = CONFIG.read_text()
    for key, value in (("uplink.sa.spi", spi), ("uplink.sa.key_file", str(NEW_KEY))):
        text, _ = set_dotted(text, key, value)
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    if EXPOSED.exists():
        size = EXPOSED.stat().st_size
        with EXPOSED.open("r+b") as handle:
            handle.write(os.urandom(size))
        EXPOSED.unlink()
    print(f"uplink: spare SA {spi}, key in {NEW_KEY} (0600); {EXPOSED} removed")
    return spi


def cop1_to_zero() -> None:
    directive = PusTc(STATION_APID, *SET_VR, bytes([0])).encode()
    with socket.create_connection(("127.0.0.1", 10025), timeout=10) as conn:
        conn.sendall(directive)
        time.sleep(2.0)  # the station frames and transmits it
    print("COP-1: Set V(R) 0 sent")


def main() -> int:
    keys_only()
    rotate()
    cop1_to_zero()
    return 0


if __name__ == "__main__":
    sys.exit(main())
