"""Subnets for instance networks, chosen by labctl rather than by the engine.

Docker's default address pools hold about 30 networks (/16s from 172.17–31 and /20s of
192.168), and every instance has six: a seventh student would get "could not find an
available, non-overlapping IPv4 address pool". An instance network holds a handful of
hosts, so labctl gives each one a /27 of its own pool (``LABCTL_SUBNET_POOL``, default
10.213.0.0/16: 2,048 networks, over 300 instances), picking the first block that no
network on the engine uses. Two labctl processes may pick the same block at once; the
engine refuses the second, which then picks again (see ``DockerBackend``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import Final

from labctl.errors import BackendError

POOL_ENV: Final = "LABCTL_SUBNET_POOL"
DEFAULT_POOL: Final = "10.213.0.0/16"
PREFIX: Final = 27

Subnet = ipaddress.IPv4Network


def pool() -> Subnet:
    """The configured pool; a one-line error naming the variable when it is not a network."""
    text = os.environ.get(POOL_ENV) or DEFAULT_POOL
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise BackendError(POOL_ENV, f"{text!r} is not an IPv4 network: {exc}") from None
    if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen > PREFIX:
        raise BackendError(POOL_ENV, f"{text!r}: give an IPv4 network of /{PREFIX} or larger")
    return network


def parse_used(texts: Iterable[str]) -> list[Subnet]:
    """The IPv4 subnets among ``texts`` (what the engine reports); others are skipped."""
    used = []
    for text in texts:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if isinstance(network, ipaddress.IPv4Network):
            used.append(network)
    return used


def free_subnet(used: Iterable[Subnet], within: Subnet, skip: int = 0) -> Subnet:
    """The first /27 of ``within`` that overlaps nothing in ``used`` (after ``skip`` free
    ones, for a retry after a lost race)."""
    taken = list(used)
    for candidate in within.subnets(new_prefix=PREFIX):
        if any(candidate.overlaps(other) for other in taken):
            continue
        if skip == 0:
            return candidate
        skip -= 1
    raise BackendError(
        "allocate subnet",
        f"no free /{PREFIX} left in {within}; take instances down or set {POOL_ENV} to a"
        " larger pool",
    )
