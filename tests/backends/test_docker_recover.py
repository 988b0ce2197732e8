"""The docker backend's ``recover`` on the fake SDK: who is ended, from where, how
confined the sidecar is, and when the host counts as ready again."""

from __future__ import annotations

import io
import tarfile

import pytest
from backend_fakes import FakeClient, FakeContainer, small_plan

from labctl.backends.base import HOST_LABEL, INSTANCE_LABEL
from labctl.backends.docker import DockerBackend
from labctl.backends.docker import recover as docker_recover
from labctl.backends.docker.recover import login_users
from labctl.errors import BackendError

PASSWD = (
    b"root:x:0:0:root:/root:/bin/bash\n"
    b"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    b"sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
    b"student:x:1000:1000::/home/student:/bin/bash\n"
    b"operator:x:1001:1001::/home/operator:/bin/bash\n"
    b"labctl:x:10001:10001::/var/lib/labctl:/usr/sbin/nologin\n"
    b"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    b"broken line\n"
    b"odd:x:notanumber:0::/:/bin/sh\n"
)


def test_login_users_are_people_not_root_system_accounts_or_the_service() -> None:
    assert login_users(PASSWD) == {"student": 1000, "operator": 1001}
    assert login_users(b"") == {}


def _tar(path: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(path.rsplit("/", 1)[-1])
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def attacker(backend: DockerBackend, fake_client: FakeClient) -> FakeContainer:
    backend.up(small_plan())
    container: FakeContainer = fake_client.containers.get("labctl-lab-ana-attacker")
    container.archives.append(("/etc", _tar("/etc/passwd", PASSWD)))
    container.options["pids_limit"] = 512
    return container


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_recover, "SETTLE_S", 0.3)
    monkeypatch.setattr(docker_recover.time, "sleep", lambda _: None)


def _sidecars(fake_client: FakeClient) -> list[FakeContainer]:
    return [c for c in fake_client.created if "-recover-" in c.name]


@pytest.fixture
def recorded(fake_client: FakeClient, attacker: FakeContainer) -> FakeClient:
    """Each sidecar, once started, ends its user's processes: the count drops to 3."""

    def on_start(container: FakeContainer) -> None:
        if "-recover-" in container.name:
            attacker.pids = [3]

    fake_client.on_start = on_start
    return fake_client


def test_each_login_user_is_ended_from_a_confined_sidecar_in_the_hosts_pid_namespace(
    backend: DockerBackend, recorded: FakeClient, attacker: FakeContainer
) -> None:
    attacker.pids = [512, 512]
    recovery = backend.recover("lab-ana", "attacker")
    assert recovery.ready, recovery
    assert recovery.users == ("student", "operator")
    assert (recovery.pids_before, recovery.pids_after, recovery.pids_limit) == (512, 3, 512)
    sidecars = _sidecars(recorded)
    assert [s.options["user"] for s in sidecars] == ["1000:1000", "1001:1001"]
    for sidecar in sidecars:
        options = sidecar.options
        assert options["pid_mode"] == f"container:{attacker.id}"
        assert options["command"][:2] == ["python3", "-c"]
        assert "os.kill(-1, signal.SIGKILL)" in options["command"][2]
        assert options["network_disabled"] is True
        assert options["cap_drop"] == ["ALL"]
        assert options["read_only"] is True
        assert options["security_opt"] == ["no-new-privileges:true"]
        assert sidecar.labels[INSTANCE_LABEL] == "lab-ana"  # `down` finds a leftover
        assert HOST_LABEL not in sidecar.labels  # never taken for a host of the instance
    assert ("container", sidecars[0].name) in recorded.removed
    assert not [c for c in recorded.containers.objects if "-recover-" in c.name]
    assert attacker.status == "running"  # recovered in place, never restarted


def test_a_host_still_at_its_limit_is_not_ready_and_says_why(
    backend: DockerBackend, recorded: FakeClient, attacker: FakeContainer
) -> None:
    recorded.on_start = lambda container: None  # the sidecar ends nothing (a root bomb)
    attacker.pids = [512]
    recovery = backend.recover("lab-ana", "attacker")
    assert not recovery.ready
    assert recovery.detail == "512 of 512 processes still in use"
    assert recovery.tmpfs == ()


def test_a_count_that_jumps_back_to_the_limit_is_not_settled(
    backend: DockerBackend, recorded: FakeClient, attacker: FakeContainer
) -> None:
    recorded.on_start = lambda container: None
    attacker.pids = [512, 300, 512, 250, 512]  # a bomb run as root, oscillating
    recovery = backend.recover("lab-ana", "attacker")
    assert not recovery.ready


def test_a_stopped_host_is_not_touched(
    backend: DockerBackend, recorded: FakeClient, attacker: FakeContainer
) -> None:
    attacker.status = "exited"
    recovery = backend.recover("lab-ana", "attacker")
    assert not recovery.ready
    assert recovery.detail == "it is not running (exited)"
    assert _sidecars(recorded) == []  # type: ignore[arg-type]


def test_a_failing_sidecar_is_a_backend_error_and_is_removed(
    backend: DockerBackend, recorded: FakeClient, attacker: FakeContainer
) -> None:
    def fail(container: FakeContainer) -> None:
        container.exit_code = 1

    recorded.on_start = fail
    with pytest.raises(BackendError, match=r"end the processes of uid 1000 .* exit status 1"):
        backend.recover("lab-ana", "attacker")
    assert not [c for c in recorded.containers.objects if "-recover-" in c.name]
