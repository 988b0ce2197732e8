"""One student cannot take the range's resources from the others (docs/security.md):
from the student's shell on the attacker (the student user, as students run things),

- a fork bomb stops at the attacker's pids limit (512), and the other student's hosts
  keep answering: healthy, a new process on its attacker, a command round trip through
  its mission control;
- a memory hog is OOM-killed inside the attacker's own cgroup: the container's memory
  limit holds, the attacker itself keeps running and answering;
- CPU burners get at most the attacker's one CPU, and the other student's nominal
  operations (a command through mission control, executed on board) still work.

Each attack is cleaned up with ``labctl restart`` (recovery in place), which must not
need a container restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from live import (
    FIFTY_FORKS,
    FORK_BOMB,
    bounded_exec,
    eventually,
    login,
    mission_control_url,
    pids,
    send,
    start_detached,
    tc_replay_instance,
    truth,
)

from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances
from labctl.instances.restart import restart_host

# The CPU burners take one of the machine's CPUs: the pass-driven selftests, which a loaded
# machine upsets, wait in the same xdist group (tests/conftest.py).
pytestmark = [pytest.mark.docker, pytest.mark.machine_load]
MIB = 1024 * 1024
#: Allocates and touches 32 MiB at a time until something stops it.
MEMORY_HOG = (
    "python3",
    "-c",
    "chunks = []\nwhile True:\n    chunks.append(b'x' * (32 << 20))",
)
#: Four busy loops (the attacker has one CPU; the machine two).
CPU_BURNERS = ("bash", "-c", "for i in 1 2 3 4; do (while :; do :; done) & done; wait")
#: Share of a CPU a container may exceed its limit by in one second's sample.
CPU_SLACK = 0.15


@pytest.fixture(scope="module")
def pair(
    lab_backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[tuple[Instances, InstanceRecord], InstanceRecord, str]]:
    """(the noisy student's manager and instance, the quiet student's, its mission
    control's URL)."""
    with ExitStack() as stack:
        noisy = stack.enter_context(
            tc_replay_instance(lab_backend, tmp_path_factory.mktemp("noisy"), "noisy")
        )
        _, quiet = stack.enter_context(
            tc_replay_instance(lab_backend, tmp_path_factory.mktemp("quiet"), "quiet")
        )
        yield noisy, quiet, mission_control_url(quiet)


@pytest.fixture
def noisy(
    pair: tuple[tuple[Instances, InstanceRecord], InstanceRecord, str],
) -> Iterator[tuple[Instances, InstanceRecord]]:
    """The noisy student's instance; whatever the test started there is ended after it,
    in place."""
    manager, record = pair[0]
    yield manager, record
    outcome = restart_host(manager, record.id)
    assert not outcome.restarted, outcome.summary


def _others_work(backend: DockerBackend, quiet: InstanceRecord, url: str) -> None:
    """The quiet student's instance works: every host healthy, a new process on its
    attacker, a command through mission control executed on board."""
    sick = [h for h in backend.status(quiet.id) if h.health not in {"healthy", "none"}]
    assert sick == [], sick
    forks = bounded_exec(backend, quiet.id, "attacker", FIFTY_FORKS, user="student", seconds=30)
    assert forks is not None, "the other student's attacker does not answer"
    assert "forks failed: 0" in forks.output, forks.output
    executed = len(truth(backend, quiet)["executed_commands"])
    assert send(login(url), "PING")["status"] == "completed"
    assert len(truth(backend, quiet)["executed_commands"]) == executed + 1


def test_a_fork_bomb_stops_at_the_pids_limit_and_the_others_keep_answering(
    lab_backend: DockerBackend,
    pair: tuple[Any, InstanceRecord, str],
    noisy: tuple[Instances, InstanceRecord],
) -> None:
    _, record = noisy
    start_detached(lab_backend, record.id, "attacker", FORK_BOMB)
    limit = pids(lab_backend, record.id, "attacker")[1]
    assert limit == 512
    eventually(
        lambda: pids(lab_backend, record.id, "attacker")[0] >= limit - 8,
        30,
        "the fork bomb at the pids limit",
    )
    _others_work(lab_backend, pair[1], pair[2])  # while the bomb runs
    seen = [pids(lab_backend, record.id, "attacker")[0] for _ in range(3)]
    assert max(seen) <= limit, seen


def _memory(backend: DockerBackend, ident: str) -> dict[str, Any]:
    stats: dict[str, Any] = backend.container(ident, "attacker").stats(stream=False)
    memory: dict[str, Any] = stats["memory_stats"]
    return memory


def test_a_memory_hog_is_oom_killed_inside_its_own_cgroup(
    lab_backend: DockerBackend,
    pair: tuple[Any, InstanceRecord, str],
    noisy: tuple[Instances, InstanceRecord],
) -> None:
    _, record = noisy
    container = lab_backend.container(record.id, "attacker")
    limit = int(container.attrs["HostConfig"]["Memory"])
    assert limit == 768 * MIB
    assert int(container.attrs["HostConfig"]["MemorySwap"]) == limit  # no swap to spill to

    hog = bounded_exec(lab_backend, record.id, "attacker", MEMORY_HOG, user="student", seconds=120)

    assert hog is not None, "the memory hog was not stopped within 120 s"
    assert hog.exit_code == 137, hog  # SIGKILL: the OOM killer, inside the container
    memory = _memory(lab_backend, record.id)
    assert memory["limit"] == limit
    if "max_usage" in memory:  # cgroup v1 keeps the high-water mark
        assert limit - 8 * MIB <= memory["max_usage"] <= limit, memory["max_usage"]
    container.reload()
    assert container.attrs["State"]["Running"], "the attacker itself went down"
    alive = lab_backend.exec(record.id, "attacker", ["echo", "alive"], user="student")
    assert alive.output.strip() == "alive"
    assert next(h for h in lab_backend.status(record.id) if h.host == "attacker").health == (
        "healthy"
    )
    _others_work(lab_backend, pair[1], pair[2])


def _cpus_used(backend: DockerBackend, ident: str, host: str) -> float:
    """CPUs the host used over the engine's one-second sample."""
    stats = backend.container(ident, host).stats(stream=False)
    cpu, before = stats["cpu_stats"], stats["precpu_stats"]
    used = cpu["cpu_usage"]["total_usage"] - before["cpu_usage"]["total_usage"]
    system = cpu["system_cpu_usage"] - before.get("system_cpu_usage", 0)
    return float(used) / float(system) * float(cpu.get("online_cpus", 1)) if system else 0.0


def _cpu_seconds(backend: DockerBackend, ident: str, host: str) -> float:
    """CPU time the container has used since it started, in seconds."""
    stats = backend.container(ident, host).stats(stream=False)
    return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def test_cpu_burners_get_one_cpu_and_the_others_operations_still_work(
    lab_backend: DockerBackend,
    pair: tuple[Any, InstanceRecord, str],
    noisy: tuple[Instances, InstanceRecord],
) -> None:
    _, record = noisy
    nano_cpus = lab_backend.container(record.id, "attacker").attrs["HostConfig"]["NanoCpus"]
    assert nano_cpus == 1_000_000_000
    start_detached(lab_backend, record.id, "attacker", CPU_BURNERS)
    used = eventually(
        lambda: _cpus_used(lab_backend, record.id, "attacker") > 0.5 or None,
        30,
        "the burners at work",
    )
    assert used
    samples = [_cpus_used(lab_backend, record.id, "attacker") for _ in range(3)]
    assert max(samples) <= 1.0 + CPU_SLACK, samples
    before = _cpu_seconds(lab_backend, record.id, "attacker")
    started = time.monotonic()
    _others_work(lab_backend, pair[1], pair[2])  # while they burn
    # Still burning meanwhile: the burners' CPU time grew through the others' work. (How
    # much depends on the other tests sharing this machine's two CPUs, so no share is
    # asserted here; the cap above is.)
    burned = _cpu_seconds(lab_backend, record.id, "attacker") - before
    assert burned > 0.1 * (time.monotonic() - started), burned
