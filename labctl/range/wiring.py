"""How the range is wired: host names, ports and in-image paths, in one place.

The programs in the containers (:mod:`labctl.range.hosts`, the adversary, the vantage
programs), the host-side tool (instance plans, scenario injects, the graders' checks and
probe) and the labs' reference solutions agree on these values by importing them from
here, never by writing the literal again. A host's configuration file may still move a
port (the defaults below are what the images ship and the labs assume); a check that
must follow such a move reads the configuration, as the graders do.

Everything here is a constant: importing this module starts nothing.
"""

from __future__ import annotations

from typing import Final

# Host names: the containers' names on the instance's networks (DNS names there).
SPACECRAFT: Final = "spacecraft"
RF_LINK: Final = "rf-link"
GROUND_STATION: Final = "ground-station"
MISSION_CONTROL: Final = "mission-control"
ATTACKER: Final = "attacker"
#: The remote log collector, in the labs that add it (``role: log-server``).
LOG_SERVER: Final = "log-server"
#: labctl's own hosts: the access gateway (SSH and web relay on the access network), the
#: scripted adversary and the grader's vantage. A lab may not name a host like these.
GATEWAY: Final = "labctl-gateway"
ADVERSARY: Final = "labctl-adversary"
GRADER: Final = "labctl-grader"

# The radio link: plain UDP on the rf network. A transmitter sends to the rf-link's "in"
# port; the rf-link delivers to the receiver and broadcasts every frame on the "air" port
# of the rf network, where anyone listening hears it (docs/ground-segment.md).
UPLINK_IN: Final = 5100
UPLINK_AIR: Final = 5101
DOWNLINK_IN: Final = 5102
DOWNLINK_AIR: Final = 5103

# Services.
SSH_PORT: Final = 22
MISSION_CONTROL_PORT: Final = 8080
MISSION_CONTROL_URL: Final = f"http://{MISSION_CONTROL}:{MISSION_CONTROL_PORT}"
#: The log collector's TCP port: JSON lines in, appended to its store, never changed.
LOG_SERVER_PORT: Final = 5140

# The grader's vantage programs (labctl.range.vantage), as a command line.
VANTAGE_PACKAGE: Final = "labctl.range.vantage"


def vantage_program(name: str, *args: str) -> tuple[str, ...]:
    """``python3 -m labctl.range.vantage.<name> ARGS``: how a check runs a vantage program."""
    return ("python3", "-m", f"{VANTAGE_PACKAGE}.{name}", *args)


# In-image paths.
CONFIG_DIR: Final = "/etc/labctl"
KEY_DIR: Final = "/etc/labctl/keys"
SPACECRAFT_CONFIG: Final = "/etc/labctl/spacecraft.yaml"
RF_LINK_CONFIG: Final = "/etc/labctl/rf-link.yaml"
LOG_SERVER_CONFIG: Final = "/etc/labctl/log-server.yaml"
#: Where the log collector appends what it receives (one JSON object per line).
LOG_SERVER_STORE: Final = "/var/log/labctl/collected.jsonl"
GROUND_STATION_CONFIG: Final = "/etc/labctl/ground-station.yaml"
MISSION_CONTROL_CONFIG: Final = "/etc/labctl/mission-control.yaml"
#: The spacecraft's ground truth (what it executed), which graders read and students
#: cannot write.
TRUTH_FILE: Final = "/run/labctl/truth.json"
RF_LINK_STATUS: Final = "/run/labctl/rf-link.json"
#: The ground station's status document (uplink FOP-1 state and alert, counters).
GROUND_STATION_STATUS: Final = "/run/labctl/ground-station-status.json"
RF_LINK_PCAP: Final = "/var/log/labctl/rf-link.pcap"
#: Read-only volume that seeds the attacker's home at each start.
HOME_SEED: Final = "/usr/local/share/labctl/home"
