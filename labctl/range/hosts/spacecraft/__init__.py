"""The spacecraft host: flight software emulator (FARM-1, SDLS, PUS services, state model).

Run it with ``python -m labctl.range.hosts.spacecraft [--config /etc/labctl/spacecraft.yaml]``,
or in-process::

    config = load_config(path)
    spacecraft = Spacecraft(config)
    await spacecraft.start()
    ...
    spacecraft.truth()  # the ground truth document
    await spacecraft.stop()

The contract with the other hosts is docs/ground-segment.md.
"""

from labctl.range.hosts.spacecraft.config import SpacecraftConfig, load_config, parse_config
from labctl.range.hosts.spacecraft.core import FlightSoftware
from labctl.range.hosts.spacecraft.service import Spacecraft

__all__ = ["FlightSoftware", "Spacecraft", "SpacecraftConfig", "load_config", "parse_config"]
