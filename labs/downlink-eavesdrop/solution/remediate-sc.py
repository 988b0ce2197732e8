"""Reference remediation for downlink-eavesdrop, spacecraft side: run as the spacecraft's
`labctl` user (the owner of its configuration), then restart the spacecraft.

Telemetry goes out under the downlink security association that is already provisioned
on board (`sdls.associations.downlink`: authenticated encryption, AES-GCM, with the key
in /etc/labctl/keys/downlink.key) instead of in the clear. Edits
/etc/labctl/spacecraft.yaml in place, comments kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/spacecraft.yaml")
KEY = Path("/etc/labctl/keys/downlink.key")
SETTINGS = {
    "sdls.associations.downlink.service": "authenticated_encryption",
    "sdls.associations.downlink.state": "operational",
    "sdls.downlink_sa": "downlink",
}


def main() -> int:
    if not KEY.is_file():
        print(f"{KEY} is missing: provision the downlink key first")
        return 2
    text = CONFIG.read_text()
    for key, value in SETTINGS.items():
        text, changed = set_dotted(text, key, value)
        print(f"{key}: {value} ({'changed' if changed else 'already set'})")
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
