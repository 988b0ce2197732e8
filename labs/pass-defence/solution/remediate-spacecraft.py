"""Reference remediation for pass-defence, spacecraft side: run on the spacecraft as its
`labctl` user (the owner of its configuration); the spacecraft then restarts.

Turns anti-replay on for the uplink security association, persists its sequence number
across restarts and stops accepting COP-1 control commands (Unlock, Set V(R)) without
SDLS protection, editing /etc/labctl/spacecraft.yaml in place (comments kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/spacecraft.yaml")
SETTINGS = {
    "sdls.associations.uplink.anti_replay": True,
    "sdls.associations.uplink.persist_sequence": True,
    "uplink.clear_control_commands": False,
}


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
