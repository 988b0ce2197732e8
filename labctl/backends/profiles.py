"""How each host role is confined: capabilities, root file system, volumes, limits, ports.

Every container starts from ``cap_drop=ALL``; a role gets back only what its programs were
shown to need (measured on Docker 20.10, see docs/backends.md):

- OpenSSH's sshd needs CHOWN (pty ownership), SETUID and SETGID (switching to the user),
  SYS_CHROOT (privilege-separation chroot), NET_BIND_SERVICE (port 22) and AUDIT_WRITE
  (PAM's login records: without it every session is closed at once). FOWNER lets root
  manage other users' files (``useradd`` of an operator account fails without it); KILL
  lets root signal the daemon that runs as another user.
- The ground station adds NET_ADMIN, so students can firewall it (iptables/nftables), and
  DAC_OVERRIDE: files there belong to the daemon's user. Its operations engineers (group
  ``labops``) use setuid ``sudo`` for a few commands (containers/ground-station/
  sudoers-labops), so no-new-privileges is off there as on the attacker.
- The attacker adds NET_RAW and NET_ADMIN (scapy, nmap SYN scans, tcpdump) and
  DAC_OVERRIDE for a root shell that behaves as students expect; it keeps setuid ``sudo``,
  so no-new-privileges is off there.
- The Python services (spacecraft, rf-link) run as the unprivileged ``labctl`` user on
  high ports and need no capability at all, on a read-only root file system; what they or
  the lab's injects write lives on per-instance volumes. Mission control's server runs
  the same way, but its container also runs sshd for operations engineers (SSHD_CAPS,
  DAC_OVERRIDE, setuid sudo, a size-limited writable root for the accounts a lab adds).
- The gateway (labctl-forward, see labctl.instances.plan) is a TCP relay: nothing.

``published`` lists the ports a role offers to the student's machine; the plan has the
gateway publish them on 127.0.0.1, the host itself publishes nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import labctl
from labctl.backends.base import Limits
from labctl.errors import InputError
from labctl.range import wiring

SSHD_CAPS: Final = (
    "CHOWN",
    "SETUID",
    "SETGID",
    "SYS_CHROOT",
    "NET_BIND_SERVICE",
    "AUDIT_WRITE",
    "FOWNER",
    "KILL",
)
SERVICE_VOLUMES: Final = ("/etc/labctl", "/var/lib/labctl", "/var/log/labctl")
#: uid/gid of the ``labctl`` user in containers/runtime/Dockerfile.
SERVICE_UID: Final = 10001
_TMP: Final = "mode=1777,size=64m"
#: The services write /run/labctl (ground truth) as the labctl user.
SERVICE_TMPFS: Final = {
    "/run": f"uid={SERVICE_UID},gid={SERVICE_UID},mode=0755,size=16m",
    "/tmp": _TMP,
}
ROOT_TMPFS: Final = {"/run": "mode=0755,size=16m", "/tmp": _TMP, "/var/tmp": _TMP}
#: The ground station's login accounts (an operator account a student breaks into, say)
#: write only to their homes and the tmpfs above: homes on a sized tmpfs too, given back
#: from /etc/skel at every start by the entrypoint.
GROUND_STATION_TMPFS: Final = {**ROOT_TMPFS, "/home": "mode=0755,size=32m"}
#: The student's home on the attacker: a tmpfs, so filling it costs the container's own
#: memory (inside its limit), never the engine's disk. The entrypoint fills it at every
#: start from /etc/skel and HOME_SEED, where labs put files for the student.
STUDENT_UID: Final = 1000
HOME_SEED: Final = wiring.HOME_SEED
ATTACKER_TMPFS: Final = {
    **ROOT_TMPFS,
    "/home/student": f"uid={STUDENT_UID},gid={STUDENT_UID},mode=0755,size=256m",
    "/root": "mode=0700,size=16m",
    "/var/log": "mode=0755,size=16m",  # sshd's login records
}


@dataclass(frozen=True)
class RoleProfile:
    capabilities: tuple[str, ...]
    limits: Limits
    read_only: bool
    no_new_privileges: bool
    volumes: tuple[str, ...]
    #: Ports offered to the student's machine (through the gateway, on 127.0.0.1).
    published: tuple[str, ...] = ()
    tmpfs: Mapping[str, str] = field(default_factory=lambda: dict(SERVICE_TMPFS))
    #: Of ``volumes``, those mounted read-only (labctl writes them before the start).
    read_only_volumes: tuple[str, ...] = ()


_SERVICE_LIMITS: Final = Limits(memory_mib=160, cpus=0.5, pids=64)

PROFILES: Final[dict[str, RoleProfile]] = {
    "spacecraft": RoleProfile((), _SERVICE_LIMITS, True, True, SERVICE_VOLUMES),
    "rf-link": RoleProfile((), _SERVICE_LIMITS, True, True, SERVICE_VOLUMES),
    # The remote log collector: its store is a volume (append-only, only it writes there).
    "log-server": RoleProfile((), _SERVICE_LIMITS, True, True, SERVICE_VOLUMES),
    # Its operations engineers log in over SSH (sshd as on the ground station) and use
    # sudo for their few commands; the server itself runs as labctl, from a volume.
    "mission-control": RoleProfile(
        (*SSHD_CAPS, "DAC_OVERRIDE"),
        Limits(memory_mib=256, cpus=0.5, pids=96, writable_mib=256),
        read_only=False,  # accounts a lab adds (useradd), host keys
        no_new_privileges=False,  # sudo is setuid: the labops group's limited rules
        volumes=SERVICE_VOLUMES,
        published=("8080/tcp",),
        tmpfs=GROUND_STATION_TMPFS,
    ),
    "ground-station": RoleProfile(
        (*SSHD_CAPS, "DAC_OVERRIDE", "NET_ADMIN"),
        Limits(memory_mib=256, cpus=0.5, pids=128, writable_mib=512),
        read_only=False,  # students harden it: sshd_config, keys, firewall, accounts
        no_new_privileges=False,  # sudo is setuid: the labops group's limited rules
        volumes=(),
        tmpfs=GROUND_STATION_TMPFS,
    ),
    # labctl-forward: a TCP relay, the only container on the access network.
    "gateway": RoleProfile(
        (),
        Limits(memory_mib=48, cpus=0.25, pids=16),
        read_only=True,
        no_new_privileges=True,
        volumes=(),
    ),
    "attacker": RoleProfile(
        (*SSHD_CAPS, "DAC_OVERRIDE", "NET_RAW", "NET_ADMIN"),
        Limits(memory_mib=768, cpus=1.0, pids=512),
        # The student has root here (sudo): a writable root would let them fill the
        # engine's disk. Everything they write lands on the sized tmpfs mounts above,
        # inside the container's memory limit (docs/security.md).
        read_only=True,
        no_new_privileges=False,  # sudo is setuid
        volumes=(HOME_SEED,),
        read_only_volumes=(HOME_SEED,),
        published=("22/tcp",),
        tmpfs=ATTACKER_TMPFS,
    ),
}


def profile(role: str) -> RoleProfile:
    """The profile of ``role``; unknown roles get the strictest one (no capability)."""
    return PROFILES.get(role, PROFILES["spacecraft"])


IMAGE_TAG_VARIABLE = "LABCTL_IMAGE_TAG"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def image_tag(role: str) -> str:
    """The image a role runs: ``labctl/<role>:<labctl version>``.

    ``LABCTL_IMAGE_TAG`` replaces the version, so two source trees on one engine (a
    developer's branch next to a CI run) build and run their own images side by side.
    """
    tag = os.environ.get(IMAGE_TAG_VARIABLE, "").strip() or labctl.__version__
    if not _TAG.fullmatch(tag):
        raise InputError(
            f"{IMAGE_TAG_VARIABLE}={tag!r} is not a Docker tag: use letters, digits, '_', '.'"
            " and '-' (at most 128, not starting with '.' or '-')"
        )
    return f"labctl/{role}:{tag}"
