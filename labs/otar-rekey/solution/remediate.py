"""Reference remediation for otar-rekey, run on the workstation as the student, through the
student's own access only: telecommands from mission control (flight director) and the
ground station's operations-engineer account.

1. Spacecraft, through the operational (compromised) SA: ``KEY_OTAR`` a fresh AES-128 key
   sealed under the master key (``~/key-management.txt``), ``KEY_ACTIVATE`` it.
2. The spare SA runs with the test key: ``SA_STOP`` it, ``SA_REKEY`` it with the new key,
   ``SA_START`` it.
3. Station (``ssh ops@ground-station``): the new key into its key store (0600), the uplink
   SA pointed at the spare SPI and that key, ``sudo labctl-service restart``; its COP-1
   recovery brings FARM-1 back in step.
4. Spacecraft, now through the new key: ``SA_STOP`` and ``SA_EXPIRE`` the compromised SA.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from labctl.range.missionclient import MissionControl, MissionControlError, handout_fields
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/ground-station.yaml"
NEW_KEY_FILE = "/etc/labctl/keys/rotated.key"
NEW_KEY_ID = 7


def main() -> int:
    try:
        fields = handout_fields(Path.home() / "key-management.txt")
        master_id, master = int(fields["master_key_id"]), bytes.fromhex(fields["master_key"])
        mc = MissionControl.from_file()
        mc.wait_linked()
        with OpsSession.from_file("ground-station") as ops:
            station = yaml.safe_load(ops.read(CONFIG))
            old_spi = int(station["uplink"]["sa"]["spi"])
            spare_spi = int(fields["spare_spi"])
            print(f"station uplink SA {old_spi}; spare SA {spare_spi}")

            key = os.urandom(16)
            print(mc.deliver_key(master, master_id, NEW_KEY_ID, key))
            print(mc.completed("SA_STOP", spi=spare_spi))
            print(mc.completed("SA_REKEY", spi=spare_spi, key_id=NEW_KEY_ID))
            print(mc.completed("SA_START", spi=spare_spi))

            print(ops.write(NEW_KEY_FILE, key.hex() + "\n").strip() or f"{NEW_KEY_FILE} written")
            print(
                ops.edit(CONFIG, {"uplink.sa.spi": spare_spi, "uplink.sa.key_file": NEW_KEY_FILE})
            )
            print(ops.sudo("labctl-service", "restart").strip())
            mc.wait_linked()
            print(mc.completed("SA_STOP", spi=old_spi))
            print(mc.completed("SA_EXPIRE", spi=old_spi))
    except (OpsError, MissionControlError, KeyError, ValueError, OSError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
