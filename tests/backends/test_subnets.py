"""Subnets from labctl's own pool: first free /27, skipping what the engine uses."""

from __future__ import annotations

import ipaddress

import pytest

from labctl.backends.docker import subnets
from labctl.errors import BackendError

POOL = ipaddress.IPv4Network("10.213.0.0/16")


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_the_first_free_block_is_taken() -> None:
    assert subnets.free_subnet([], POOL) == net("10.213.0.0/27")
    used = [net("10.213.0.0/27"), net("10.213.0.32/27")]
    assert subnets.free_subnet(used, POOL) == net("10.213.0.64/27")


def test_a_wide_foreign_network_blocks_every_block_inside_it() -> None:
    assert subnets.free_subnet([net("10.213.0.0/24")], POOL) == net("10.213.1.0/27")


def test_skip_moves_past_a_lost_race() -> None:
    assert subnets.free_subnet([], POOL, skip=2) == net("10.213.0.64/27")


def test_an_exhausted_pool_is_one_clear_error() -> None:
    small = net("10.213.0.0/26")
    with pytest.raises(BackendError, match=r"no free /27 left in 10\.213\.0\.0/26"):
        subnets.free_subnet([net("10.213.0.0/26")], small)


def test_the_engine_report_is_filtered_to_ipv4_networks() -> None:
    assert subnets.parse_used(["172.17.0.0/16", "", "fd00::/64", "bogus"]) == [net("172.17.0.0/16")]


@pytest.mark.parametrize("bad", ["10.213.0.1/16", "nonsense", "10.0.0.0/28", "fd00::/48"])
def test_a_bad_pool_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(subnets.POOL_ENV, bad)
    with pytest.raises(BackendError, match=subnets.POOL_ENV):
        subnets.pool()


def test_the_default_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(subnets.POOL_ENV, raising=False)
    assert subnets.pool() == POOL
