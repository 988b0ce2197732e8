"""``up`` on the fake SDK when a host does not come up: a host that refuses its
configuration fails at once with the reason from its log, and ``keep_on_failure`` keeps
what was made for inspection."""

from __future__ import annotations

import time

import pytest
from backend_fakes import FakeClient, FakeContainer, small_plan

from labctl.backends.docker import DockerBackend, health
from labctl.errors import BackendError

REFUSAL = (
    b"/etc/labctl/spacecraft.yaml: sdls.associations.uplink.anti_replay: expected bool,"
    b" got 'nope'\n"
    b"spacecraft: waiting for /etc/labctl/spacecraft.yaml to be fixed; it starts again by"
    b" itself\n"
)


def _refusing(container: FakeContainer) -> None:
    if "spacecraft" in container.name:
        container.health_exit = 1
        container.log = b"spacecraft: starting\n" + REFUSAL


def test_a_host_that_refuses_its_configuration_fails_at_once_naming_the_key(
    fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "LOG_LOOK_S", 0.05)
    backend = DockerBackend(fake_client, health_timeout_s=60, poll_s=0.01)  # type: ignore[arg-type]
    fake_client.on_start = _refusing
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        backend.up(small_plan())
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith("start host spacecraft failed: its program refuses its configuration")
    assert "sdls.associations.uplink.anti_replay: expected bool, got 'nope'" in message
    assert "the instance was removed again" in message
    assert fake_client.everything() == []


def test_keep_on_failure_leaves_the_instance_and_says_how_to_look_at_it(
    fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "LOG_LOOK_S", 0.05)
    backend = DockerBackend(fake_client, health_timeout_s=60, poll_s=0.01)  # type: ignore[arg-type]
    fake_client.on_start = _refusing
    with pytest.raises(BackendError, match=r"the instance was kept"):
        backend.up(small_plan(), keep_on_failure=True)
    assert fake_client.everything() != []
    backend.down("lab-ana")
    assert fake_client.everything() == []


def test_a_host_never_healthy_is_named_with_its_last_log_line(
    backend: DockerBackend, fake_client: FakeClient
) -> None:
    def start(container: FakeContainer) -> None:
        if "spacecraft" in container.name:
            container.health_exit = 1
            container.log = b"spacecraft: listening nowhere\n"

    fake_client.on_start = start
    with pytest.raises(
        BackendError, match=r"not healthy in time: spacecraft: spacecraft: listening"
    ):
        backend.up(small_plan())
