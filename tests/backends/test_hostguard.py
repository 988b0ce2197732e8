"""The host guard: every lab bridge in the nftables sets while its instance lives
(labctl.backends.docker.hostguard); the real attack is tests/security/test_host_reachability.py."""

from __future__ import annotations

import json
from typing import Any

import docker.errors
import pytest
from backend_fakes import FakeClient, small_plan

from labctl.backends.docker import DockerBackend, hostguard
from labctl.errors import BackendError


def _bridges(fake_client: FakeClient, *, internal: bool) -> set[str]:
    return {
        hostguard.bridge_of(n.attrs) for n in fake_client.networks.objects if n.internal == internal
    }


def test_up_guards_every_bridge_before_any_host_starts(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    guarded_at_start: list[set[str]] = []
    fake_client.on_start = lambda _: guarded_at_start.append(
        set(fake_client.nft.members.get("inet/lab", set()))
    )
    backend.up(small_plan())
    lab, access = _bridges(fake_client, internal=True), _bridges(fake_client, internal=False)
    assert len(lab) == 2
    assert len(access) == 1
    assert fake_client.nft.members["inet/lab"] == lab
    assert fake_client.nft.members["arp/lab"] == lab
    assert fake_client.nft.members["inet/access"] == access
    assert guarded_at_start
    assert all(seen == lab for seen in guarded_at_start)


def test_down_releases_only_its_own_bridges(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    backend.up(small_plan())
    first = _bridges(fake_client, internal=True)
    other = small_plan()
    other = type(other)(**{**other.__dict__, "instance_id": "lab-bob"})
    backend.up(other)
    backend.down("lab-ana")
    assert fake_client.nft.members["inet/lab"] == _bridges(fake_client, internal=True)
    assert not fake_client.nft.members["inet/lab"] & first
    backend.down("lab-bob")
    assert fake_client.nft.members["inet/lab"] == set()
    assert fake_client.nft.members["inet/access"] == set()


def test_a_failed_up_releases_what_it_guarded(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    fake_client.fail_create = "attacker"
    with pytest.raises(BackendError):
        backend.up(small_plan())
    assert fake_client.nft.members.get("inet/lab", set()) == set()


def test_a_guard_that_does_not_read_back_fails_up_and_rolls_back(
    backend: DockerBackend, fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_client.nft, "_listing", lambda: "")
    with pytest.raises(BackendError, match="labctl_guard is not as written"):
        backend.up(small_plan())
    assert fake_client.everything() == []


def test_the_guard_can_be_switched_off(
    backend: DockerBackend, fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hostguard.ENV_SWITCH, "off")
    backend.up(small_plan())
    backend.down("lab-ana")
    assert fake_client.nft.calls == 0


def test_the_script_creates_the_rules_then_adds_the_bridges() -> None:
    script = hostguard.protect_script(["br-b", "br-a"], ["br-c"])
    lines = script.splitlines()
    assert lines.index("flush chain inet labctl_guard input") < lines.index(
        "add rule inet labctl_guard input iifname @lab drop"
    )
    assert 'add element inet labctl_guard lab { "br-a", "br-b" }' in lines
    assert 'add element arp labctl_guard lab { "br-a", "br-b" }' in lines
    assert 'add element inet labctl_guard access { "br-c" }' in lines
    assert "add rule arp labctl_guard input iifname @lab drop" in lines


@pytest.mark.parametrize("name", ['br-x" }; flush ruleset; {"', "", "a" * 16, "br x"])
def test_a_bridge_name_that_is_not_an_interface_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not an interface name"):
        hostguard.protect_script([name], [])
    with pytest.raises(ValueError, match="not an interface name"):
        hostguard.release_commands([], [name])


def test_the_listing_says_what_is_missing() -> None:
    listing = json.dumps(
        {
            "nftables": [
                {"metainfo": {"version": "1.0.6"}},
                {"rule": {"family": "inet", "table": "labctl_guard"}},
                {"set": {"family": "inet", "table": "labctl_guard", "name": "lab", "elem": "br-a"}},
                {"rule": {"family": "inet", "table": "other"}},
            ]
        }
    )
    state = hostguard.parse_listing("garbage\n" + listing + "\n{not json")
    missing = state.protects(["br-a", "br-b"], [])
    assert "inet has 1 of its 4 rules" in missing
    assert "arp has 0 of its 2 rules" in missing
    assert "br-b is not in inet lab" in missing
    assert "br-a is not in inet lab" not in missing
    assert "br-a is not in arp lab" in missing


class _FailingNft:
    def __init__(self, stderr: bytes) -> None:
        self.stderr = stderr

    def run(self, image: str, command: list[str], **options: object) -> bytes:
        raise docker.errors.ContainerError(None, 1, command, image, self.stderr)


class _ClientWithFailingNft:
    def __init__(self, stderr: bytes) -> None:
        self.containers = _FailingNft(stderr)


@pytest.mark.parametrize(
    ("stderr", "named"),
    [
        (b"Error: Could not process rule: No such file or directory\n", "nf_tables"),
        (b"mnl.c:60: Unable to initialize Netlink socket: Protocol not supported\n", "arm64.md"),
    ],
)
def test_a_failing_nft_says_why_and_what_to_do(stderr: bytes, named: str) -> None:
    client: Any = _ClientWithFailingNft(stderr)
    with pytest.raises(BackendError) as failed:
        hostguard.HostGuard(client).state()
    assert stderr.decode().strip() in str(failed.value)
    assert named in str(failed.value)
    assert "LABCTL_HOST_GUARD=off" in str(failed.value)
