"""Where a logged-in student's own instance is reached from the portal's machine.

The portal runs beside the engine, outside every lab network; it reaches a student's
instance only through what the instance's gateway publishes on the server's loopback
(the workstation's sshd, mission control's web server), with the student's own
credentials. Everything that forwards a student somewhere (the web terminal, the SSH
entry point, the mission-control proxy) asks :func:`target_of` and nothing else, so no
route can lead a student to another student's instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.errors import LabctlError
from labctl.instances import InstanceRecord

ATTACKER = "attacker"
MISSION_CONTROL = "mission-control"
STUDENT_USER = "student"
LOOPBACK = "127.0.0.1"


class Unreachable(LabctlError):
    """The instance has no such way in right now (not running, or the lab has no such host)."""


@dataclass(frozen=True)
class StudentTarget:
    """One student's ways into their own instance, from the portal's machine."""

    instance: str
    student: str
    #: the attacker workstation's sshd (published by the gateway), and the student's login
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_password: str
    #: mission control's web server (``http://127.0.0.1:PORT``), or "" when the lab has none
    mission_control: str


def target_of(record: InstanceRecord) -> StudentTarget:
    """The ways into ``record``'s instance; :class:`Unreachable` when it has no workstation."""
    ssh = record.ports.get(ATTACKER, {}).get("22/tcp")
    if ssh is None:
        raise Unreachable(f"instance {record.id} publishes no workstation (status {record.status})")
    web = record.ports.get(MISSION_CONTROL, {}).get("8080/tcp")
    return StudentTarget(
        instance=record.id,
        student=record.student,
        ssh_host=LOOPBACK,
        ssh_port=ssh,
        ssh_user=STUDENT_USER,
        ssh_password=record.access.get("password", ""),
        mission_control=f"http://{LOOPBACK}:{web}" if web else "",
    )
