"""The rf-link host: the radio channel between the ground stations and the spacecraft.

Run it with ``python -m labctl.range.hosts.rflink [--config /etc/labctl/rf-link.yaml]``, or
in-process with :class:`RfLink` (``await link.start()`` ... ``await link.stop()``).
Ports and the meaning of "the air" are in docs/ground-segment.md.
"""

from labctl.range.hosts.rflink.channel import ChannelModel, ChannelSettings
from labctl.range.hosts.rflink.config import RfLinkConfig, load_config, parse_config
from labctl.range.hosts.rflink.service import RfLink

__all__ = [
    "ChannelModel",
    "ChannelSettings",
    "RfLink",
    "RfLinkConfig",
    "load_config",
    "parse_config",
]
