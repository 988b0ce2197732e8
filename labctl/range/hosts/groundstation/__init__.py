"""The ground-station daemon: packet service (TCP), uplink framing (FOP-1, SDLS), downlink
verification and telemetry forwarding, status reports.

``python -m labctl.range.hosts.groundstation [--config /etc/labctl/ground-station.yaml]`` in its
container; :class:`GroundStation` in-process. Conventions on the packet service
(directives, status layout) are in :mod:`labctl.range.hosts.groundstation.conventions`.
"""

from labctl.range.hosts.groundstation.daemon import GroundStation
from labctl.range.hosts.groundstation.settings import (
    GroundStationSettings,
    load_settings,
    settings_from_mapping,
)

__all__ = ["GroundStation", "GroundStationSettings", "load_settings", "settings_from_mapping"]
