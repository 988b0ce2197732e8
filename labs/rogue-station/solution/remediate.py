"""Reference remediation for rogue-station: run on the spacecraft as its `labctl` user (the
owner of its configuration), then restart the spacecraft.

Retires the plaintext uplink security association (state `unkeyed`: no SA in that state
carries frames) and keeps SDLS required on the uplink, editing
/etc/labctl/spacecraft.yaml in place. The authenticated-encryption SA the ground station
uses is left alone, so operators keep commanding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from labctl.range.yamledit import set_dotted

CONFIG = Path("/etc/labctl/spacecraft.yaml")


def main() -> int:
    text = CONFIG.read_text()
    associations = (yaml.safe_load(text).get("sdls") or {}).get("associations") or {}
    settings: dict[str, object] = {"uplink.sdls": True}
    for name, sa in associations.items():
        if sa.get("direction", "uplink") == "uplink" and sa.get("service") == "plaintext":
            settings[f"sdls.associations.{name}.state"] = "unkeyed"
    for key, value in settings.items():
        text, changed = set_dotted(text, key, value)
        print(f"{key}: {value} ({'changed' if changed else 'already set'})")
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
