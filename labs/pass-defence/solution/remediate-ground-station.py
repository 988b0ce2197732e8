"""Reference remediation for pass-defence, ground-station side: run on the ground station
as its `labctl` user (the owner of its configuration); the ground station then restarts.

Protects COP-1 control commands (BC frames) with the uplink security association, so the
spacecraft, which no longer accepts them in the clear, still takes the station's Unlock
and Set V(R). Edits /etc/labctl/ground-station.yaml in place (comments kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/ground-station.yaml")
SETTINGS = {"uplink.sa.protect_control": True}


def main() -> int:
    text = CONFIG.read_text()
    for key, value in SETTINGS.items():
        text, changed = set_dotted(text, key, value)
        print(f"{key}: {value} ({'changed' if changed else 'already set'})")
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
