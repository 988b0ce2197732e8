"""A student's typing mistake in a host's configuration on the real engine: the host keeps
running (so a shell can reach it to fix the file), says what is wrong, and is healthy again
once the file is fixed — instead of a container restarting in a loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from live import eventually, tc_replay_instance

from labctl.backends.docker import DockerBackend

pytestmark = pytest.mark.docker
CONFIG = "/etc/labctl/rf-link.yaml"


def test_a_bad_key_keeps_the_host_reachable_until_it_is_fixed(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    with tc_replay_instance(lab_backend, tmp_path, "badcfg") as (_, record):
        good = lab_backend.copy_from(record.id, "rf-link", CONFIG)
        broken = good + b"\nno_such_key: 1\n"
        append = ["sh", "-c", f"printf '\\nno_such_key: 1\\n' >> {CONFIG} && kill 1"]
        assert lab_backend.exec(record.id, "rf-link", append, user="labctl").exit_code == 0

        def waiting() -> str | None:
            logs = lab_backend.logs(record.id, "rf-link", tail=20)
            return logs if "waiting for" in logs else None

        logs = eventually(waiting, 60, "rf-link waits for its configuration")
        assert "no_such_key" in logs
        # Still reachable: a shell can fix the file, and the program starts again by itself.
        assert lab_backend.copy_from(record.id, "rf-link", CONFIG) == broken
        fix = ["sh", "-c", f"sed -i '/^no_such_key: 1$/d' {CONFIG}"]
        assert lab_backend.exec(record.id, "rf-link", fix, user="labctl").exit_code == 0

        def healthy() -> bool:
            return any(
                s.host == "rf-link" and s.health == "healthy" for s in lab_backend.status(record.id)
            )

        eventually(healthy, 90, "rf-link healthy after the fix")
