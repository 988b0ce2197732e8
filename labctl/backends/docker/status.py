"""An instance's hosts as the engine shows them: state, ports on 127.0.0.1, addresses, uptime."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from docker.models.containers import Container

from labctl.backends.base import FORWARDS_LABEL, HostStatus
from labctl.backends.docker.engine import LOOPBACK


def host_status(attrs: Mapping[str, Any], host: str, prefix: str, health: str) -> HostStatus:
    state = attrs.get("State", {})
    settings = attrs.get("NetworkSettings", {})
    return HostStatus(
        host=host,
        state=str(state.get("Status", "unknown")),
        health=health,
        ports=published_ports(settings.get("Ports") or {}),
        uptime_s=uptime(state) if state.get("Running") else None,
        addresses={
            name.removeprefix(prefix): str(net.get("IPAddress", ""))
            for name, net in (settings.get("Networks") or {}).items()
        },
    )


def forwarded(statuses: list[HostStatus], containers: list[Container]) -> list[HostStatus]:
    """Show the gateway's published ports on the hosts it relays to (22/tcp on attacker)."""
    offered: dict[str, dict[str, int]] = {}
    for container, status in zip(containers, statuses, strict=True):
        forwards = json.loads(container.labels.get(FORWARDS_LABEL) or "{}")
        for listen, (host, port) in forwards.items():
            if listen in status.ports:
                offered.setdefault(host, {})[port] = status.ports[listen]
    return [
        replace(s, ports={**s.ports, **offered[s.host]}) if s.host in offered else s
        for s in statuses
    ]


def published_ports(ports: Mapping[str, Any]) -> dict[str, int]:
    published = {}
    for container_port, bindings in ports.items():
        for binding in bindings or ():
            if binding.get("HostIp") in {LOOPBACK, ""} and binding.get("HostPort"):
                published[container_port] = int(binding["HostPort"])
    return published


def uptime(state: Mapping[str, Any]) -> float | None:
    started = str(state.get("StartedAt", ""))
    try:
        stamp = datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None
    return max(0.0, (datetime.now(UTC) - stamp).total_seconds())
