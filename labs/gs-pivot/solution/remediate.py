"""Reference remediation for gs-pivot, run on the workstation as the student once the
defence phase is open, through the student's own access only: the station's
operations-engineer account (``ssh ops@ground-station``, password from
~/ground-station.txt), whose sudo rules grant sudoedit of sshd's drop-ins,
``labctl-service`` and the host firewall.

1. Segment the packet service: only mission control (its address on the ground network,
   as the station resolves it) and the station itself may open TCP 10025; everything else
   -- the corporate network, the RF segment -- is dropped. Mission control's link is an
   established connection and stays up.
2. Retire the shared maintenance login: a drop-in read before the lab's ``50-lab.conf``
   (sshd keeps the first value it reads) turns password and keyboard-interactive logins
   off and denies `gsmaint` outright, then ``sudo labctl-service reload-ssh``. Last,
   because this engineer logs in by password (a real one installs a key first:
   ``ssh-copy-id ops@ground-station``).
"""

from __future__ import annotations

import ipaddress
import sys

from labctl.range.opsclient import OpsError, OpsSession

PORT = "10025"
MISSION_CONTROL = "mission-control"
RETIRE = "/etc/ssh/sshd_config.d/00-segmented.conf"
RETIRE_TEXT = (
    "# gs-pivot: no passwords from any network; the vendor's shared login is retired.\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "DenyUsers gsmaint\n"
)


def mission_control_address(ops: OpsSession) -> str:
    """Mission control's IPv4 address as the station resolves it (the ground network)."""
    answer = ops.run("getent", "ahostsv4", MISSION_CONTROL).split()
    if not answer:
        raise OpsError(f"{MISSION_CONTROL} does not resolve on the station")
    return str(ipaddress.IPv4Address(answer[0]))


def main() -> int:
    try:
        with OpsSession.from_file("ground-station") as ops:
            mc = mission_control_address(ops)
            print(f"{MISSION_CONTROL} is {mc} on the ground network")
            rules = [
                ["-s", mc, "-j", "ACCEPT"],
                ["-i", "lo", "-j", "ACCEPT"],
                ["-j", "DROP"],
            ]
            for rule in rules:
                ops.sudo("iptables", "-A", "INPUT", "-p", "tcp", "--dport", PORT, *rule)
            print(ops.sudo("iptables", "-S", "INPUT").strip())

            print(ops.write(RETIRE, RETIRE_TEXT).strip() or f"{RETIRE} written")
            print(ops.sudo("labctl-service", "reload-ssh").strip())
    except (OpsError, ValueError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
