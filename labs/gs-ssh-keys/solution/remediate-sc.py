"""Reference remediation for gs-ssh-keys on the spacecraft: run as its `labctl` user (the
owner of its configuration), then restart the spacecraft.

The spare uplink SA, keyed before launch, becomes operational; the compromised SA is
unkeyed and its key erased from the key store, so a frame authenticated with the stolen
key is refused (SA not operational) even if someone still holds it. On a real
spacecraft this is an SDLS key-management procedure (Start SA / Stop SA, key erasure);
the lab edits the configuration and restarts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/spacecraft.yaml")
OLD_KEY = Path("/etc/labctl/keys/uplink.key")
SETTINGS = {
    "sdls.associations.uplink.state": "unkeyed",
    "sdls.associations.uplink.key_file": "",
    "sdls.associations.spare.state": "operational",
}


def main() -> int:
    text = CONFIG.read_text()
    for key, value in SETTINGS.items():
        text, changed = set_dotted(text, key, value)
        print(f"{key}: {value!r} ({'changed' if changed else 'already set'})")
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    if OLD_KEY.exists():
        size = OLD_KEY.stat().st_size
        with OLD_KEY.open("r+b") as handle:
            handle.write(os.urandom(size))
        try:
            OLD_KEY.unlink()
        except PermissionError:
            print(f"{OLD_KEY} overwritten (the key store does not let labctl remove it)")
        else:
            print(f"{OLD_KEY} erased")
    return 0


if __name__ == "__main__":
    sys.exit(main())
