"""Reference remediation for gs-ssh-keys, run on the workstation as the student once the
defence phase is open, through the student's own access only.

1. The leaked uplink key is compromised: rotate to the spare key set on both ends.
   - Read the station's SA and the spare SPI (``sudoedit``: the operations engineer may
     read the station's configuration and key store).
   - Spacecraft, by SDLS procedure from mission control (flight director): Start SA on the
     spare SA, still through the old one.
   - Station (``ssh ops@ground-station``): point the uplink SA at the spare SPI and key
     file, ``sudo labctl-service restart``. Its automatic COP-1 recovery brings FARM-1 back
     in step after the restart.
   - Spacecraft, now through the spare SA: Stop SA, then Expire SA on the old one: a frame
     protected with the stolen key is refused from then on.
   - Station: destroy the world-readable copy (``sudo labctl-service destroy-key``).
2. SSH keys only: a drop-in read before the lab's ``50-lab.conf`` (sshd keeps the first
   value it reads) turning password and keyboard-interactive logins off, then
   ``sudo labctl-service reload-ssh``. Last, because this engineer logs in by password
   (a real one installs a key first: ``ssh-copy-id ops@ground-station``).
"""

from __future__ import annotations

import sys

import yaml

from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/ground-station.yaml"
SPARE_KEY = "/etc/labctl/keys/spare.key"
SPARE_SPI = "/etc/labctl/keys/spare.spi"
KEYS_ONLY = "/etc/ssh/sshd_config.d/00-keys-only.conf"
KEYS_ONLY_TEXT = "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"


def main() -> int:
    try:
        mc = MissionControl.from_file()
        mc.wait_linked()
        with OpsSession.from_file("ground-station") as ops:
            station = yaml.safe_load(ops.read(CONFIG))
            old_spi = int(station["uplink"]["sa"]["spi"])
            exposed = str(station["uplink"]["sa"]["key_file"])
            spare_spi = int(ops.read(SPARE_SPI).strip())
            print(f"station uplink SA {old_spi} (key {exposed}); spare SA {spare_spi}")

            print(mc.completed("SA_START", spi=spare_spi))
            print(ops.edit(CONFIG, {"uplink.sa.spi": spare_spi, "uplink.sa.key_file": SPARE_KEY}))
            print(ops.sudo("labctl-service", "restart").strip())
            mc.wait_linked()
            print(mc.completed("SA_STOP", spi=old_spi))
            print(mc.completed("SA_EXPIRE", spi=old_spi))
            if exposed != SPARE_KEY:
                print(ops.sudo("labctl-service", "destroy-key", exposed).strip())

            print(ops.write(KEYS_ONLY, KEYS_ONLY_TEXT).strip() or f"{KEYS_ONLY} written")
            print(ops.sudo("labctl-service", "reload-ssh").strip())
    except (OpsError, MissionControlError, KeyError, ValueError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
