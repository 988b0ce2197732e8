"""The ground-station daemon: packet service (TCP), uplink framing (FOP-1, SDLS), downlink
verification and telemetry forwarding, status reports.

``python -m labctl.hosts.groundstation [--config /etc/labctl/ground-station.yaml]`` in its
container; :class:`GroundStation` in-process. Conventions on the packet service
(directives, status layout) are in :mod:`labctl.hosts.groundstation.conventions`.
"""

from labctl.hosts.groundstation.daemon import GroundStation
from labctl.hosts.groundstation.settings import (
    GroundStationSettings,
    load_settings,
    settings_from_mapping,
)

__all__ = ["GroundStation", "GroundStationSettings", "load_settings", "settings_from_mapping"]
