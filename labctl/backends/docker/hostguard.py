"""The host guard: the engine's machine is unreachable from every lab network.

Docker gives an internal network's bridge no IPv4 address (``inhibit_ipv4``), but the
kernel still gives the bridge an IPv6 link-local address, the host's INPUT policy is
usually ACCEPT, and the host answers ARP for any of its addresses on any interface. From
the attacker workstation, where students have root and NET_RAW, raw frames to the
bridge's link-local address completed a TCP session with a host service listening on
``[::]``, and a route to a host address through the lab interface delivered UDP to the
host (tests/security/test_host_reachability.py).

So labctl keeps an nftables table, ``labctl_guard``, on the engine's machine (families
``inet`` and ``arp``), with two sets of bridge interface names:

- ``lab``: the bridges of internal lab networks. Nothing from them reaches the host
  (input: IPv4, IPv6 and ARP dropped) and the host sends nothing onto them (output: its
  IPv6 router solicitations and neighbour discovery, ARP).
- ``access``: the bridge of an instance's access network, where only the gateway lives.
  The host's own connections to the gateway (the engine's port proxy) get their replies;
  anything the gateway would start towards the host is dropped.

``protect`` adds an instance's bridges to the sets (creating the table and its rules if
needed, the same way every time, in one atomic nft transaction) and then reads the table
back to check it; ``release`` removes them. The rules match set members only, so
concurrent labctl processes never undo each other's entries.

The guard runs ``nft`` in a short-lived container on the host's network namespace with
NET_ADMIN alone (every other capability dropped, read-only root, removed when it exits),
so it works wherever the engine runs (a local or remote engine, labctl run by a user of
the docker group): about 0.2 s per call. ``LABCTL_HOST_GUARD=off`` turns it off, for an
engine whose machine firewalls lab bridges some other way (docs/security.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final

import docker
import docker.errors
import requests

from labctl.backends.base import ROLE_LABEL
from labctl.backends.profiles import image_tag
from labctl.errors import BackendError

TABLE: Final = "labctl_guard"
LAB_SET: Final = "lab"
ACCESS_SET: Final = "access"
#: The image whose nft applies the guard (the ground station ships nftables).
GUARD_ROLE: Final = "ground-station"
#: The guard's one-shot containers: their role label, and the age (seconds) after which an
#: exited one is an orphan of a killed labctl.
GUARD_CONTAINER_ROLE: Final = "host-guard"
ORPHAN_AGE_S: Final = 300
ENV_SWITCH: Final = "LABCTL_HOST_GUARD"
#: Rules the guard's table must hold, per family (checked after every change).
EXPECTED_RULES: Final = {"inet": 4, "arp": 2}

_HOOK: Final = "type filter hook {hook} priority filter - 10; policy accept;"
_CHAINS: Final = f"""\
add table {{family}} labctl_guard
add set {{family}} labctl_guard lab {{{{ type ifname; }}}}
add chain {{family}} labctl_guard input {{{{ {_HOOK.format(hook="input")} }}}}
add chain {{family}} labctl_guard output {{{{ {_HOOK.format(hook="output")} }}}}
flush chain {{family}} labctl_guard input
flush chain {{family}} labctl_guard output
"""
_INET_RULES: Final = """\
add set inet labctl_guard access { type ifname; }
add rule inet labctl_guard input iifname @lab drop
add rule inet labctl_guard input iifname @access ct state established,related \
ct direction reply accept
add rule inet labctl_guard input iifname @access drop
add rule inet labctl_guard output oifname @lab drop
"""
_ARP_RULES: Final = """\
add rule arp labctl_guard input iifname @lab drop
add rule arp labctl_guard output oifname @lab drop
"""
_LIST: Final = "nft -j list table inet labctl_guard && nft -j list table arp labctl_guard"


def enabled() -> bool:
    """False only when ``LABCTL_HOST_GUARD`` says off (docs/security.md)."""
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in {"off", "0", "false", "no"}


def bridge_of(network_attrs: dict[str, Any]) -> str:
    """The host interface of a bridge network: its configured name, else ``br-<id12>``."""
    options = network_attrs.get("Options") or {}
    return str(options.get("com.docker.network.bridge.name") or "br-" + network_attrs["Id"][:12])


def protect_script(lab: Iterable[str], access: Iterable[str]) -> str:
    """One nft transaction: the table and its rules (idempotent), then the bridges."""
    lab, access = sorted(lab), sorted(access)
    lines = [_CHAINS.format(family="inet"), _INET_RULES, _CHAINS.format(family="arp"), _ARP_RULES]
    if lab:
        lines.append(f"add element inet labctl_guard lab {{ {_names(lab)} }}\n")
        lines.append(f"add element arp labctl_guard lab {{ {_names(lab)} }}\n")
    if access:
        lines.append(f"add element inet labctl_guard access {{ {_names(access)} }}\n")
    return "".join(lines)


def release_commands(lab: Iterable[str], access: Iterable[str]) -> list[str]:
    """One nft command per element to remove (a missing one must not undo the others).
    The names are checked as in ``protect_script``: they end up in a shell command."""
    lab, access = sorted(lab), sorted(access)
    _names([*lab, *access])
    commands = []
    for name in lab:
        for family in ("inet", "arp"):
            commands.append(f'delete element {family} labctl_guard lab {{ "{name}" }}')
    commands += [f'delete element inet labctl_guard access {{ "{n}" }}' for n in access]
    return commands


def _names(bridges: list[str]) -> str:
    for name in bridges:
        if not name or len(name) > 15 or not all(c.isalnum() or c in "-_." for c in name):
            raise ValueError(f"not an interface name: {name!r}")
    return ", ".join(f'"{name}"' for name in bridges)


@dataclass(frozen=True)
class GuardState:
    """What the table holds, read back from ``nft -j``."""

    rules: dict[str, int]
    members: dict[str, frozenset[str]]

    def protects(self, lab: Iterable[str], access: Iterable[str]) -> list[str]:
        """What is missing for these bridges to be guarded (empty: all is in place)."""
        missing = [
            f"{family} has {self.rules.get(family, 0)} of its {count} rules"
            for family, count in EXPECTED_RULES.items()
            if self.rules.get(family, 0) < count
        ]
        for family, set_name, names in (
            ("inet", LAB_SET, lab),
            ("arp", LAB_SET, lab),
            ("inet", ACCESS_SET, access),
        ):
            absent = set(names) - self.members.get(f"{family}/{set_name}", frozenset())
            missing += [f"{name} is not in {family} {set_name}" for name in sorted(absent)]
        return missing


def parse_listing(output: str) -> GuardState:
    """Read ``nft -j list table`` documents (one JSON document per line) into a state."""
    rules: dict[str, int] = {}
    members: dict[str, set[str]] = {}
    for line in output.splitlines():
        if not line.lstrip().startswith("{"):
            continue
        try:
            items = json.loads(line).get("nftables", [])
        except (json.JSONDecodeError, AttributeError):
            continue
        for item in items if isinstance(items, list) else []:
            _count(item, rules, members)
    return GuardState(rules, {key: frozenset(value) for key, value in members.items()})


def _count(item: Any, rules: dict[str, int], members: dict[str, set[str]]) -> None:
    if not isinstance(item, dict):
        return
    if isinstance(rule := item.get("rule"), dict) and rule.get("table") == TABLE:
        family = str(rule.get("family"))
        rules[family] = rules.get(family, 0) + 1
    if isinstance(found := item.get("set"), dict) and found.get("table") == TABLE:
        key = f"{found.get('family')}/{found.get('name')}"
        elements = found.get("elem") or []
        elements = [elements] if isinstance(elements, str) else elements
        members.setdefault(key, set()).update(str(e) for e in elements if isinstance(e, str))


class HostGuard:
    """Applies the guard through the engine (see the module's docstring)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def protect(self, lab: Iterable[str], access: Iterable[str]) -> None:
        """Guard these bridges, then read the table back; BackendError if it is not so."""
        self._remove_orphans()
        lab, access = sorted(lab), sorted(access)
        script = protect_script(lab, access)
        output = self._nft(f'printf "%s" "$RULES" | nft -f - && {_LIST}', {"RULES": script})
        missing = parse_listing(output).protects(lab, access)
        if missing:
            raise BackendError(
                "guard the host from the lab networks",
                "the nftables table labctl_guard is not as written: " + "; ".join(missing),
                hint="see docs/security.md (the host guard)",
            )

    def release(self, lab: Iterable[str], access: Iterable[str]) -> None:
        """Forget these bridges (each missing element is skipped, not an error)."""
        commands = release_commands(lab, access)
        if commands:
            loop = " ; ".join(f"nft '{command}' 2>/dev/null" for command in commands)
            self._nft(f"{loop} ; true", {})

    def _remove_orphans(self) -> None:
        """Guard containers left by a labctl killed while nft ran: the SDK's ``remove``
        happens in the client after the wait, so they stay, exited. Those older than
        ORPHAN_AGE_S are removed (a live run's container lives about 0.2 s)."""
        now = time.time()
        with suppress(docker.errors.DockerException, requests.RequestException):
            for container in self.client.containers.list(
                all=True, filters={"label": f"{ROLE_LABEL}={GUARD_CONTAINER_ROLE}"}, sparse=True
            ):
                created, state = container.attrs.get("Created"), container.attrs.get("State")
                if state == "exited" and isinstance(created, int) and now - created > ORPHAN_AGE_S:
                    with suppress(docker.errors.DockerException, requests.RequestException):
                        container.remove(force=True)

    def state(self) -> GuardState:
        return parse_listing(self._nft(f"{_LIST} ; true", {}))

    def _nft(self, shell: str, environment: dict[str, str]) -> str:
        operation = "guard the host from the lab networks"
        try:
            output = self.client.containers.run(
                image_tag(GUARD_ROLE),
                ["/bin/sh", "-c", shell],
                entrypoint=[],
                environment=environment,
                network_mode="host",
                cap_drop=["ALL"],
                cap_add=["NET_ADMIN"],
                read_only=True,
                user="0",
                mem_limit="64m",
                pids_limit=16,
                labels={"org.labctl.managed": "true", ROLE_LABEL: GUARD_CONTAINER_ROLE},
                remove=True,
                stdout=True,
                stderr=True,
            )
        except docker.errors.ImageNotFound as exc:
            raise BackendError(
                operation,
                f"its image {image_tag(GUARD_ROLE)} is missing",
                hint="labctl images build",
            ) from exc
        except docker.errors.ContainerError as exc:
            stderr = exc.stderr or b""
            text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
            detail = text.strip().splitlines()
            hint = (
                "the engine's machine needs nftables (nf_tables) in its kernel; see"
                f" docs/security.md, or {ENV_SWITCH}=off if you firewall lab bridges yourself"
            )
            if "Protocol not supported" in text:  # qemu-user has no NETLINK_NETFILTER
                hint = (
                    "if the images are of another architecture than the engine's, nft runs"
                    " under emulation, which cannot reach nf_tables (docs/arm64.md): use"
                    f" images of the engine's own architecture, or {ENV_SWITCH}=off; "
                ) + hint
            raise BackendError(
                operation, f"nft failed: {detail[-1] if detail else exc}", hint=hint
            ) from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise BackendError(operation, " ".join(str(exc).split())) from exc
        return output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
