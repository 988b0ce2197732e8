"""`labctl restart` (and `labctl session restart`): a host recovered in place when it can
be, its container restarted only when not (or with --hard), every restart an event; on
the in-memory backend, through the real root app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from instance_fakes import MemoryBackend
from typer.testing import Result

from labctl.errors import LabctlError, NotFoundError
from labctl.instances import Instances, InstanceStore
from labctl.instances.restart import restart_host
from labctl.spec import LoadedLab

REPO = Path(__file__).resolve().parents[2]
Invoke = Callable[..., Result]


@pytest.fixture
def instances(memory_backend: MemoryBackend, store: InstanceStore) -> Instances:
    return Instances(memory_backend, store)


def _restarts(instances: Instances, ident: str) -> list[tuple[str, str]]:
    return [(e.host, e.summary) for e in instances.store.events(ident) if e.kind == "restart"]


def test_a_runaway_attacker_is_recovered_in_place_and_recorded(
    instances: Instances, replay_lab: LoadedLab
) -> None:
    record = instances.up(replay_lab, "ana", seed=1)
    outcome = restart_host(instances, record.id)
    assert outcome.host == "attacker"
    assert not outcome.restarted
    assert MemoryBackend.recoveries == [(record.id, "attacker")]
    assert MemoryBackend.restarts == []  # the container kept its tmpfs mounts
    assert outcome.summary == (
        "recovered in place: ended every process of student (512 → 3 processes, limit 512);"
        " files kept"
    )
    assert _restarts(instances, record.id) == [("attacker", outcome.summary)]


def test_when_recovery_in_place_fails_the_container_is_restarted_and_says_what_is_lost(
    instances: Instances, replay_lab: LoadedLab
) -> None:
    record = instances.up(replay_lab, "ana", seed=1)
    MemoryBackend.recover_ready = False
    outcome = restart_host(instances, record.id, "attacker")
    assert outcome.restarted
    assert MemoryBackend.restarts == [(record.id, "attacker")]
    assert outcome.summary == (
        "not recovered in place (512 of 512 processes still in use): container restarted;"
        " what /home/student, /tmp held is gone"
    )
    assert _restarts(instances, record.id) == [("attacker", outcome.summary)]


def test_hard_restarts_the_container_without_trying_in_place(
    instances: Instances, replay_lab: LoadedLab
) -> None:
    record = instances.up(replay_lab, "ana", seed=1)
    outcome = restart_host(instances, record.id, "mission-control", hard=True)
    assert outcome.restarted
    assert outcome.recovery is None
    assert MemoryBackend.recoveries == []
    assert MemoryBackend.restarts == [(record.id, "mission-control")]
    assert "--hard" in _restarts(instances, record.id)[0][1]


def test_a_host_without_login_users_is_left_alone_when_ready(
    instances: Instances, replay_lab: LoadedLab
) -> None:
    record = instances.up(replay_lab, "ana", seed=1)
    outcome = restart_host(instances, record.id, "spacecraft")
    assert not outcome.restarted
    assert outcome.summary.startswith("ready, nothing to end: the host has no login users")


def test_only_a_recorded_running_instance_and_a_host_of_it(
    instances: Instances, replay_lab: LoadedLab
) -> None:
    with pytest.raises(NotFoundError, match="no instance named 'nope'"):
        restart_host(instances, "nope")
    record = instances.up(replay_lab, "ana", seed=1)
    with pytest.raises(NotFoundError, match="no host named 'radar'"):
        restart_host(instances, record.id, "radar")
    instances.store.update(record.id, status="starting")
    with pytest.raises(LabctlError, match="is starting, not running"):
        restart_host(instances, record.id)
    assert instances.store.events(record.id) == [
        e for e in instances.store.events(record.id) if e.kind != "restart"
    ]


@pytest.fixture
def run(cli: Invoke) -> Invoke:
    return cli


def test_cli_restart_defaults_to_the_attacker_and_says_what_it_did(run: Invoke) -> None:
    assert run("up", "tc-replay", "--student", "ana", "--seed", "1").exit_code == 0
    result = run("restart", "tc-replay-ana")
    assert result.exit_code == 0, result.output
    assert "attacker of tc-replay-ana: recovered in place" in result.stdout
    assert "files kept" in result.stdout
    MemoryBackend.recover_ready = False
    result = run("restart", "tc-replay-ana", "attacker")
    assert result.exit_code == 0, result.output
    assert "container restarted" in result.stdout
    assert "what /home/student, /tmp held is gone" in result.stdout


def test_cli_session_restart_finds_the_students_instance(run: Invoke) -> None:
    roster = str(REPO / "docs/examples/roster.csv")
    assert run("session", "start", "tc-replay", "--roster", roster, "-j", "2").exit_code == 0
    result = run("session", "restart", "roster", "bo.chen")
    assert result.exit_code == 0, result.output
    assert "attacker of tc-replay-roster-bo-chen: recovered in place" in result.stdout
    assert MemoryBackend.recoveries == [("tc-replay-roster-bo-chen", "attacker")]
    result = run("session", "restart", "roster", "bo.chen", "ground-station", "--hard")
    assert result.exit_code == 0, result.output
    assert MemoryBackend.restarts == [("tc-replay-roster-bo-chen", "ground-station")]
    assert run("session", "restart", "roster", "nobody").exit_code == 3


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["restart", ""], "INSTANCE"),
        (["restart", "tc-replay-ana", " "], "HOST"),
        (["session", "restart", "", "ana"], "SESSION"),
        (["session", "restart", "roster", " "], "STUDENT"),
    ],
)
def test_cli_restart_refuses_blank_names_in_one_line(
    run: Invoke, args: list[str], named: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_cli_restart_of_an_unknown_instance_or_host_is_one_line(run: Invoke) -> None:
    result = run("restart", "nope")
    assert result.exit_code == 3
    assert result.output.strip().splitlines() == [
        "error: no instance named 'nope'; no instance is running"
    ]
    assert run("up", "tc-replay", "--student", "ana", "--seed", "1").exit_code == 0
    result = run("restart", "tc-replay-ana", "radar")
    assert result.exit_code == 3
    assert "no host named 'radar'" in result.output
