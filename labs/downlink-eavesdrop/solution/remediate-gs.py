"""Reference remediation for downlink-eavesdrop, ground-station side: run as the ground
station's `labctl` user (the owner of its configuration and keys), then restart it.

The ground station accepts only telemetry protected by the downlink security association
(SPI 2, authenticated encryption with the key in /etc/labctl/keys/downlink.key, the same
key the spacecraft holds) and drops clear or forged frames. Edits
/etc/labctl/ground-station.yaml in place.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/ground-station.yaml")
KEY = Path("/etc/labctl/keys/downlink.key")
DOWNLINK_SA = {
    "spi": 2,
    "service": "authenticated_encryption",
    "key_file": str(KEY),
}


def main() -> int:
    if not KEY.is_file():
        print(f"{KEY} is missing: provision the downlink key first")
        return 2
    if stat.S_IMODE(KEY.stat().st_mode) & 0o077:
        KEY.chmod(0o600)
        print(f"{KEY}: mode set to 0600")
    text, changed = set_dotted(CONFIG.read_text(), "downlink.sa", DOWNLINK_SA)
    print(
        f"downlink.sa: SPI 2 authenticated encryption ({'changed' if changed else 'already set'})"
    )
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
