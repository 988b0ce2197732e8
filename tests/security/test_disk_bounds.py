"""A student cannot fill the engine's disk (issue 12's attacks, from the student's shell).

- Container output: as root on the attacker, 200 MB written to PID 1's stdout grew the
  engine's json log by 420 MB. Every container's log is now rotated (3 × 1 MiB).
- The student's home, /tmp and /var/tmp on the attacker: `dd` of 2 GiB into $HOME cost the
  engine 2 GiB. They are now size-bounded tmpfs mounts, charged to the container's own
  memory limit: the write stops at the mount's size and the engine's disk does not move.
  The rest of the attacker's root file system is read-only, for root (sudo) too.
- The ground station's sshd log: every failed login of a brute force was a line in a file
  on the writable layer; it now goes to the container's (rotated) output.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import tc_replay_instance

from labctl.backends.docker import DockerBackend

pytestmark = pytest.mark.docker

MIB = 1024 * 1024
#: Rotated json logs: 3 files of at most 1 MiB (labctl.backends.docker.LOG_CONFIG), plus
#: one line of slack per file.
LOG_BOUND = 3 * MIB + 64 * 1024
#: Run on the attacker: three wrong passwords for the ground station's operator account.
FAILED_LOGINS = """
import paramiko
for attempt in range(3):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect("ground-station", username="operator", password=f"wrong{attempt}",
                       timeout=5, allow_agent=False, look_for_keys=False)
        print("accepted")
    except paramiko.AuthenticationException:
        print("refused")
    finally:
        client.close()
"""


@pytest.fixture
def instance(lab_backend: DockerBackend, tmp_path: Path) -> Iterator[str]:
    with tc_replay_instance(lab_backend, tmp_path, "diskfill") as (_, record):
        yield record.id


def _log_bytes(lab_backend: DockerBackend, ident: str, host: str) -> int:
    container = lab_backend.container(ident, host)
    container.reload()
    path = Path(container.attrs["LogPath"])
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))


def _engine_free_bytes(lab_backend: DockerBackend) -> int:
    root = str(lab_backend.client.info()["DockerRootDir"])
    return shutil.disk_usage(root).free


def test_a_root_student_writing_to_the_container_output_stays_within_its_log_bound(
    lab_backend: DockerBackend, instance: str
) -> None:
    result = lab_backend.exec(
        instance,
        "attacker",
        ["sh", "-c", "yes labctl-log-flood | head -c 50000000 > /proc/1/fd/1; echo done"],
        user="root",
    )
    assert "done" in result.output
    assert _log_bytes(lab_backend, instance, "attacker") <= LOG_BOUND


@pytest.mark.parametrize(
    ("path", "bound_mib"), [("/home/student", 256), ("/tmp", 64), ("/var/tmp", 64)]
)
def test_filling_a_place_the_student_writes_stops_at_its_size_not_the_engines_disk(
    lab_backend: DockerBackend, instance: str, path: str, bound_mib: int
) -> None:
    free_before = _engine_free_bytes(lab_backend)
    result = lab_backend.exec(
        instance,
        "attacker",
        [
            "sh",
            "-c",
            f"dd if=/dev/zero of={path}/fill bs=1M count={bound_mib + 64} 2>&1; "
            f"stat -c %s {path}/fill; rm -f {path}/fill",
        ],
        user="student",
    )
    assert "No space left on device" in result.output, result.output
    written = int(result.output.strip().splitlines()[-1])
    assert written <= bound_mib * MIB
    # The engine's disk did not pay for it (tmpfs is the container's memory): allow for
    # other tests writing meanwhile, but not for the bound itself.
    assert free_before - _engine_free_bytes(lab_backend) < bound_mib * MIB // 2


@pytest.mark.parametrize(
    "path", ["/fill", "/var/fill", "/etc/hosts", "/opt/fill", "/usr/local/share/labctl/home/fill"]
)
def test_root_on_the_attacker_cannot_write_outside_the_sized_mounts(
    lab_backend: DockerBackend, instance: str, path: str
) -> None:
    result = lab_backend.exec(
        instance,
        "attacker",
        ["sudo", "sh", "-c", f"dd if=/dev/zero of={path} bs=1M count=1 conv=notrunc 2>&1"],
        user="student",
    )
    assert "Read-only file system" in result.output, result.output


def test_an_account_on_the_ground_station_fills_only_its_sized_home(
    lab_backend: DockerBackend, instance: str
) -> None:
    """A login account there (an operator account a student broke into, say) writes to
    its home, /tmp, /var/tmp and /run/lock: all sized tmpfs; the home comes back empty
    from /etc/skel after a restart."""
    made = lab_backend.exec(instance, "ground-station", ["useradd", "-m", "opsfill"])
    assert made.exit_code == 0, made.output
    filled = lab_backend.exec(
        instance,
        "ground-station",
        ["sh", "-c", "dd if=/dev/zero of=$HOME/fill bs=1M count=64 2>&1; stat -c %s $HOME/fill"],
        user="opsfill",
    )
    assert "No space left on device" in filled.output, filled.output
    assert int(filled.output.strip().splitlines()[-1]) <= 32 * MIB
    lab_backend.restart(instance, "ground-station")
    home = lab_backend.exec(
        instance,
        "ground-station",
        ["stat", "-c", "%U %a", "/home/opsfill", "/home/opsfill/.bashrc"],
    )
    assert home.output.split() == ["opsfill", "750", "opsfill", "644"], home.output
    gone = lab_backend.exec(instance, "ground-station", ["test", "-e", "/home/opsfill/fill"])
    assert gone.exit_code != 0


def test_a_brute_force_on_the_ground_station_grows_no_file_on_its_disk(
    lab_backend: DockerBackend, instance: str
) -> None:
    wrong = lab_backend.exec(instance, "attacker", ["python3", "-c", FAILED_LOGINS], user="student")
    assert wrong.output.split()[-3:] == ["refused"] * 3, wrong.output
    gone = lab_backend.exec(instance, "ground-station", ["test", "-e", "/var/log/sshd.log"])
    assert gone.exit_code != 0, "sshd still logs to a file on the writable layer"
    assert "Failed password for" in lab_backend.logs(instance, "ground-station", tail=50)


def test_the_students_home_is_filled_at_start_and_belongs_to_the_student(
    lab_backend: DockerBackend, instance: str
) -> None:
    listing = lab_backend.exec(
        instance, "attacker", ["stat", "-c", "%U %a", "/home/student", "/home/student/.bashrc"]
    )
    assert listing.output.split() == ["student", "755", "student", "644"]
