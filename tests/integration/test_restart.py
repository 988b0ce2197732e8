"""`labctl restart` on the real engine: a student's fork bomb, held by the attacker's pids
limit, leaves the student's own shell unusable; the restart recovers the attacker in place.
The student's files in the home and /tmp (tmpfs mounts, which a container restart would
empty) are still there, no container of the instance was restarted, and another
student's instance kept working throughout (a command round trip through its mission
control while the bomb ran)."""

from __future__ import annotations

from pathlib import Path

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
    started_at,
    tc_replay_instance,
)

from labctl.backends.docker import DockerBackend
from labctl.instances.restart import restart_host

pytestmark = pytest.mark.docker
WORK = "echo chapter-one > /home/student/notes.txt && echo draft > /tmp/draft.txt"
#: An exec that has not returned in this long counts as blocked.
BLOCKED_S = 10.0


def test_a_fork_bomb_is_recovered_in_place_keeping_the_students_work(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    with (
        tc_replay_instance(lab_backend, tmp_path / "a", "rstbomb") as (manager, record),
        tc_replay_instance(lab_backend, tmp_path / "b", "rstother") as (_, other),
    ):
        ident = record.id
        work = lab_backend.exec(ident, "attacker", ["sh", "-c", WORK], user="student")
        assert work.exit_code == 0, work.output
        before, other_before = started_at(lab_backend, ident), started_at(lab_backend, other.id)
        other_url = mission_control_url(other)

        start_detached(lab_backend, ident, "attacker", FORK_BOMB)
        limit = pids(lab_backend, ident, "attacker")[1]
        eventually(
            lambda: pids(lab_backend, ident, "attacker")[0] >= limit - 8,
            30,
            "the fork bomb at the attacker's pids limit",
        )
        assert pids(lab_backend, ident, "attacker")[0] <= limit  # the limit holds
        blocked = bounded_exec(
            lab_backend, ident, "attacker", FIFTY_FORKS, user="student", seconds=BLOCKED_S
        )
        # the student's shell is unusable: processes cannot be created (or the exec hangs)
        assert blocked is None or "forks failed: 0" not in blocked.output, blocked
        # another student's instance works meanwhile: a command through its mission control
        assert send(login(other_url), "PING")["status"] == "completed"

        outcome = restart_host(manager, ident)

        assert not outcome.restarted, outcome.summary
        assert outcome.summary.startswith("recovered in place: ended every process of student")
        again = bounded_exec(
            lab_backend, ident, "attacker", FIFTY_FORKS, user="student", seconds=BLOCKED_S
        )
        assert again is not None, "the student's shell is still blocked"
        assert again.exit_code == 0, again.output
        assert "forks failed: 0" in again.output
        files = lab_backend.exec(
            ident, "attacker", ["cat", "/home/student/notes.txt", "/tmp/draft.txt"], user="student"
        )
        assert files.output.split() == ["chapter-one", "draft"]
        assert started_at(lab_backend, ident) == before  # no host restarted, the attacker neither
        assert started_at(lab_backend, other.id) == other_before
        assert pids(lab_backend, ident, "attacker")[0] < 16
        events = [e for e in manager.store.events(ident) if e.kind == "restart"]
        assert [(e.host, e.summary) for e in events] == [("attacker", outcome.summary)]
        assert send(login(other_url), "PING")["status"] == "completed"
