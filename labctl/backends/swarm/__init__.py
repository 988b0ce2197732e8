"""The ``swarm`` backend: lab instances on a Docker Swarm, through the same SDK.

Each instance is placed on one node by load; its hosts are services (one replica each)
pinned there, confined as the docker backend's containers are as far as the Swarm API
allows; its networks are internal, attachable overlays on subnets of labctl's pool; the
files labctl writes into hosts are kept as swarm configs. Work on a running host is the
docker backend's own, on that node's engine. Split by resource: :mod:`.nodes`
(engines, placement), :mod:`.networks`, :mod:`.services`, :mod:`.gate` (the start gate),
:mod:`.kept` (kept files), :mod:`.images`; :mod:`.backend` puts them together.
See docs/swarm.md.
"""

from labctl.backends.swarm.backend import SwarmBackend

__all__ = ["SwarmBackend"]
