"""The ``docker`` backend: one lab instance on one Docker engine, through the SDK.

Per instance: the plan's internal networks ``labctl-<id>-<net>`` (the lab's rf, ground,
corp and the gateway's links), all with ``inhibit_ipv4`` so the bridge holds no host
address: the host is unreachable from them (docs/ci.md). The access network
``labctl-<id>-access`` is not internal, because the engine publishes ports only from a
network with a gateway; it has inter-container traffic and masquerading off and binds
published ports to 127.0.0.1. The plan puts only its gateway (a TCP relay) there, never
a host students control: that network's bridge address is the host's, and the engine
forwards anything leaving it (see docs/backends.md).

``up`` creates networks, volumes and containers, writes the plan's files, calls its
``before_start`` hook (the archive API works on created containers, named volumes
included), starts the containers in parallel and waits until every host is ready; on any
failure, or Ctrl-C, it removes what it created.

Readiness is the host's own test (the image's health check, or the plan's), kept in the
``org.labctl.ready`` label and run by labctl when it needs an answer (``up``, ``restart``,
``status``), answered from /proc when the engine runs on this machine
(:mod:`labctl.backends.docker.readiness`); the engine runs no periodic health checks.
Everything carries ``org.labctl.instance=<id>``, which is what ``down`` removes by.

The package is split by resource, as docker-py is: :mod:`.engine` (names, labels,
errors), :mod:`.networks`, :mod:`.containers`, :mod:`.health`, :mod:`.files`,
:mod:`.status`, :mod:`.images` (with :mod:`.baseimage` and :mod:`.wheelhouse`),
:mod:`.vantage`, :mod:`.recover`, :mod:`.hostguard`; :mod:`.backend` puts them together.
"""

from labctl.backends.docker.backend import DockerBackend
from labctl.backends.docker.engine import engine_call, resource_name, volume_name

__all__ = ["DockerBackend", "engine_call", "resource_name", "volume_name"]
