"""The core API both edges (the CLI, the portal) call: typed results, progress events.

:class:`~labctl.core.api.Core` is the entry point; see its module for an example.
"""

from labctl.core.api import Core
from labctl.core.events import Event, Kind, OnEvent
from labctl.core.settings import Settings

__all__ = ["Core", "Event", "Kind", "OnEvent", "Settings"]
